import { describe, expect, it } from 'vitest';
import type { AttemptRecord } from '../../../src/domain/chat.js';
import { workersExposition } from '../../../src/cluster/metrics.js';
import type { WorkerMetrics } from '../../../src/cluster/messages.js';
import { Metrics } from '../../../src/telemetry/metrics.js';

function record(costUsd: number): AttemptRecord {
  return {
    model: 'gpt-4o',
    provider: 'openai',
    outcome: 'success',
    latencyMs: 250,
    usage: { promptTokens: 10, completionTokens: 20, totalTokens: 30, cachedTokens: 0 },
    costUsd,
    retry: 0,
    backoffMs: 0,
  };
}

/** Each worker's registry through JSON, as it travels to the primary. */
async function answersOf(workers: readonly Metrics[]): Promise<WorkerMetrics[]> {
  return Promise.all(workers.map(async (w) => JSON.parse(JSON.stringify(await w.registry.getMetricsAsJSON())) as WorkerMetrics));
}

function sample(text: string, prefix: string): string | undefined {
  return text.split('\n').find((l) => l.startsWith(prefix));
}

describe('/metrics of several workers, as the primary serves it', () => {
  it('shows the cost total on the 1e-10 USD grid, as one process shows it', async () => {
    const a = new Metrics({ processMetrics: false });
    const b = new Metrics({ processMetrics: false });
    a.on({ type: 'attempt', record: record(0.1) });
    b.on({ type: 'attempt', record: record(0.2) });
    const { body } = await workersExposition(await answersOf([a, b]));
    expect(sample(body, 'llm_orchestrator_cost_usd_total{')).toBe('llm_orchestrator_cost_usd_total{provider="openai",model="gpt-4o"} 0.3');
  });
});
