import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { LedgerStore } from '../../../src/store/ledger-store.js';
import { ledgerSpend } from '../../../src/store/budget-spend.js';
import { listCalls, routingAnalytics } from '../../../src/store/call-queries.js';
import { usageTotals } from '../../../src/store/queries.js';
import type { CallRecord } from '../../../src/store/records.js';
import { callRecord } from '../../helpers/call-record.js';

const HOUR = 3_600_000;
const DAY_START = Date.UTC(2026, 11, 1);

let store: LedgerStore | undefined;
afterEach(async () => {
  await store?.close(1_000);
  store = undefined;
});

/** An in-memory ledger holding `records`. */
async function ledgerOf(records: readonly CallRecord[]) {
  store = new LedgerStore({
    target: { kind: 'sqlite', file: ':memory:' },
    log: pino({ level: 'silent' }),
    maxQueue: 1_000,
    flushMs: 10,
    batchSize: 100,
  });
  await store.start();
  for (const r of records) store.recordCall(r);
  await store.flush();
  const db = store.db?.db;
  if (!db) throw new Error('ledger not open');
  return db;
}

describe('usage totals', () => {
  it('grouped by day and hour, in either order, have one row per hour marked with its hour', async () => {
    const db = await ledgerOf([0, 1, 2].map((h) => callRecord(`call-${h}`, DAY_START + h * HOUR + 5)));
    const hours = [DAY_START, DAY_START + HOUR, DAY_START + 2 * HOUR];
    for (const groups of [
      ['day', 'hour'],
      ['hour', 'day'],
    ] as const) {
      const rows = await usageTotals(db, {}, groups);
      expect([groups, rows.map((r) => [r.group.periodStart, r.requests])]).toEqual([groups, hours.map((h) => [h, 1])]);
    }
  });

  it('count a call no model answered and a Batch of several models in one row under ""', async () => {
    const db = await ledgerOf([
      callRecord('failed', DAY_START + 1, { model: undefined, provider: undefined, outcome: 'error', code: 'UNAVAILABLE', attempts: [] }),
      callRecord('batch', DAY_START + 2, { method: '/orchestrator.v1.ChatService/Batch', model: '', provider: '' }),
      callRecord('one', DAY_START + 3),
    ]);
    const rows = await usageTotals(db, {}, ['model', 'provider']);
    expect(rows.map((r) => [r.group.model, r.group.provider, r.requests, r.latency.p50])).toEqual([
      ['', '', 2, 5],
      ['gpt-4o-mini', 'openai', 1, 5],
    ]);
  });

  it("order names by code unit, whatever the server's locale: uppercase before lowercase, accents after z", async () => {
    const names = ['b', 'é', 'B', 'z', 'a', 'Z'];
    const db = await ledgerOf(names.map((keyName, i) => callRecord(`k-${i}`, DAY_START + i, { keyName })));
    const rows = await usageTotals(db, {}, ['key']);
    expect(rows.map((r) => r.group.key)).toEqual(['B', 'Z', 'a', 'b', 'z', 'é']);
  });

  it('are ordered by the group values in the order group_by names them', async () => {
    const DAY = 24 * HOUR;
    const db = await ledgerOf([
      callRecord('a-1', DAY_START + 5, { model: 'gpt-4o', keyName: 'zed' }),
      callRecord('a-2', DAY_START + DAY + 5, { model: 'gpt-4o', keyName: 'amy' }),
      callRecord('b-1', DAY_START + 5, { model: 'gpt-4o-mini', keyName: 'amy' }),
      callRecord('b-2', DAY_START + DAY + 5, { model: 'gpt-4o-mini', keyName: 'zed' }),
    ]);
    const byModelThenDay = await usageTotals(db, {}, ['model', 'day']);
    expect(byModelThenDay.map((r) => [r.group.model, r.group.periodStart])).toEqual([
      ['gpt-4o', DAY_START],
      ['gpt-4o', DAY_START + DAY],
      ['gpt-4o-mini', DAY_START],
      ['gpt-4o-mini', DAY_START + DAY],
    ]);
    const byModelThenKey = await usageTotals(db, {}, ['model', 'key']);
    expect(byModelThenKey.map((r) => [r.group.model, r.group.key])).toEqual([
      ['gpt-4o', 'amy'],
      ['gpt-4o', 'zed'],
      ['gpt-4o-mini', 'amy'],
      ['gpt-4o-mini', 'zed'],
    ]);
    const byDayThenModel = await usageTotals(db, {}, ['day', 'model']);
    expect(byDayThenModel.map((r) => [r.group.periodStart, r.group.model])).toEqual([
      [DAY_START, 'gpt-4o'],
      [DAY_START, 'gpt-4o-mini'],
      [DAY_START + DAY, 'gpt-4o'],
      [DAY_START + DAY, 'gpt-4o-mini'],
    ]);
  });

  it('cover calls from start_time up to, not including, end_time', async () => {
    const db = await ledgerOf([0, 1, 2].map((h) => callRecord(`call-${h}`, DAY_START + h * HOUR)));
    const within = await usageTotals(db, { from: DAY_START + HOUR, to: DAY_START + 2 * HOUR }, []);
    expect(within.map((r) => r.requests)).toEqual([1]);
  });

  it('grouped by day put every hour of a day in one row', async () => {
    const db = await ledgerOf([0, 5, 23].map((h) => callRecord(`call-${h}`, DAY_START + h * HOUR + 5)));
    const rows = await usageTotals(db, {}, ['day']);
    expect(rows.map((r) => [r.group.periodStart, r.requests])).toEqual([[DAY_START, 3]]);
  });

  it('grouped by provider and by method, and filtered by model and provider, go by those columns', async () => {
    const chat = '/orchestrator.v1.ChatService/Chat';
    const race = '/orchestrator.v1.ChatService/Race';
    const db = await ledgerOf([
      callRecord('a', DAY_START + 1, { model: 'gpt-4o', provider: 'openai', method: chat, keyName: 'amy' }),
      callRecord('b', DAY_START + 2, { model: 'gpt-4o', provider: 'azure', method: race, keyName: 'amy' }),
      callRecord('c', DAY_START + 3, { model: 'claude-3-haiku', provider: 'anthropic', method: race, keyName: 'amy' }),
    ]);
    const byProvider = await usageTotals(db, {}, ['provider']);
    expect(byProvider.map((r) => [r.group.provider, r.requests])).toEqual([
      ['anthropic', 1],
      ['azure', 1],
      ['openai', 1],
    ]);
    const byMethod = await usageTotals(db, {}, ['method']);
    expect(byMethod.map((r) => [r.group.method, r.requests])).toEqual([
      [chat, 1],
      [race, 2],
    ]);
    expect((await usageTotals(db, { model: 'gpt-4o' }, [])).map((r) => r.requests)).toEqual([2]);
    expect((await usageTotals(db, { provider: 'azure' }, [])).map((r) => r.requests)).toEqual([1]);
    expect((await usageTotals(db, { method: race }, [])).map((r) => r.requests)).toEqual([2]);
  });

  it('count successes and errors by code, and keep the fallback rate, cache-hit rate and cost saved apart', async () => {
    const db = await ledgerOf([
      callRecord('fell-back', DAY_START + 1, { fallbackTriggered: true, costUsd: 0.004 }),
      callRecord('hit-1', DAY_START + 2, { cacheHit: true, costUsd: 0, costSavedUsd: 0.002, attempts: [] }),
      callRecord('hit-2', DAY_START + 3, { cacheHit: true, costUsd: 0, costSavedUsd: 0.002, attempts: [] }),
      callRecord('limited', DAY_START + 4, { outcome: 'error', code: 'RESOURCE_EXHAUSTED', costUsd: 0, attempts: [] }),
      callRecord('failed', DAY_START + 5, { outcome: 'error', code: 'UNAVAILABLE', costUsd: 0.001 }),
    ]);
    const [total] = await usageTotals(db, {}, []);
    expect(total).toMatchObject({
      requests: 5,
      successful: 3,
      errorsByCode: { RESOURCE_EXHAUSTED: 1, UNAVAILABLE: 1 },
      costUsd: 0.005,
      costSavedUsd: 0.004,
      fallbackRate: 1 / 5,
      cacheHitRate: 2 / 5,
    });
  });

  it('give nearest-rank p50, p95 and p99 latencies', async () => {
    // 1 ms to 100 ms: nearest rank picks the 50th, 95th and 99th.
    const db = await ledgerOf(Array.from({ length: 100 }, (_, i) => callRecord(`call-${i}`, DAY_START + i, { latencyMs: i + 1 })));
    const [total] = await usageTotals(db, {}, []);
    expect(total?.latency).toEqual({ p50: 50, p95: 95, p99: 99 });
  });
});

