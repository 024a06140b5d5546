import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { LedgerStore } from '../../../src/store/ledger-store.js';
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
});
