import { copyFileSync, existsSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type BetterSqlite3 from 'better-sqlite3';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { LedgerStore } from '../../../src/store/ledger-store.js';
import { callRecord } from '../../helpers/call-record.js';

const Database = createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3;

interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly file?: string;
}

const stores: LedgerStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close(1_000);
});

/** A started store on a new file in a directory of its own, and what it logs. */
async function storeOnFile(): Promise<{ store: LedgerStore; dir: string; file: string; logs: LogLine[] }> {
  const dir = join(mkdtempSync(join(tmpdir(), 'llmo-replaced-')), 'data');
  const file = join(dir, 'ledger.db');
  const logs: LogLine[] = [];
  const log = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        logs.push(JSON.parse(chunk.toString()) as LogLine);
        done();
      },
    }),
  );
  const store = new LedgerStore({ target: { kind: 'sqlite', file }, log, maxQueue: 500, flushMs: 10, batchSize: 100, retryMs: 20 });
  await store.start();
  stores.push(store);
  return { store, dir, file, logs };
}

const record = (id: string) => callRecord(id, Date.now(), { attempts: [] });

/** The request ids the file holds, read by a connection of its own once the store is closed. */
function idsIn(file: string): string[] {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('select request_id from ledger_calls order by request_id').all() as { request_id: string }[]).map(
      (r) => r.request_id,
    );
  } finally {
    db.close();
  }
}

const deleteFile = (file: string): void => {
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${file}${suffix}`, { force: true });
};

describe('a SQLite ledger file deleted or replaced while the gateway runs', () => {
  it('deleted with its WAL: the calls after it go to a new file with the schema, counted as written once there, and an error names the file once', async () => {
    const { store, file, logs } = await storeOnFile();
    store.recordCall(record('a-before'));
    await store.flush();
    expect(store.written).toBe(1);
    deleteFile(file);
    store.recordCall(record('b-after'));
    await store.flush(Date.now() + 10_000);
    store.recordCall(record('c-later'));
    await store.flush(Date.now() + 10_000);
    expect(store.written).toBe(3);
    expect(store.dropped).toBe(0);
    await store.close(1_000);
    expect(idsIn(file)).toEqual(['b-after', 'c-later']);
    const errors = logs.filter((l) => l.level >= 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ file });
  });

  it('deleted with its directory before the writer thread first started: the thread creates no file of its own, the calls go to a new ledger', async () => {
    const { store, dir, file } = await storeOnFile();
    rmSync(dir, { recursive: true, force: true });
    store.recordCall(record('only'));
    await store.flush(Date.now() + 10_000);
    expect(store.written).toBe(1);
    expect(store.queued).toBe(0);
    await store.close(1_000);
    expect(idsIn(file)).toEqual(['only']);
  });

  it('the main file deleted, its WAL left behind: the new file is a sound ledger holding the later calls only', async () => {
    const { store, file } = await storeOnFile();
    store.recordCall(record('a-before'));
    await store.flush();
    rmSync(file);
    store.recordCall(record('b-after'));
    await store.flush(Date.now() + 10_000);
    expect(store.written).toBe(2);
    await store.close(1_000);
    expect(idsIn(file)).toEqual(['b-after']);
    const db = new Database(file, { readonly: true });
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      db.close();
    }
  });

  it('replaced by another ledger file (a backup put back): the later calls are added to that file', async () => {
    const { store, file } = await storeOnFile();
    store.recordCall(record('a-backed-up'));
    await store.flush();
    const backup = `${file}.bak`;
    const copy = new Database(file, { readonly: true });
    await copy.backup(backup);
    copy.close();
    store.recordCall(record('b-lost-with-the-old-file'));
    await store.flush();
    deleteFile(file);
    copyFileSync(backup, `${file}.tmp`);
    renameSync(`${file}.tmp`, file);
    store.recordCall(record('c-after'));
    await store.flush(Date.now() + 10_000);
    expect(store.written).toBe(3);
    await store.close(1_000);
    expect(idsIn(file)).toEqual(['a-backed-up', 'c-after']);
  });

  it('deleted while no call comes: found within seconds, reads and the keys table are on the new file before the next call', async () => {
    const { store, dir, file, logs } = await storeOnFile();
    store.recordCall(record('a-before'));
    await store.flush();
    const old = store.db;
    rmSync(dir, { recursive: true, force: true });
    await expect.poll(() => store.db !== undefined && store.db !== old, { timeout: 5_000 }).toBe(true);
    expect(existsSync(file)).toBe(true);
    expect(logs.filter((l) => l.level >= 50)).toMatchObject([{ file }]);
    const calls = await store.db?.reads.selectFrom('ledger_calls').select('request_id').execute();
    expect(calls).toEqual([]);
    const keys = await store.db?.db.selectFrom('api_keys').select('name').execute();
    expect(keys).toEqual([]);
  });

  it('shut down while the path is being opened again: the queued calls are written to the new file within the grace period, none dropped', async () => {
    const { store, file } = await storeOnFile();
    const old = store.db;
    deleteFile(file);
    store.recordCall(record('queued-at-shutdown'));
    // The batch finds the file gone and goes back to the queue while the path is opened again.
    while (store.db === old) await new Promise((r) => setImmediate(r));
    expect(store.db).toBeUndefined();
    await store.close(5_000);
    expect(store.dropped).toBe(0);
    expect(store.written).toBe(1);
    expect(idsIn(file)).toEqual(['queued-at-shutdown']);
  });

  it('a file left where it was is not opened again', async () => {
    const { store, file, logs } = await storeOnFile();
    const database = store.db;
    for (let i = 0; i < 3; i++) {
      store.recordCall(record(`r${i}`));
      await store.flush();
    }
    expect(store.db).toBe(database);
    expect(store.written).toBe(3);
    expect(logs.filter((l) => l.level >= 40)).toEqual([]);
    expect(existsSync(file)).toBe(true);
  });
});
