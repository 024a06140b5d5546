import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { describe, expect, it } from 'vitest';
import { CatalogStore } from '../../../src/store/catalog-store.js';
import { LedgerStore } from '../../../src/store/ledger-store.js';
import { RetentionJob } from '../../../src/store/retention.js';
import { callRecord } from '../../helpers/call-record.js';
import { checkSyncRunRetention } from '../../helpers/sync-runs.js';

const DAY = 86_400_000;
/** A SQLite ledger in `dir`, started, its queue and batches `maxQueue` and `batchSize` records. */
async function startedStore(dir: string, log: Logger, maxQueue: number, batchSize: number): Promise<LedgerStore> {
  const store = new LedgerStore({ target: { kind: 'sqlite', file: join(dir, 'ledger.db') }, log, maxQueue, flushMs: 10, batchSize });
  await store.start();
  return store;
}

const monthStartOf = (at: number): number => Date.UTC(new Date(at).getUTCFullYear(), new Date(at).getUTCMonth(), 1);

describe('the retention job on a SQLite file', () => {
  it('deletes old calls batch by batch, letting the gateway serve between batches', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'llmo-retention-'));
    const log = pino({ level: 'silent' });
    const store = await startedStore(dir, log, 10_000, 1_000);
    try {
      const now = Date.now();
      for (let i = 0; i < 5_000; i += 1) store.recordCall(callRecord(`old-${i}`, now - 40 * DAY + i));
      for (let i = 0; i < 3; i += 1) store.recordCall(callRecord(`kept-${i}`, now - 29 * DAY + i));
      // A routed call's decision goes with it; a kept call keeps its own.
      const decision = { profile: 'balanced', complexity: 'simple', promptTokens: 1, chosenModel: 'gpt-4o-mini', candidates: [] };
      store.recordCall(callRecord('old-routed', now - 40 * DAY, { decision }));
      store.recordCall(callRecord('kept-routed', now - 29 * DAY, { decision }));
      await store.flush();
      const job = new RetentionJob({ database: () => store.db, days: 30, cron: '0 0 * * *', log, batchSize: 100 });
      // better-sqlite3 runs every statement synchronously: only a pause between batches lets timers
      // (and every call in flight) run while 50 batches are deleted.
      let ticks = 0;
      const timer = setInterval(() => (ticks += 1), 1);
      const result = await job.runOnce(now).finally(() => clearInterval(timer));
      expect(result).toMatchObject({ calls: 5_001, attempts: 5_001, decisions: 1, skipped: false });
      expect(ticks).toBeGreaterThanOrEqual(5);
      const left = await store.db?.db.selectFrom('ledger_calls').select('id').orderBy('id').execute();
      expect(left?.map((r) => r.id)).toEqual(['kept-0', 'kept-1', 'kept-2', 'kept-routed']);
      const attempts = await store.db?.db.selectFrom('ledger_attempts').select('call_id').orderBy('call_id').execute();
      expect(attempts?.map((r) => r.call_id)).toEqual(['kept-0', 'kept-1', 'kept-2', 'kept-routed']);
      const decisions = await store.db?.db.selectFrom('ledger_decisions').select('call_id').execute();
      expect(decisions?.map((r) => r.call_id)).toEqual(['kept-routed']);
    } finally {
      await store.close(1_000);
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('a run under way when the ledger closes stops at its next batch, instead of failing on the closed database', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'llmo-retention-'));
    const log = pino({ level: 'silent' });
    const store = await startedStore(dir, log, 10_000, 1_000);
    try {
      const now = Date.now();
      for (let i = 0; i < 3_000; i += 1) store.recordCall(callRecord(`old-${i}`, now - 40 * DAY + i));
      await store.flush();
      const job = new RetentionJob({ database: () => store.db, days: 30, cron: '0 0 * * *', log, batchSize: 10 });
      const run = job.runOnce(now);
      await new Promise((r) => setTimeout(r, 30));
      // What closing the ledger does (src/store/index.ts).
      job.stop();
      await store.close(1_000);
      const result = await run;
      expect(result.calls).toBeGreaterThan(0);
      expect(result.calls).toBeLessThan(3_000);
    } finally {
      await store.close(1_000);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps the calls a monthly budget reads back after a restart, however short the retention', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'llmo-retention-'));
    const log = pino({ level: 'silent' });
    const store = await startedStore(dir, log, 100, 50);
    try {
      const now = Date.UTC(2026, 11, 20, 12);
      const monthStart = Date.UTC(2026, 11, 1);
      store.recordCall(callRecord('last-month', monthStart - DAY));
      store.recordCall(callRecord('this-month', monthStart + 2 * DAY));
      store.recordCall(callRecord('this-week', now - DAY));
      await store.flush();
      // Catalog sync runs are not what budgets read: the retention alone decides for them.
      const catalog = new CatalogStore(() => store.db);
      for (const daysAgo of [10, 0]) {
        const at = now - daysAgo * DAY;
        await catalog.recordSync({
          source: 'openrouter',
          startedAt: new Date(at),
          finishedAt: new Date(at + 60_000),
          ok: false,
          error: 'timed out after 30000 ms',
          models: [],
          matched: [],
          unmatched: [],
        });
      }
      let budgeted = true;
      const job = new RetentionJob({
        database: () => store.db,
        days: 7,
        cron: '0 0 * * *',
        log,
        keepFrom: (at) => (budgeted ? monthStartOf(at) : undefined),
      });
      expect(await job.runOnce(now)).toMatchObject({ calls: 1, syncRuns: 1 });
      const ids = async () => (await store.db?.db.selectFrom('ledger_calls').select('id').orderBy('id').execute())?.map((r) => r.id);
      expect(await ids()).toEqual(['this-month', 'this-week']);
      // No monthly budget to read back: the retention alone decides.
      budgeted = false;
      expect(await job.runOnce(now)).toMatchObject({ calls: 1 });
      expect(await ids()).toEqual(['this-week']);
    } finally {
      await store.close(1_000);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('deletes old catalog sync runs too, keeping the runs model history names and the newest run of each source', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'llmo-retention-'));
    const log = pino({ level: 'silent' });
    const store = await startedStore(dir, log, 100, 50);
    try {
      const database = store.db;
      if (!database) throw new Error('the ledger database is not open');
      await checkSyncRunRetention(
        database,
        (size) => new RetentionJob({ database: () => database, days: 30, cron: '0 0 * * *', log, batchSize: size }),
      );
    } finally {
      await store.close(1_000);
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
