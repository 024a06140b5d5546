import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageGroup, UsageServiceClient, type UsageFilter } from '../../src/gen/orchestrator/v1/usage.js';
import { callRecord } from '../helpers/call-record.js';
import { callUnary, unaryError } from '../helpers/grpc-client.js';
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
      pageSize: 0,
      pageToken: '',
    };
    const e = await unaryError(usage.getUsage.bind(usage), req);
    expect([e.code, fields(e)]).toEqual([grpc.status.INVALID_ARGUMENT, ['group_by[1]', 'group_by[2]', 'filter.end_time']]);
  });

  it('ListCalls names an out-of-range page_size and an empty time range in one INVALID_ARGUMENT', async () => {
    const req = { filter: filter({ startTime: at(T), endTime: at(T) }), requestId: '', pageSize: 501, pageToken: '' };
    const e = await unaryError(usage.listCalls.bind(usage), req);
    expect([e.code, fields(e)]).toEqual([grpc.status.INVALID_ARGUMENT, ['page_size', 'filter.end_time']]);
  });

  it('reads start_time and end_time to the nanosecond: a call in the millisecond of either end is in the range only if it is', async () => {
    // Calls are recorded to the millisecond: one at T + 1 ms arrived before T + 1.5 ms and after T + 0.5 ms.
    h.app.ledger.store?.recordCall(callRecord('in-the-ms', T * 1000 + 1));
    await h.app.ledger.store?.flush();
    const requests = async (startTime: { seconds: number; nanos: number }, endTime: { seconds: number; nanos: number }) =>
      (await callUnary(usage.getUsage.bind(usage), { filter: filter({ startTime, endTime }), groupBy: [], pageSize: 0, pageToken: '' }))
        .response.rows[0]?.requests;
    expect(await requests(at(T, 1_500_000), at(T + 1))).toBe(0);
    expect(await requests(at(T, 500_000), at(T, 1_500_000))).toBe(1);
    expect(await requests(at(T), at(T, 1_000_000))).toBe(0);
    // Within one millisecond, after its start: a range, only one no call can be in.
    expect(await requests(at(T, 1_200_000), at(T, 1_700_000))).toBe(0);
  });

  it('refuses a time that is no Timestamp (nanos outside 0 to 999,999,999)', async () => {
    const req = { filter: filter({ startTime: at(T, -1), endTime: at(T + 1, 1_000_000_000) }), groupBy: [], pageSize: 0, pageToken: '' };
    const e = await unaryError(usage.getUsage.bind(usage), req);
    expect([e.code, fields(e)]).toEqual([grpc.status.INVALID_ARGUMENT, ['filter.start_time', 'filter.end_time']]);
  });

  it('GetUsage pages its rows in group order: page_size 2 over 5 groups is 2, 2 and 1 rows, those of one unpaged call', async () => {
    const P = Date.UTC(2025, 5, 1);
    for (const [i, model] of ['m-e', 'm-a', 'm-d', 'm-b', 'm-c'].entries())
      h.app.ledger.store?.recordCall(callRecord(`paged-${i}`, P + i, { model }));
    await h.app.ledger.store?.flush();
    const range = filter({ startTime: at(P / 1000), endTime: at(P / 1000 + 1) });
    const get = async (pageSize: number, pageToken: string, f = range) =>
      (await callUnary(usage.getUsage.bind(usage), { filter: f, groupBy: [UsageGroup.USAGE_GROUP_MODEL], pageSize, pageToken })).response;
    const whole = await get(0, '');
    expect([whole.rows.map((r) => r.model), whole.nextPageToken]).toEqual([['m-a', 'm-b', 'm-c', 'm-d', 'm-e'], '']);
    const pages = [await get(2, '')];
    while (pages.at(-1)?.nextPageToken) pages.push(await get(2, pages.at(-1)?.nextPageToken ?? ''));
    expect(pages.map((p) => p.rows.length)).toEqual([2, 2, 1]);
    expect(pages.map((p) => p.nextPageToken !== '')).toEqual([true, true, false]);
    expect(pages.flatMap((p) => p.rows)).toEqual(whole.rows);

    const token = pages[0]?.nextPageToken ?? '';
    for (const other of [
      { f: filter({ startTime: at(P / 1000), endTime: at(P / 1000 + 2) }), groupBy: [UsageGroup.USAGE_GROUP_MODEL] },
      { f: range, groupBy: [UsageGroup.USAGE_GROUP_MODEL, UsageGroup.USAGE_GROUP_DAY] },
    ]) {
      const e = await unaryError(usage.getUsage.bind(usage), { filter: other.f, groupBy: other.groupBy, pageSize: 2, pageToken: token });
      expect([e.code, fields(e)]).toEqual([grpc.status.INVALID_ARGUMENT, ['page_token']]);
    }
    const garbage = await unaryError(usage.getUsage.bind(usage), { filter: range, groupBy: [], pageSize: 2, pageToken: 'nope' });
    expect([garbage.code, fields(garbage)]).toEqual([grpc.status.INVALID_ARGUMENT, ['page_token']]);
    const big = await unaryError(usage.getUsage.bind(usage), { filter: range, groupBy: [], pageSize: 1001, pageToken: '' });
    expect([big.code, fields(big)]).toEqual([grpc.status.INVALID_ARGUMENT, ['page_size']]);
  });
});
