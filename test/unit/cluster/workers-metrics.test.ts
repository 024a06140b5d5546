import { describe, expect, it } from 'vitest';
import { attemptRecord } from '../../helpers/attempt-record.js';
import { syncMetrics } from '../../../src/catalog/sync-metrics.js';
import { workersExposition } from '../../../src/cluster/metrics.js';
import type { WorkerMetrics } from '../../../src/cluster/messages.js';
import { Metrics } from '../../../src/telemetry/metrics.js';

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
    a.on({ type: 'attempt', record: attemptRecord({ costUsd: 0.1 }) });
    b.on({ type: 'attempt', record: attemptRecord({ costUsd: 0.2 }) });
    const { body } = await workersExposition(await answersOf([a, b]));
    expect(sample(body, 'llm_orchestrator_cost_usd_total{')).toBe('llm_orchestrator_cost_usd_total{provider="openai",model="gpt-4o"} 0.3');
  });

  it("shows when a catalog source last synced, whichever worker ran it, not the sum of the workers' times", async () => {
    const a = new Metrics({ processMetrics: false });
    const b = new Metrics({ processMetrics: false });
    const finished = [new Date('2026-03-01T10:00:00Z'), new Date('2026-03-01T11:00:00Z')];
    [a, b].forEach((w, i) => {
      syncMetrics(w.registry)({
        source: 'openrouter',
        startedAt: finished[i]!,
        finishedAt: finished[i]!,
        ok: true,
        models: [],
        matched: [],
        unmatched: [],
      });
    });
    const { body } = await workersExposition(await answersOf([a, b]));
    expect(sample(body, 'llm_orchestrator_catalog_sync_last_success_seconds{')).toBe(
      `llm_orchestrator_catalog_sync_last_success_seconds{source="openrouter"} ${finished[1]!.getTime() / 1000}`,
    );
    // The runs are counted on each worker: they add up.
    expect(sample(body, 'llm_orchestrator_catalog_sync_runs_total{')).toBe(
      'llm_orchestrator_catalog_sync_runs_total{source="openrouter",outcome="ok"} 2',
    );
  });
});

describe('/metrics of several workers: the breaker of a model endpoint', () => {
  it('is in one state, the worst worker’s, on the one-hot gauge as on the numeric one', async () => {
    const a = new Metrics({ processMetrics: false });
    const b = new Metrics({ processMetrics: false });
    a.watchBreakers(() => [{ provider: 'openai', model: 'gpt-4o', state: 'open' }]);
    b.watchBreakers(() => [{ provider: 'openai', model: 'gpt-4o', state: 'closed' }]);
    const { body } = await workersExposition(await answersOf([a, b]));
    expect(sample(body, 'llm_orchestrator_circuit_breaker_state{')).toBe(
      'llm_orchestrator_circuit_breaker_state{provider="openai",model="gpt-4o"} 2',
    );
    const states = body.split('\n').filter((l) => l.startsWith('llm_orchestrator_breaker_state{'));
    expect(states).toEqual([
      'llm_orchestrator_breaker_state{provider="openai",model="gpt-4o",state="closed"} 0',
      'llm_orchestrator_breaker_state{provider="openai",model="gpt-4o",state="half_open"} 0',
      'llm_orchestrator_breaker_state{provider="openai",model="gpt-4o",state="open"} 1',
    ]);
  });
});