describe('listed calls', () => {
  it('come newest first, page after page, each call once, with no next page after the last (calls at the same ms too)', async () => {
    // Six calls, four of them in the same millisecond: the id orders those.
    const db = await ledgerOf([
      callRecord('call-0', DAY_START),
      ...['call-1', 'call-2', 'call-3', 'call-4'].map((id) => callRecord(id, DAY_START + 1)),
      callRecord('call-5', DAY_START + 2),
    ]);
    const seen: string[][] = [];
    let after: { ts: number; id: string } | undefined;
    do {
      const page = await listCalls(db, { filter: {}, pageSize: 2, after });
      seen.push(page.calls.map((c) => c.call.id));
      after = page.next;
    } while (after && seen.length < 10);
    expect(seen).toEqual([
      ['call-5', 'call-4'],
      ['call-3', 'call-2'],
      ['call-1', 'call-0'],
    ]);
  });

  it('filtered by outcome and by request id hold only those calls', async () => {
    const db = await ledgerOf([
      callRecord('ok-1', DAY_START + 1),
      callRecord('failed', DAY_START + 2, { outcome: 'error', code: 'UNAVAILABLE' }),
      callRecord('ok-2', DAY_START + 3),
    ]);
    const ids = async (q: { successful?: boolean; requestId?: string }) =>
      (await listCalls(db, { filter: {}, pageSize: 10, ...q })).calls.map((c) => c.call.id);
    expect(await ids({ successful: true })).toEqual(['ok-2', 'ok-1']);
    expect(await ids({ successful: false })).toEqual(['failed']);
    expect(await ids({ requestId: 'ok-1' })).toEqual(['ok-1']);
  });
});

