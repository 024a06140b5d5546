import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { FILE_REPLACED, identityOf } from '../../../src/store/sqlite-file.js';
import { SqliteWriter } from '../../../src/store/sqlite-writer.js';
import { THREAD_CLOSED } from '../../../src/store/worker-thread.js';

const Database = createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3;

/** A WAL-mode file with one table, as the ledger's migrations leave it, and the gateway's own connection to it. */
function ledgerFile(): { file: string; db: BetterSqlite3.Database } {
  const file = join(mkdtempSync(join(tmpdir(), 'llmo-writer-')), 'ledger.db');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec('create table t (id text primary key, n integer not null)');
  return { file, db };
}

const INSERT = 'insert into "t" ("id", "n") values (?, ?)';
/** The writer's form of a table's rows: their values one after another, two per row. */
const rows = (...list: (readonly [string, number])[]) => ({ text: INSERT, width: 2, values: list.flat() });
const writers: SqliteWriter[] = [];
afterEach(async () => {
  for (const w of writers.splice(0)) await w.close();
});

describe('the SQLite ledger writer thread', () => {
  it('writes every row of a batch, and the gateway connection reads them once the write resolves', async () => {
    const { file, db } = ledgerFile();
    const writer = new SqliteWriter(file, identityOf(file));
    writers.push(writer);
    await writer.write([rows(...Array.from({ length: 250 }, (_, i) => [`r${i}`, i] as const))]);
    expect(db.prepare('select count(*) as c, sum(n) as s from t').get()).toEqual({ c: 250, s: (249 * 250) / 2 });
  });

  it('a batch is one transaction: a failing row rejects the write with SQLite’s message and leaves nothing, and the next batch is written', async () => {
    const { file, db } = ledgerFile();
    const writer = new SqliteWriter(file, identityOf(file));
    writers.push(writer);
    await expect(writer.write([rows(['a', 1]), rows(['b', 2], ['a', 3])])).rejects.toThrow(/UNIQUE constraint failed: t.id/);
    expect(db.prepare('select count(*) as c from t').get()).toEqual({ c: 0 });
    await writer.write([rows(['c', 4])]);
    expect(db.prepare('select id from t').all()).toEqual([{ id: 'c' }]);
  });

  it('close() ends the thread for good; a write after it fails as the database away and writes nothing', async () => {
    const { file, db } = ledgerFile();
    const writer = new SqliteWriter(file, identityOf(file));
    writers.push(writer);
    await writer.write([rows(['x', 1])]);
    await writer.close();
    await expect(writer.write([rows(['y', 2])])).rejects.toMatchObject({ code: THREAD_CLOSED });
    expect(db.prepare('select id from t order by id').all()).toEqual([{ id: 'x' }]);
  });

  it('a file deleted before the thread starts: the thread creates none and answers FILE_REPLACED', async () => {
    const { file, db } = ledgerFile();
    const identity = identityOf(file);
    db.close();
    rmSync(file);
    const writer = new SqliteWriter(file, identity);
    writers.push(writer);
    await expect(writer.write([rows(['a', 1])])).rejects.toMatchObject({ code: FILE_REPLACED });
    expect(existsSync(file)).toBe(false);
  });

  it('a batch committed after the file was deleted under the thread fails with FILE_REPLACED, not as written', async () => {
    const { file } = ledgerFile();
    const writer = new SqliteWriter(file, identityOf(file));
    writers.push(writer);
    await writer.write([rows(['a', 1])]);
    rmSync(file);
    await expect(writer.write([rows(['b', 2])])).rejects.toMatchObject({ code: FILE_REPLACED });
  });
});
