import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connect, migrate } from '../../../src/store/database.js';
import { MIGRATIONS } from '../../../src/store/migrations.js';
import { holdWriteLock } from '../../helpers/sqlite-lock.js';

/**
 * Two connections to one new SQLite file migrating at once, as processes starting together do:
 * the migrator awaits between its statements, so here they interleave on every run.
 */
describe('migrating a SQLite file from two connections at once', () => {
  it('applies each migration once, and both connections see them all', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'llmo-migrate-')), 'ledger.db');
    const a = connect({ kind: 'sqlite', file });
    const b = connect({ kind: 'sqlite', file });
    try {
      const [ranA, ranB] = await Promise.all([migrate(a), migrate(b)]);
      expect([...ranA, ...ranB].sort()).toEqual(Object.keys(MIGRATIONS).sort());
      const names = b.sqlite?.prepare('select name from ledger_migrations').all();
      expect(names).toHaveLength(Object.keys(MIGRATIONS).length);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

/**
 * SQLite gives up at once, busy timeout or not, when switching a file to WAL meets another
 * connection's write lock: the switch holds a read lock as it asks for the write one, and
 * SQLite does not wait there for fear of a deadlock. A process starting while another migrates
 * a new file meets exactly that.
 */
describe('opening a SQLite file another process is writing in rollback mode', () => {
  it('waits for the write to end and switches the file to WAL', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'llmo-wal-')), 'ledger.db');
    const lock = await holdWriteLock(file, 300, 'CREATE TABLE t (x)');
    const db = connect({ kind: 'sqlite', file });
    try {
      expect(db.sqlite?.pragma('journal_mode', { simple: true })).toBe('wal');
      await lock.released;
    } finally {
      await db.close();
    }
  });
});
