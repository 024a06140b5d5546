import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import type { StatsState } from '../telemetry/stats.js';

/** One worker's metrics as prom-client's `Registry.getMetricsAsJSON()` gives them. */
export type WorkerMetrics = MetricObjectWithValues<MetricValue<string>>[];

/**
 * What the primary and the workers of a cluster (WORKERS > 1) tell each other over the IPC
 * channel. Tagged `llmo` so they never mix with other libraries' cluster messages.
 */
export type ClusterMessage =
  /** worker -> primary: serving on this port. */
  | { readonly llmo: 'ready'; readonly port: number }
  /** worker -> primary: a GetStats or WatchStats wants every worker's counters. */
  | { readonly llmo: 'stats-request'; readonly id: number }
  /** primary -> every serving worker: send your counters (stats) or your metrics. */
  | { readonly llmo: 'collect'; readonly id: number; readonly what: 'stats' | 'metrics' }
  /** worker -> primary: my counters. */
  | { readonly llmo: 'stats-state'; readonly id: number; readonly state: StatsState }
  /** worker -> primary: my metrics. */
  | { readonly llmo: 'metrics-state'; readonly id: number; readonly metrics: WorkerMetrics }
  /** primary -> the asking worker: every worker's counters (`missing`: workers that did not answer in time). */
  | { readonly llmo: 'stats-result'; readonly id: number; readonly states: readonly StatsState[]; readonly missing: number };

export function isClusterMessage(message: unknown): message is ClusterMessage {
  return typeof message === 'object' && message !== null && typeof (message as { llmo?: unknown }).llmo === 'string';
}
