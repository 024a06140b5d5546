import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WatchStatsRequest, WatchStatsResponse } from '../../src/gen/orchestrator/v1/stats.js';
import { decodeStatusDetails } from '../../src/cli/status-details.js';
import { callUnary, collectStream } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

interface Received {
  readonly at: number;
  readonly message: WatchStatsResponse;
}

/** Opens a watch and collects messages with their arrival times until `count` arrived, then cancels. */
function watch(harness: Harness, request: WatchStatsRequest) {
  const call = harness.clients.stats.watchStats(request);
  const received: Received[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  call.on('data', (message: WatchStatsResponse) => {
    received.push({ at: performance.now(), message });
    for (const w of waiters.filter((w) => received.length >= w.count)) w.resolve();
  });
  const ended = new Promise<{ code: grpc.status; details: string; metadata: grpc.Metadata }>((resolve) => {
    call.on('error', () => undefined);
    call.on('status', (status: grpc.StatusObject) => resolve(status));
  });
  return {
    call,
    received,
    ended,
    until: (count: number) =>
      new Promise<void>((resolve) => {
        if (received.length >= count) resolve();
        else waiters.push({ count, resolve });
      }),
  };
}

describe('StatsService.WatchStats', () => {
  it('sends one snapshot per interval, in the GetStats encoding', async () => {
    const w = watch(h, { intervalMs: 150 });
    await w.until(4);
    w.call.cancel();
    // Spacing as the server took the snapshots (arrival times jitter with the machine's load).
    const uptimes = w.received.map((r) => r.message.stats?.uptimeSeconds ?? 0);
    const gaps = uptimes.slice(1).map((u, i) => u - (uptimes[i] ?? u));
    for (const gap of gaps) {
      expect(gap).toBeGreaterThanOrEqual(0.145);
      expect(gap).toBeLessThan(0.6);
    }
    const first = w.received[0]?.message.stats;
    expect(first?.latency).toBeDefined();
    // Same process, same counters: the start time is GetStats's.
    const { response } = await callUnary(h.clients.stats.getStats.bind(h.clients.stats), {});
    expect(first?.startedAt).toEqual(response.startedAt);
    expect((await w.ended).code).toBe(grpc.status.CANCELLED);
  });

  it('shows traffic in the next snapshot', async () => {
    const w = watch(h, { intervalMs: 100 });
    await w.until(1);
    const before = w.received[0]?.message.stats?.totalRequests ?? 0;
    await callUnary(h.clients.chat.chat.bind(h.clients.chat), { model: 'gpt-4o', prompt: 'count me', messages: [] });
    const seen = w.received.length;
    await w.until(seen + 1);
    w.call.cancel();
    const after = w.received.at(-1)?.message.stats;
    expect(after?.totalRequests).toBe(before + 1);
    expect(after?.models.find((m) => m.name === 'gpt-4o')?.requests).toBeGreaterThanOrEqual(1);
    expect(after?.completionTokens).toBeGreaterThan(0);
  });

  it('stops writing once the client cancels: the server frees the call', async () => {
    const w = watch(h, { intervalMs: 100 });
    await w.until(2);
    w.call.cancel();
    expect((await w.ended).code).toBe(grpc.status.CANCELLED);
    const count = w.received.length;
    await new Promise((r) => setTimeout(r, 300));
    expect(w.received.length).toBe(count);
    // The lifecycle counts no call left in flight (nothing else runs in this file now).
    expect(h.app.server.lifecycle.active).toBe(0);
  });

  it('sends the first snapshot at once, and uses 1000 ms when no interval is given', async () => {
    const opened = performance.now();
    const w = watch(h, {});
    await w.until(1);
    expect((w.received[0]?.at ?? Infinity) - opened).toBeLessThan(600);
    await new Promise((r) => setTimeout(r, 600));
    expect(w.received).toHaveLength(1);
    await w.until(2);
    w.call.cancel();
    const [a, b] = w.received.map((r) => r.message.stats?.uptimeSeconds ?? 0);
    expect((b ?? 0) - (a ?? 0)).toBeGreaterThanOrEqual(0.995);
  });

  it.each([99, 60_001, -5, 0])('refuses interval_ms %i with INVALID_ARGUMENT and a BadRequest', async (intervalMs) => {
    const result = await collectStream(h.clients.stats.watchStats({ intervalMs }));
    expect(result.messages).toHaveLength(0);
    expect(result.status.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(result.error?.decoded.badRequest?.fieldViolations[0]?.field).toBe('interval_ms');
  });

  it('accepts the bounds', async () => {
    for (const intervalMs of [100, 60_000]) {
      const w = watch(h, { intervalMs });
      await w.until(1);
      w.call.cancel();
      expect((await w.ended).code).toBe(grpc.status.CANCELLED);
    }
  });
});

describe('WatchStats and shutdown', () => {
  it('ends open watches with UNAVAILABLE (DRAINING) as soon as the server drains, not after the grace period', async () => {
    const own = await startHarness();
    try {
      const w = watch(own, { intervalMs: 60_000 });
      await w.until(1);
      const started = performance.now();
      const stopping = own.app.server.shutdown(10_000);
      const status = await w.ended;
      expect(performance.now() - started).toBeLessThan(2_000);
      expect(status.code).toBe(grpc.status.UNAVAILABLE);
      expect(decodeStatusDetails(status.metadata).errorInfo?.reason).toBe('DRAINING');
      await stopping;
    } finally {
      await own.close();
    }
  });
});

describe('WatchStats and the default deadline', () => {
  it('runs past DEFAULT_TIMEOUT: a watch without a deadline of its own has none', async () => {
    const own = await startHarness({ env: { DEFAULT_TIMEOUT: '0.3' } });
    try {
      const w = watch(own, { intervalMs: 100 });
      const first = await Promise.race([w.until(8).then(() => 'still running'), w.ended.then((status) => grpc.status[status.code])]);
      expect(first).toBe('still running');
      w.call.cancel();
    } finally {
      await own.close();
    }
  });
});

describe('a watch whose deadline passed before it started', () => {
  // The deadline travels as the grpc-timeout header alone: a client whose own timer has not
  // discarded the call yet (or that keeps none) sees whatever the server sends.
  const expired = () => {
    const metadata = new grpc.Metadata();
    metadata.set('grpc-timeout', '0m');
    return metadata;
  };

  it('WatchStats: DEADLINE_EXCEEDED and no snapshot', async () => {
    for (let i = 0; i < 5; i++) {
      const result = await collectStream(h.clients.stats.watchStats({ intervalMs: 1000 }, expired()));
      expect({ messages: result.messages.length, code: result.status.code }).toEqual({ messages: 0, code: grpc.status.DEADLINE_EXCEEDED });
      expect(result.error?.decoded.errorInfo?.reason).toBe('DEADLINE_EXCEEDED');
    }
  });

  it('grpc.health.v1.Health/Watch: DEADLINE_EXCEEDED and no status', async () => {
    for (let i = 0; i < 5; i++) {
      const result = await collectStream(h.clients.health.watch({ service: '' }, expired()));
      expect({ messages: result.messages.length, code: result.status.code }).toEqual({ messages: 0, code: grpc.status.DEADLINE_EXCEEDED });
    }
  });
});
