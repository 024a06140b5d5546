import { describe, expect, it } from 'vitest';
import type { GatewayEvent, InFlightReading } from '../../../src/engine/index.js';
import { Metrics } from '../../../src/telemetry/metrics.js';
import { StatsStore } from '../../../src/telemetry/stats.js';

/** The value of one sample line, e.g. value(text, 'x_total{a="b"}'). */
function value(text: string, sample: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line === undefined ? undefined : Number(line.slice(sample.length + 1));
}

const reading = (provider: string, inFlight: number, queued: number): InFlightReading => ({
  provider,
  maxInFlight: 4,
  queueMax: 8,
  inFlight,
  queued,
  waitedTotal: 0,
  rejectedTotal: 0,
});

/** One of each way a call meets a provider's full slots. */
const queueEvents: GatewayEvent[] = [
  { type: 'upstream_queue', provider: 'openai', outcome: 'admitted', waitedMs: 30 },
  { type: 'upstream_queue', provider: 'openai', outcome: 'cancelled', waitedMs: 700 },
  // The queue was full: refused at once, without waiting.
  { type: 'upstream_queue', provider: 'openai', outcome: 'rejected', waitedMs: 0 },
  // Queued, then refused because no slot freed before its deadline.
  { type: 'upstream_queue', provider: 'openai', outcome: 'rejected', waitedMs: 2_000 },
];

describe('the cap on upstream requests in flight, on /metrics and in GetStats', () => {
  it('reads each provider’s slots taken and calls queued at each scrape, under the provider label', async () => {
    const metrics = new Metrics({ processMetrics: false });
    let readings = [reading('openai', 3, 2), reading('anthropic', 1, 0)];
    metrics.watchInFlight(() => readings);
    let text = (await metrics.exposition()).body;
    expect(value(text, 'llm_orchestrator_upstream_in_flight{provider="openai"}')).toBe(3);
    expect(value(text, 'llm_orchestrator_upstream_queued{provider="openai"}')).toBe(2);
    expect(value(text, 'llm_orchestrator_upstream_in_flight{provider="anthropic"}')).toBe(1);
    expect(value(text, 'llm_orchestrator_upstream_queued{provider="anthropic"}')).toBe(0);
    // Requests ended (answered, failed or cancelled): the next scrape shows the slots given back.
    readings = [reading('openai', 0, 0), reading('anthropic', 0, 0)];
    text = (await metrics.exposition()).body;
    expect(value(text, 'llm_orchestrator_upstream_in_flight{provider="openai"}')).toBe(0);
    expect(value(text, 'llm_orchestrator_upstream_queued{provider="openai"}')).toBe(0);
  });

  it('adds up the providers past the label cap under "other", as their other series are', async () => {
    const metrics = new Metrics({ processMetrics: false });
    const readings = Array.from({ length: 103 }, (_, i) => reading(`p${i}`, 1, 2));
    metrics.watchInFlight(() => readings);
    await metrics.exposition();
    metrics.on({ type: 'upstream_queue', provider: 'p102', outcome: 'rejected', waitedMs: 0 });
    const text = (await metrics.exposition()).body;
    expect(value(text, 'llm_orchestrator_upstream_rejected_total{provider="other"}')).toBe(1);
    expect(value(text, 'llm_orchestrator_upstream_in_flight{provider="p99"}')).toBe(1);
    expect(value(text, 'llm_orchestrator_upstream_in_flight{provider="other"}')).toBe(3);
    expect(value(text, 'llm_orchestrator_upstream_queued{provider="other"}')).toBe(6);
  });

  it('measures the waits in seconds by how they ended, and counts a refusal without a wait as a refusal only', async () => {
    const metrics = new Metrics({ processMetrics: false });
    const stats = new StatsStore();
    for (const event of queueEvents) {
      metrics.on(event);
      stats.on(event);
    }
    const text = (await metrics.exposition()).body;
    const wait = (outcome: string, part: 'count' | 'sum') =>
      value(text, `llm_orchestrator_upstream_queue_wait_seconds_${part}{provider="openai",outcome="${outcome}"}`);
    expect([wait('admitted', 'count'), wait('admitted', 'sum')]).toEqual([1, 0.03]);
    expect([wait('cancelled', 'count'), wait('cancelled', 'sum')]).toEqual([1, 0.7]);
    expect([wait('rejected', 'count'), wait('rejected', 'sum')]).toEqual([1, 2]);
    expect(value(text, 'llm_orchestrator_upstream_rejected_total{provider="openai"}')).toBe(2);

    const row = stats.snapshot().providers.find((p) => p.name === 'openai');
    expect([row?.queueWaits, row?.queueRejections]).toEqual([3, 2]);
  });
});