describe('spend read back for budgets', () => {
  it("is the key's own, today's and this month's, up to the moment the process started", async () => {
    const monthStart = DAY_START;
    const dayStart = DAY_START + 9 * 24 * HOUR;
    const started = dayStart + 12 * HOUR;
    const spent = (id: string, ts: number, keyName: string, costUsd: number) => callRecord(id, ts, { keyName, costUsd });
    const db = await ledgerOf([
      spent('last-month', monthStart - 1, 'amy', 1),
      spent('this-month', monthStart + HOUR, 'amy', 0.5),
      spent('today', dayStart + HOUR, 'amy', 0.25),
      spent('since-start', started, 'amy', 4),
      spent('other-key', dayStart + HOUR, 'zed', 8),
    ]);
    const spend = await ledgerSpend(db, 'amy', { dayStartMs: dayStart, monthStartMs: monthStart }, started);
    expect(spend).toEqual({ day: 0.25, month: 0.75 });
  });
});

describe('routing analytics', () => {
  it("give a Batch's routed items their own latencies, not the whole Batch's", async () => {
    const decision = { profile: 'balanced', complexity: 'simple', promptTokens: 1, chosenModel: 'gpt-4o-mini', candidates: [] };
    const item = (index: number, latencyMs: number) => ({
      ...decision,
      index,
      outcome: 'success' as const,
      model: 'gpt-4o-mini',
      latencyMs,
      fallbackTriggered: false,
    });
    const db = await ledgerOf([
      callRecord('batch', DAY_START, {
        method: '/orchestrator.v1.ChatService/Batch',
        latencyMs: 500,
        itemDecisions: [item(0, 10), item(1, 20)],
      }),
    ]);
    const [balanced] = await routingAnalytics(db, {});
    expect(balanced?.models.map((m) => [m.model, m.chosen, m.latency])).toEqual([['gpt-4o-mini', 2, { p50: 10, p95: 20, p99: 20 }]]);
  });
});
