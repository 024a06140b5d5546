import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertApiKey, listApiKeys, type StoredApiKey } from '../../src/store/api-keys.js';
import { connect, type LedgerDatabase, migrate } from '../../src/store/database.js';
import { SQLITE_MEMORY } from '../../src/store/url.js';
import { type PostgresProcess, startPostgres } from '../helpers/postgres.js';

/**
 * ListApiKeys lists runtime keys by name in one order on every database: PostgreSQL's ORDER BY
 * follows the database's collation (an ICU or glibc locale sorts "alpha" before "Zeta", and
 * skips "-" on a first pass), SQLite's compares bytes.
 */
const NAMES = ['beta', 'Zeta', 'alpha', 'a-c', 'ab', 'a.b', 'A_1'];
const IN_ORDER = ['A_1', 'Zeta', 'a-c', 'a.b', 'ab', 'alpha', 'beta'];

const key = (name: string, i: number): StoredApiKey => ({
  name,
  sha256: i.toString(16).padStart(64, '0'),
  keyPrefix: 'llmo_abcdef',
  allowedModels: ['*'],
  limits: { requestsPerMinute: undefined, tokensPerMinute: undefined },
  budgets: { usdPerDay: undefined, usdPerMonth: undefined },
  scopes: [],
  createdAt: 1,
  updatedAt: 1,
  revokedAt: undefined,
});

async function expectOrder(database: LedgerDatabase): Promise<void> {
  try {
    await migrate(database);
    for (const [i, name] of NAMES.entries()) expect(await insertApiKey(database.db, key(name, i))).toBe(true);
    expect((await listApiKeys(database.db)).map((k) => k.name)).toEqual(IN_ORDER);
  } finally {
    await database.close();
  }
}

describe('runtime API keys in name order, whatever the database and its collation', () => {
  let postgres: PostgresProcess;
  beforeAll(async () => {
    postgres = await startPostgres();
    const admin = new pg.Client({ connectionString: postgres.url });
    await admin.connect();
    await admin.query(`CREATE DATABASE icu_en TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C.UTF-8' LOCALE_PROVIDER icu ICU_LOCALE 'en-US'`);
    await admin.end();
  }, 120_000);
  afterAll(async () => postgres?.destroy());

  it('on SQLite', () => expectOrder(connect({ kind: 'sqlite', file: SQLITE_MEMORY })));

  it(
    'on PostgreSQL with an en-US collation',
    () => expectOrder(connect({ kind: 'postgres', url: postgres.url.replace(/\/postgres$/, '/icu_en') })),
    60_000,
  );
});
