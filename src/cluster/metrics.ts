import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import { roundUsd } from '../domain/money.js';
import { USD_METRICS } from '../telemetry/metrics.js';
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
  return { contentType: registry.contentType, body: await registry.metrics() };
}
