import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CatalogSourceName, SyncReport } from '../../src/catalog/sync/types.js';
import { CatalogStore } from '../../src/store/catalog-store.js';
import { connect, type LedgerDatabase, migrate } from '../../src/store/database.js';
import { SQLITE_MEMORY } from '../../src/store/url.js';
import { type PostgresProcess, startPostgres } from '../helpers/postgres.js';

/**
 * ListModelHistory names a model as the catalog does (trimmed, any case), whatever the letters:
 * a synced name with a capital outside ASCII (an Arena display name, a config-file id it matched)
 * is found on SQLite, whose lower() folds ASCII only, and on a PostgreSQL database in the C locale.
 */
function report(source: CatalogSourceName, day: number, names: readonly { externalId: string; catalogId?: string }[]): SyncReport {
  return {
    source,
    startedAt: new Date(Date.UTC(2026, 10, day, 9)),
    finishedAt: new Date(Date.UTC(2026, 10, day, 10)),
    ok: true,
    models: names.map(({ externalId }) => ({ source, externalId, quality: day / 10, raw: { name: externalId } })),
    matched: names.flatMap(({ externalId, catalogId }) =>
      catalogId === undefined ? [] : [{ externalId, catalogId, rule: 'exact', confidence: 1 }],
    ),
    unmatched: names.filter((n) => n.catalogId === undefined).map((n) => n.externalId),
  };
}

async function expectNamesFound(database: LedgerDatabase): Promise<void> {
  await migrate(database);
  const store = new CatalogStore(() => database);
  await store.recordSync(report('arena', 1, [{ externalId: 'Ärzte-Chat-1' }, { externalId: 'Mistral Large', catalogId: 'Émile-7b' }]));
  await store.recordSync(report('arena', 2, [{ externalId: 'Ärzte-Chat-1' }, { externalId: 'Mistral Large', catalogId: 'Émile-7b' }]));
  for (const name of ['Ärzte-Chat-1', 'ärzte-chat-1', ' ÄRZTE-CHAT-1 ']) {
    const changes = await store.history(name, 'quality', 10);
    expect(
      changes.map((c) => [c.modelId, c.oldValue, c.newValue]),
      name,
    ).toEqual([
      ['Ärzte-Chat-1', '0.1', '0.2'],
      ['Ärzte-Chat-1', '', '0.1'],
    ]);
  }
  for (const name of ['Émile-7b', 'émile-7B']) {
    expect(
      (await store.history(name, 'quality', 10)).map((c) => c.modelId),
      name,
    ).toEqual(['Émile-7b', 'Émile-7b']);
  }
  expect(await store.history('ärzte-chat-2', 'quality', 10)).toEqual([]);
}

describe('ListModelHistory finds a synced model named in another case, letters outside ASCII too', () => {
  let postgres: PostgresProcess;
  beforeAll(async () => {
    postgres = await startPostgres();
    const admin = new pg.Client({ connectionString: postgres.url });
    await admin.connect();
    await admin.query(`CREATE DATABASE c_locale TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'`);
    await admin.end();
  }, 120_000);
  afterAll(async () => postgres?.destroy());

  it('on SQLite', async () => {
    const database = connect({ kind: 'sqlite', file: SQLITE_MEMORY });
    try {
      await expectNamesFound(database);
    } finally {
      await database.close();
    }
  });

  it('on PostgreSQL in the C locale', async () => {
    const database = connect({ kind: 'postgres', url: postgres.url.replace(/\/postgres$/, '/c_locale') });
    try {
      await expectNamesFound(database);
    } finally {
      await database.close();
    }
  }, 60_000);
});
