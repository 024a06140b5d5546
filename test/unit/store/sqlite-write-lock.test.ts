import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { CatalogStore } from '../../../src/store/catalog-store.js';
import { LedgerStore } from '../../../src/store/ledger-store.js';
import { RetentionJob } from '../../../src/store/retention.js';
import { callRecord } from '../../helpers/call-record.js';
import { loopHeldMs } from '../../helpers/loop-delay.js';
import { holdWriteLock } from '../../helpers/sqlite-lock.js';

const DAY = 86_400_000;

/**
 * A transaction that reads before it writes asks for the write lock while holding a read
 * lock, and SQLite answers that at once with SQLITE_BUSY when another connection writes (the
 * ledger's own writer thread, another worker process), whatever the busy timeout.
 */
describe('SQLite transactions that read, then write, while another connection writes', () => {
  const open = async (): Promise<{ store: LedgerStore; file: string; done: () => Promise<void> }> => {
    const dir = mkdtempSync(join(tmpdir(), 'llmo-write-lock-'));
    const file = join(dir, 'ledger.db');
    const store = new LedgerStore({
      target: { kind: 'sqlite', file },
      log: pino({ level: 'silent' }),
      maxQueue: 100,
      flushMs: 10,
      batchSize: 50,
    });
    await store.start();
    const done = async (): Promise<void> => {
      await store.close(1_000);
      rmSync(dir, { recursive: true, force: true });
    };
    return { store, file, done };
  };

  it('retention waits for the other writer and deletes the old calls', async () => {
    const { store, file, done } = await open();
    try {
      const now = Date.now();
      for (let i = 0; i < 10; i += 1) store.recordCall(callRecord(`old-${i}`, now - 40 * DAY + i));
      await store.flush();
      const job = new RetentionJob({ database: () => store.db, days: 30, cron: '0 0 * * *', log: pino({ level: 'silent' }) });
      const lock = await holdWriteLock(file, 300);
      const result = await job.runOnce(now);
      expect(result).toMatchObject({ calls: 10, skipped: false });
      await lock.released;
    } finally {
      await done();
    }
  });

  it('a runtime model is created after the other writer is done', async () => {
    const { store, file, done } = await open();
    try {
      const catalog = new CatalogStore(() => store.db);
      const lock = await holdWriteLock(file, 300);
      const at = new Date();
      const model = { id: 'house', provider: 'openai', aliases: [], fallbacks: [], inputPricePerMillion: 1, createdAt: at, updatedAt: at };
      await expect(catalog.putRuntimeModel(model, 'create')).resolves.toBe(true);
      await lock.released;
    } finally {
      await done();
    }
  });

  /**
   * The gateway's own connection runs on the event loop: SQLite's busy handler sleeps on the
   * thread that waits, so waiting there would hold every call for as long as the other writer.
   */
  it('waiting for the other writer does not hold the event loop', async () => {
    const { store, file, done } = await open();
    try {
      const catalog = new CatalogStore(() => store.db);
      const job = new RetentionJob({ database: () => store.db, days: 30, cron: '0 0 * * *', log: pino({ level: 'silent' }) });
      const at = new Date();
      const model = { id: 'house', provider: 'openai', aliases: [], fallbacks: [], inputPricePerMillion: 1, createdAt: at, updatedAt: at };
      let lock = await holdWriteLock(file, 1_500);
      // A transaction (begin immediate).
      expect(await loopHeldMs(() => catalog.putRuntimeModel(model, 'create'))).toBeLessThan(500);
      await lock.released;
      lock = await holdWriteLock(file, 1_500);
      expect(await loopHeldMs(() => job.runOnce())).toBeLessThan(500);
      await lock.released;
      lock = await holdWriteLock(file, 1_500);
      // A write outside a transaction.
      expect(await loopHeldMs(() => catalog.deleteRuntimeModel('house'))).toBeLessThan(500);
      await lock.released;
    } finally {
      await done();
    }
  });
});
