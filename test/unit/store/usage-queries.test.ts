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
});
