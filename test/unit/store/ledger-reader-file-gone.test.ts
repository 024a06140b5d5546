import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { isDatabaseAway } from '../../../src/store/database.js';
import { LedgerStore } from '../../../src/store/ledger-store.js';

const stores: LedgerStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close(1_000);
});

async function storeOnFile(): Promise<{ store: LedgerStore; dir: string; file: string }> {
  const dir = join(mkdtempSync(join(tmpdir(), 'llmo-reader-gone-')), 'data');
  const file = join(dir, 'ledger.db');
  const store = new LedgerStore({
    target: { kind: 'sqlite', file },
    log: pino({ level: 'silent' }),
    maxQueue: 500,
    flushMs: 10,
    batchSize: 100,
  });
  await store.start();
  stores.push(store);
  return { store, dir, file };
}

const deleteFile = (file: string): void => {
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${file}${suffix}`, { force: true });
};

/** What a read on the store's reader thread rejects with (or 'read' when it answers). */
const readOutcome = (store: LedgerStore): Promise<unknown> =>
  store
    .db!.reads.selectFrom('ledger_calls')
    .select('request_id')
    .execute()
    .then(
      () => 'read',
      (err: unknown) => err,
    );

describe('the SQLite ledger reader thread when its file is gone', () => {
  it('started after the file was deleted, before the store opened the path again: a database away', async () => {
    const { store, file } = await storeOnFile();
    deleteFile(file);
    const outcome = await readOutcome(store);
    expect(outcome).toBeInstanceOf(Error);
    expect(isDatabaseAway(outcome)).toBe(true);
  });

  it('started after its directory was deleted: a database away', async () => {
    const { store, dir } = await storeOnFile();
    rmSync(dir, { recursive: true, force: true });
    const outcome = await readOutcome(store);
    expect(outcome).toBeInstanceOf(Error);
    expect(isDatabaseAway(outcome)).toBe(true);
  });

  it('a read in flight when the store opens the path again, or one after on the old connections, fails as a database away; the next read is on the new file', async () => {
    const { store, file } = await storeOnFile();
    const old = store.db!;
    expect(await readOutcome(store)).toBe('read');
    // Seconds of work on the reader thread: still running when the store finds the file gone.
    const long = sql<{
      n: number;
    }>`with recursive c(n) as (select 1 union all select n + 1 from c where n < 20000000) select count(*) as n from c`
      .execute(old.reads)
      .then(
        () => 'read',
        (err: unknown) => err,
      );
    await new Promise((r) => setTimeout(r, 100));
    deleteFile(file);
    await expect.poll(() => store.db !== undefined && store.db !== old, { timeout: 10_000 }).toBe(true);
    const outcome = await long;
    expect(outcome).toBeInstanceOf(Error);
    expect(isDatabaseAway(outcome)).toBe(true);
    // A ListCalls between its queries when the old file's connections closed: its next query is on them.
    const late = await old.reads
      .selectFrom('ledger_calls')
      .select('request_id')
      .execute()
      .then(
        () => 'read',
        (err: unknown) => err,
      );
    expect(isDatabaseAway(late)).toBe(true);
    expect(await readOutcome(store)).toBe('read');
  });
});
