import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { decodeStatusDetails } from '../../../src/cli/status-details.js';
import type { Engine } from '../../../src/engine/index.js';
import type { WatchStatsRequest, WatchStatsResponse } from '../../../src/gen/orchestrator/v1/stats.js';
import { statsService } from '../../../src/server/handlers/stats.js';
import { Lifecycle } from '../../../src/server/lifecycle.js';
import { StatsStore } from '../../../src/telemetry/stats.js';
import { type EndStatus, fakeStreamCall, within } from '../../helpers/fake-stream-call.js';

const engine = { breakerState: () => 'closed', inFlight: () => [] } as unknown as Engine;

function watch(lifecycle: Lifecycle, request: WatchStatsRequest, reading: boolean) {
  const deps = { log: pino({ level: 'silent' }), lifecycle, defaultTimeoutMs: 3_600_000 };
  const fake = fakeStreamCall<WatchStatsRequest, WatchStatsResponse>(request, {
    reading,
    path: '/orchestrator.v1.StatsService/WatchStats',
  });
  statsService(deps, new StatsStore(), engine).watchStats(fake.call);
  return fake;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function expectDraining(status: EndStatus | 'still running'): void {
  expect(status).not.toBe('still running');
  const { code, metadata } = status as EndStatus;
  expect(code).toBe(grpc.status.UNAVAILABLE);
  expect(decodeStatusDetails(metadata ?? new grpc.Metadata()).errorInfo?.reason).toBe('DRAINING');
}

describe('WatchStats and drain', () => {
  it('ends a watch whose client stopped reading with UNAVAILABLE (DRAINING) as soon as the server drains', async () => {
    const lifecycle = new Lifecycle();
    const { ended, written } = watch(lifecycle, { intervalMs: 100 }, false);
    await sleep(250);
    // Waiting for 'drain' after the first snapshot: no second one is taken.
    expect(written).toHaveLength(1);
    expect(lifecycle.active).toBe(1);

    lifecycle.startDraining();
    expectDraining(await within(1_000, ended));
    await sleep(0);
    expect(lifecycle.active).toBe(0);
  });

  it('ends a watch between snapshots the moment the server drains', async () => {
    const lifecycle = new Lifecycle();
    const { ended } = watch(lifecycle, { intervalMs: 60_000 }, true);
    await sleep(20);
    lifecycle.startDraining();
    // A drain is an event, not something looked at now and then.
    expectDraining(await within(50, ended));
  });
});
