import type { StatsState } from '../telemetry/stats.js';

/**
 * What the primary and the workers of a cluster (WORKERS > 1) tell each other over the IPC
 * channel. Tagged `llmo` so they never mix with prom-client's own cluster messages.
 */
export type ClusterMessage =
  /** worker -> primary: serving on this port. */
  | { readonly llmo: 'ready'; readonly port: number }
  /** worker -> primary: a GetStats or WatchStats wants every worker's counters. */
  | { readonly llmo: 'stats-request'; readonly id: number }
  /** primary -> every worker: send your counters. */
  | { readonly llmo: 'stats-collect'; readonly id: number }
  /** worker -> primary: my counters. */
  | { readonly llmo: 'stats-state'; readonly id: number; readonly state: StatsState }
  /** primary -> the asking worker: every worker's counters (`missing`: workers that did not answer in time). */
  | { readonly llmo: 'stats-result'; readonly id: number; readonly states: readonly StatsState[]; readonly missing: number };

export function isClusterMessage(message: unknown): message is ClusterMessage {
  return typeof message === 'object' && message !== null && typeof (message as { llmo?: unknown }).llmo === 'string';
}
