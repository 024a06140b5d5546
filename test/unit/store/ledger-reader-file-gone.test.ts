import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
});
