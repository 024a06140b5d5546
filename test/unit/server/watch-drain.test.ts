import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { decodeStatusDetails } from '../../../src/cli/status-details.js';
import type { Engine } from '../../../src/engine/index.js';
import type { WatchStatsRequest, WatchStatsResponse } from '../../../src/gen/orchestrator/v1/stats.js';
import { statsService } from '../../../src/server/handlers/stats.js';
import { Lifecycle } from '../../../src/server/lifecycle.js';
import { StatsStore } from '../../../src/telemetry/stats.js';

type Status = Partial<grpc.StatusObject>;

/**
 * A WatchStats call as grpc-js hands it to the handler. `reading: false` is a client that has
 * stopped reading: every write reports a full buffer and 'drain' never comes.
 */
function watchCall(request: WatchStatsRequest, reading: boolean) {
  let writes = 0;
  let settle: (status: Status) => void = () => undefined;
  const ended = new Promise<Status>((resolve) => {
    settle = resolve;
  });
  const call = Object.assign(new EventEmitter(), {
    request,
    metadata: new grpc.Metadata(),
    cancelled: false,
    getDeadline: (): grpc.Deadline => Infinity,
    getPath: (): string => '/orchestrator.v1.StatsService/WatchStats',
    write: (_message: WatchStatsResponse): boolean => {
      writes += 1;
      return reading;
    },
    end: (): void => settle({ code: grpc.status.OK }),
  });
  call.on('error', (status: Status) => settle(status));
  return { call: call as unknown as grpc.ServerWritableStream<WatchStatsRequest, WatchStatsResponse>, ended, writes: () => writes };
}

const engine = { breakerState: () => 'closed', inFlight: () => [] } as unknown as Engine;

function watchStats(lifecycle: Lifecycle) {
  const deps = { log: pino({ level: 'silent' }), lifecycle, defaultTimeoutMs: 3_600_000 };
  return statsService(deps, new StatsStore(), engine).watchStats;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const within = <T>(ms: number, promise: Promise<T>): Promise<T | 'still running'> =>
  Promise.race([promise, sleep(ms).then(() => 'still running' as const)]);

function expectDraining(status: Status | 'still running'): void {
  expect(status).not.toBe('still running');
  const { code, metadata } = status as Status;
  expect(code).toBe(grpc.status.UNAVAILABLE);
  expect(decodeStatusDetails(metadata ?? new grpc.Metadata()).errorInfo?.reason).toBe('DRAINING');
}

describe('WatchStats and drain', () => {
  it('ends a watch whose client stopped reading with UNAVAILABLE (DRAINING) as soon as the server drains', async () => {
    const lifecycle = new Lifecycle();
    const { call, ended, writes } = watchCall({ intervalMs: 100 }, false);
    watchStats(lifecycle)(call);
    await sleep(250);
    // Waiting for 'drain' after the first snapshot: no second one is taken.
    expect(writes()).toBe(1);
    expect(lifecycle.active).toBe(1);

    lifecycle.startDraining();
    expectDraining(await within(1_000, ended));
    await sleep(0);
    expect(lifecycle.active).toBe(0);
  });

  it('ends a watch between snapshots the moment the server drains', async () => {
    const lifecycle = new Lifecycle();
    const { call, ended } = watchCall({ intervalMs: 60_000 }, true);
    watchStats(lifecycle)(call);
    await sleep(20);
    lifecycle.startDraining();
    // A drain is an event, not something looked at now and then.
    expectDraining(await within(50, ended));
  });
});
