import Database from 'better-sqlite3';
import { Kysely, SqliteDialect, type KyselyPlugin } from 'kysely';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiKeySync } from '../../../src/store/api-key-sync.js';
import { findApiKey, insertApiKey, revokeApiKey, updateApiKey, type StoredApiKey } from '../../../src/store/api-keys.js';
import { connect, migrate, type LedgerDatabase } from '../../../src/store/database.js';
import type { LedgerSchema } from '../../../src/store/schema.js';

const key = (name: string): StoredApiKey => ({
  name,
  sha256: name.padEnd(64, '0'),
  keyPrefix: 'llmo_abc',
  allowedModels: [],
  limits: { requestsPerMinute: undefined, tokensPerMinute: undefined },
  budgets: { usdPerDay: undefined, usdPerMonth: undefined },
  scopes: [],
  createdAt: 1,
  updatedAt: 1,
  revokedAt: undefined,
});

describe('ApiKeySync', () => {
  let database: LedgerDatabase | undefined;
  let reader: Kysely<LedgerSchema> | undefined;
  afterEach(async () => {
    await reader?.destroy();
    await database?.close();
  });

  it('a refresh asked for while a read is under way reads again after it: the change made just before it is seen', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'llmo-keys-')), 'ledger.db');
    database = connect({ kind: 'sqlite', file });
    await migrate(database);
    // A read whose rows come back only when `open` is called: it read the table before the key below was added.
    let open = (): void => undefined;
    let gate: Promise<void> = Promise.resolve();
    const held: KyselyPlugin = {
      transformQuery: (args) => args.node,
      transformResult: async (args) => {
        await gate;
        return args.result;
      },
    };
    // The sync reads on a connection of its own, as another replica's write is not on it.
    reader = new Kysely<LedgerSchema>({ dialect: new SqliteDialect({ database: new Database(file) }) });
    const gated = reader.withPlugin(held);
    const applied: string[][] = [];
    const sync = new ApiKeySync({
      database: () => gated,
      intervalMs: 60_000,
      apply: (live) => applied.push(live.map((k) => k.name)),
      log: pino({ level: 'silent' }),
    });
    gate = new Promise((resolve) => {
      open = resolve;
    });
    const periodic = sync.refresh();
    // Let the periodic read's query run against the table as it is now.
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await insertApiKey(database.db, key('ops'))).toBe(true);
    // What an admin RPC does after its write, so its own replica knows the key at once.
    const afterWrite = sync.refresh();
    open();
    await Promise.all([periodic, afterWrite]);
    expect(applied.at(-1)).toEqual(['ops']);
  });

  it('applies a change made within the millisecond of the one before it (the same updated_at)', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'llmo-keys-')), 'ledger.db');
    database = connect({ kind: 'sqlite', file });
    await migrate(database);
    expect(await insertApiKey(database.db, key('ops'))).toBe(true);
    const applied: (readonly string[])[] = [];
    const sync = new ApiKeySync({
      database: () => database?.db,
      intervalMs: 60_000,
      apply: (live) => applied.push(live.flatMap((k) => k.allowedModels)),
      log: pino({ level: 'silent' }),
    });
    await sync.start();
    sync.stop();
    // UpdateApiKey right after CreateApiKey, in the same millisecond: updated_at does not move.
    await updateApiKey(database.db, 'ops', { allowedModels: ['gpt-4o-mini'] }, key('ops').updatedAt);
    await sync.refresh();
    expect(applied.at(-1)).toEqual(['gpt-4o-mini']);
  });

  it('a key this replica revoked stays refused when a read that began before the revoke ends after it and the next read fails', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'llmo-keys-')), 'ledger.db');
    database = connect({ kind: 'sqlite', file });
    await migrate(database);
    expect(await insertApiKey(database.db, key('ops'))).toBe(true);
    let open = (): void => undefined;
    let gate: Promise<void> = Promise.resolve();
    let reads = 0;
    const held: KyselyPlugin = {
      transformQuery: (args) => args.node,
      transformResult: async (args) => {
        await gate;
        reads += 1;
        if (reads > 2) throw new Error('connection lost');
        return args.result;
      },
    };
    reader = new Kysely<LedgerSchema>({ dialect: new SqliteDialect({ database: new Database(file) }) });
    const gated = reader.withPlugin(held);
    const applied: string[][] = [];
    const sync = new ApiKeySync({
      database: () => gated,
      intervalMs: 60_000,
      apply: (live) => applied.push(live.map((k) => k.name)),
      log: pino({ level: 'silent' }),
    });
    await sync.start();
    sync.stop();
    expect(applied.at(-1)).toEqual(['ops']);
    gate = new Promise((resolve) => {
      open = resolve;
    });
    const periodic = sync.refresh();
    await new Promise((resolve) => setTimeout(resolve, 20));
    await revokeApiKey(database.db, 'ops', 2);
    const revoked = await findApiKey(database.db, 'ops');
    const afterWrite = sync.wrote(revoked!);
    expect(applied.at(-1)).toEqual([]);
    open();
    await Promise.all([periodic, afterWrite]);
    expect(applied.at(-1)).toEqual([]);
  });
});
