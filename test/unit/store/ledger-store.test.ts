import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { LedgerStore } from '../../../src/store/ledger-store.js';
import type { CallRecord } from '../../../src/store/records.js';
import { callRecord } from '../../helpers/call-record.js';
import { holdWriteLock } from '../../helpers/sqlite-lock.js';

const record = (id: string): CallRecord => callRecord(id, Date.now(), { attempts: [] });

const newFile = (): string => join(mkdtempSync(join(tmpdir(), 'llmo-ledger-')), 'ledger.db');

/** A store on a new SQLite file (or `file`); the test closes it. */
async function sqliteStore(flushMs: number, file = newFile(), log = pino({ level: 'silent' })): Promise<LedgerStore> {
  const store = new LedgerStore({
    target: { kind: 'sqlite', file },
    log,
    maxQueue: 500,
    flushMs,
    batchSize: 100,
  });
  await store.start();
  return store;
}

describe('the ledger queue', () => {
  it('writes full batches at once: more calls per second than batchSize per flushMs are all recorded, none dropped', async () => {
    // One batch per minute by the timer alone: 2,000 calls in about a second would overflow the
    // 500-record queue unless full batches are written without waiting for it.
    const store = await sqliteStore(60_000);
    try {
      // The writer thread starts with the first write: not part of what is measured here.
      store.recordCall(record('first'));
      await store.flush();
      for (let i = 0; i < 20; i += 1) {
        for (let j = 0; j < 100; j += 1) store.recordCall(record(`c-${i}-${j}`));
        await new Promise((r) => setTimeout(r, 50));
      }
      await expect.poll(() => store.written, { timeout: 5_000 }).toBe(2_001);
      expect(store.dropped).toBe(0);
      const rows = await store.db?.db
        .selectFrom('ledger_calls')
        .select(({ fn }) => fn.countAll<number>().as('n'))
        .executeTakeFirst();
      expect(Number(rows?.n)).toBe(2_001);
    } finally {
      await store.close(1_000);
    }
  });

  it('a record that does not fill a batch waits at most flushMs', async () => {
    const store = await sqliteStore(200);
    try {
      // The writer thread starts with the first write (from source, through tsx: seconds on a busy
      // machine), so a first record is written before the timed part. Written by the flush timer,
      // not flush(): that would leave the timer armed, to fire early into the timed part.
      store.recordCall(record('first'));
      await expect.poll(() => store.written, { timeout: 15_000 }).toBe(1);
      store.recordCall(record('alone'));
      await new Promise((r) => setTimeout(r, 50));
      expect(store.written).toBe(1);
      await expect.poll(() => store.written, { timeout: 2_000 }).toBe(2);
    } finally {
      await store.close(1_000);
    }
  });
});

describe('a batch the database refuses for its rows', () => {
  const count = async (store: LedgerStore): Promise<number> => {
    const row = await store.db?.db
      .selectFrom('ledger_calls')
      .select(({ fn }) => fn.countAll<number>().as('n'))
      .executeTakeFirst();
    return Number(row?.n);
  };

  it('drops and counts only the record it cannot hold; the calls around it are written, and later ones too', async () => {
    const store = await sqliteStore(10);
    try {
      // latency_ms is NOT NULL, and a number that is not finite is written as null: the database refuses the row.
      const poison = callRecord('poison', Date.now(), { attempts: [], latencyMs: Number.NaN });
      for (const r of [record('before'), poison, record('after')]) store.recordCall(r);
      await store.flush();
      expect(store.dropped).toBe(1);
      expect(store.written).toBe(2);
      store.recordCall(record('later'));
      await store.flush();
      expect(store.written).toBe(3);
      expect(store.queued).toBe(0);
      expect(await count(store)).toBe(3);
    } finally {
      await store.close(1_000);
    }
  });

  it('takes a call already there (a batch committed, its answer lost, then retried) as written, not as a failure', async () => {
    const store = await sqliteStore(10);
    try {
      store.recordCall(record('once'));
      await store.flush();
      store.recordCall(record('once'));
      store.recordCall(record('next'));
      await store.flush();
      expect(store.written).toBe(3);
      expect(store.dropped).toBe(0);
      expect(store.queued).toBe(0);
      expect(await count(store)).toBe(2);
    } finally {
      await store.close(1_000);
    }
  });
});

describe('a batch still being written when the store closes', () => {
  it('is counted once as not written, and is neither put back in the queue nor retried', async () => {
    const messages: string[] = [];
    const log = pino(
      { level: 'info' },
      new Writable({
        write(chunk: Buffer, _enc, done) {
          messages.push((JSON.parse(chunk.toString()) as { msg: string }).msg);
          done();
        },
      }),
    );
    const file = newFile();
    const store = await sqliteStore(10, file, log);
    store.recordCall(record('first'));
    await store.flush();
    // Another process's write lock holds the writer thread inside the batch past the grace period,
    // so closing ends the thread mid-write.
    const lock = await holdWriteLock(file, 2_000);
    store.recordCall(record('held-1'));
    store.recordCall(record('held-2'));
    await store.close(200);
    expect(store.dropped).toBe(2);
    await lock.released;
    await new Promise((r) => setTimeout(r, 300));
    expect(store.queued).toBe(0);
    expect(store.dropped).toBe(2);
    expect(store.written).toBe(1);
    expect(messages).toContain('ledger: records not written before shutdown');
    expect(messages).not.toContain('ledger: write failed; keeping the batch and retrying');
  });
});
