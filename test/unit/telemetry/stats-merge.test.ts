import { describe, expect, it } from 'vitest';
import type { AttemptRecord } from '../../../src/domain/chat.js';
import { StatsStore } from '../../../src/telemetry/stats.js';

const attempt = (model: string, latencyMs: number, outcome: AttemptRecord['outcome'] = 'success'): AttemptRecord => ({
  model,
  provider: 'openai',
  outcome,
  latencyMs,
  usage: { promptTokens: 10, completionTokens: 5, totalTokens: 15, cachedTokens: 0 },
  costUsd: 0.001,
  retry: 0,
  backoffMs: 0,
});

const chat = (latencyMs: number, code = 'OK') =>
  ({
    path: '/orchestrator.v1.ChatService/Chat',
    protocol: 'grpc',
    kind: 'unary',
    code,
    latencyMs,
    upstreamMs: latencyMs,
    upstreamRequests: 1,
  }) as const;

describe('stats of several workers', () => {
  it('add up to what one store would have counted, latency percentiles included', () => {
    const one = new StatsStore();
    const a = new StatsStore();
    const b = new StatsStore();
    const feed = (stores: StatsStore[], f: (s: StatsStore) => void): void => stores.forEach(f);
    // Worker a: fast calls; worker b: slow ones and a failure; `one` sees all of them.
    for (let i = 1; i <= 90; i++) {
      feed([a, one], (s) => {
        s.on({ type: 'call_finished', call: chat(i) });
        s.on({ type: 'attempt', record: attempt('gpt-4o', i) });
      });
    }
    for (let i = 1; i <= 10; i++) {
      feed([b, one], (s) => {
        s.on({ type: 'call_finished', call: chat(1000 + i) });
        s.on({ type: 'attempt', record: attempt('gpt-4o-mini', 1000 + i) });
      });
    }
    feed([b, one], (s) => {
      s.on({ type: 'call_finished', call: chat(5, 'UNAVAILABLE') });
      s.on({ type: 'attempt', record: attempt('gpt-4o-mini', 5, 'failure') });
      s.on({ type: 'race_won', model: 'gpt-4o-mini' });
      s.on({ type: 'routed', profile: 'speed', model: 'gpt-4o-mini' });
      s.on({ type: 'access_rejected', reason: 'RATE_LIMITED' });
      s.on({ type: 'cache_lookup', outcome: 'hit' });
      s.on({ type: 'first_token', ms: 42, model: 'gpt-4o' });
    });
    // Through JSON, as the states travel between processes.
    const states = [a, b].map((s) => JSON.parse(JSON.stringify(s.exportState())) as ReturnType<StatsStore['exportState']>);
    const merged = StatsStore.merged(states).snapshot();
    const expected = one.snapshot();
    const { startedAt: _m, uptimeSeconds: _mu, ...mergedRest } = merged;
    const { startedAt: _e, uptimeSeconds: _eu, ...expectedRest } = expected;
    // Counts exactly; latencies within the histograms' precision (2 significant digits: a
    // distribution sent between processes keeps its buckets, not the exact largest sample).
    const latencies: [number, number][] = [];
    const strip = (value: unknown, into: number[]): unknown =>
      JSON.parse(JSON.stringify(value), (key, v: unknown) => {
        if (typeof v === 'number' && /Ms$/.test(key)) {
          into.push(v);
          return 0;
        }
        return v;
      });
    const got: number[] = [];
    const want: number[] = [];
    expect(strip(mergedRest, got)).toEqual(strip(expectedRest, want));
    for (const [i, g] of got.entries()) latencies.push([g, want[i] ?? NaN]);
    expect(latencies.length).toBeGreaterThan(10);
    for (const [g, w] of latencies) expect(Math.abs(g - w)).toBeLessThanOrEqual(Math.max(0.01 * w, 0.002));
    expect(merged.totalRequests).toBe(101);
    expect(merged.failedRequests).toBe(1);
    expect(merged.latency.p99Ms).toBeGreaterThan(1000);
    expect(merged.models.map((m) => [m.name, m.requests])).toEqual([
      ['gpt-4o', 90],
      ['gpt-4o-mini', 11],
    ]);
  });

  it('date the merged store from the worker that started first', () => {
    const later = new StatsStore();
    const state = later.exportState();
    const earlier = { ...state, startedAt: state.startedAt - 60_000 };
    expect(StatsStore.merged([state, earlier]).snapshot().startedAt.getTime()).toBe(earlier.startedAt);
  });
});
