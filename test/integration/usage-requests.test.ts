import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageGroup, UsageServiceClient, type UsageFilter } from '../../src/gen/orchestrator/v1/usage.js';
import { unaryError } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';

/** What UsageService refuses in a request, and how it reads the time range (an open service: this test is on loopback). */
const filter = (f: Partial<UsageFilter>): UsageFilter => ({ keyName: '', model: '', provider: '', method: '', ...f });
const at = (seconds: number, nanos = 0) => ({ seconds, nanos });
const T = Date.UTC(2026, 0, 1) / 1000;

let h: Harness;
let usage: UsageServiceClient;
beforeAll(async () => {
  h = await startHarness();
  usage = new UsageServiceClient(`127.0.0.1:${h.app.port}`, grpc.credentials.createInsecure());
});
afterAll(async () => {
  usage?.close();
  await h?.close();
});

const fields = (e: Awaited<ReturnType<typeof unaryError>>) => e.decoded.badRequest?.fieldViolations.map((v) => v.field);

describe('UsageService requests', () => {
  it('GetUsage names every invalid group and an inverted time range in one INVALID_ARGUMENT', async () => {
    const req = {
      filter: filter({ startTime: at(T + 60), endTime: at(T) }),
      groupBy: [UsageGroup.USAGE_GROUP_MODEL, UsageGroup.USAGE_GROUP_UNSPECIFIED, 99 as UsageGroup],
    };
    const e = await unaryError(usage.getUsage.bind(usage), req);
    expect([e.code, fields(e)]).toEqual([grpc.status.INVALID_ARGUMENT, ['group_by[1]', 'group_by[2]', 'filter.end_time']]);
  });

  it('ListCalls names an out-of-range page_size and an empty time range in one INVALID_ARGUMENT', async () => {
    const req = { filter: filter({ startTime: at(T), endTime: at(T) }), requestId: '', pageSize: 501, pageToken: '' };
    const e = await unaryError(usage.listCalls.bind(usage), req);
    expect([e.code, fields(e)]).toEqual([grpc.status.INVALID_ARGUMENT, ['page_size', 'filter.end_time']]);
  });
});
