import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import { roundUsd } from '../domain/money.js';
import { BREAKER_STATE_METRIC, BREAKER_STATES, USD_METRICS } from '../telemetry/metrics.js';
import type { WorkerMetrics } from './messages.js';

/** What prom-client registers for each aggregated metric: its values, read at exposition. */
interface AggregatedMetric {
  get(): MetricObjectWithValues<MetricValue<string>>;
}

/**
 * /metrics of a cluster: the workers' registries added up, by prom-client's aggregation rule of
 * each metric, with dollar totals back on the grid one process shows them on.
 */
export async function workersExposition(
  answers: readonly WorkerMetrics[],
): Promise<{ readonly contentType: string; readonly body: string }> {
  const registry = AggregatorRegistry.aggregate([...answers]);
  for (const name of USD_METRICS) {
    const metric = registry.getSingleMetric(name) as unknown as AggregatedMetric | undefined;
    for (const value of metric?.get().values ?? []) value.value = roundUsd(value.value);
  }
  oneBreakerState(registry.getSingleMetric(BREAKER_STATE_METRIC) as unknown as AggregatedMetric | undefined);
  return { contentType: registry.contentType, body: await registry.metrics() };
}

/**
 * The one-hot breaker gauge, taken per series by its maximum, is 1 on every state some worker's
 * breaker is in: keeps only the worst, as the numeric gauge (the maximum of 0/1/2) shows it.
 */
function oneBreakerState(metric: AggregatedMetric | undefined): void {
  const values = metric?.get().values ?? [];
  const rank = (labels: Partial<Record<string, string | number>>): number =>
    BREAKER_STATES.indexOf(labels['state'] as (typeof BREAKER_STATES)[number]);
  const endpoint = (labels: Partial<Record<string, string | number>>): string => `${labels['provider']}\u0000${labels['model']}`;
  const worst = new Map<string, number>();
  for (const { labels, value } of values) {
    if (value === 1) worst.set(endpoint(labels), Math.max(worst.get(endpoint(labels)) ?? -1, rank(labels)));
  }
  for (const v of values) v.value = worst.get(endpoint(v.labels)) === rank(v.labels) ? 1 : 0;
}
