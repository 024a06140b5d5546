import * as grpc from '@grpc/grpc-js';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyServiceClient } from '../../src/gen/orchestrator/v1/keys.js';
import { accessFile, sha } from '../helpers/access-file.js';
import { callUnary, unaryError } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';

const bearer = (key: string) => ({ metadata: { authorization: `Bearer ${key}` } });
const ROOT = bearer('root-secret');

describe('an ApiKeyService change on a replica that cannot read the keys table back', () => {
  let h: Harness;
  let keys: ApiKeyServiceClient;
  beforeAll(async () => {
    const configFile = accessFile(`    - { name: root, sha256: ${sha('root-secret')}, scopes: [admin] }\n`);
    // No periodic read within the test: only the RPC's own work can bring the change here.
    h = await startHarness({ env: { CONFIG_FILE: configFile, DATABASE_URL: 'sqlite::memory:', KEYS_REFRESH_MS: '600000' } });
    keys = new ApiKeyServiceClient(`127.0.0.1:${h.app.port}`, grpc.credentials.createInsecure());
  });
  afterAll(async () => {
    keys?.close();
    await h?.close();
  });

  /** After the next write to the table, a row that no read of the whole table can take (the read fails until it goes). */
  const failReadsAfterNextWrite = async (): Promise<void> => {
    const db = h.app.ledger.database()!.db;
    for (const event of ['INSERT', 'UPDATE']) {
      await sql
        .raw(
          `CREATE TRIGGER unreadable_after_${event.toLowerCase()} AFTER ${event} ON api_keys WHEN NEW.name <> 'zz-unreadable' BEGIN
             INSERT OR IGNORE INTO api_keys (name, sha256, key_prefix, allowed_models, scopes, created_at, updated_at)
             VALUES ('zz-unreadable', '${'0'.repeat(64)}', 'llmo_x', 'not json', '[]', 1, 1);
           END`,
        )
        .execute(db);
    }
  };
  const readsWork = async (): Promise<void> => {
    const db = h.app.ledger.database()!.db;
    await sql.raw('DROP TRIGGER unreadable_after_insert').execute(db);
    await sql.raw('DROP TRIGGER unreadable_after_update').execute(db);
    await db.deleteFrom('api_keys').where('name', '=', 'zz-unreadable').execute();
  };
  const chat = (key: string) =>
    callUnary(h.clients.chat.chat.bind(h.clients.chat), { model: 'gpt-4o-mini', prompt: 'hi', messages: [] }, bearer(key));
  const chatError = (key: string) =>
    unaryError(h.clients.chat.chat.bind(h.clients.chat), { model: 'gpt-4o-mini', prompt: 'hi', messages: [] }, bearer(key));

  it('a created key works here at once', async () => {
    await failReadsAfterNextWrite();
    try {
      const { key } = (await callUnary(keys.createApiKey.bind(keys), { name: 'fresh' }, ROOT)).response;
      expect((await chat(key)).response.content.length).toBeGreaterThan(0);
    } finally {
      await readsWork();
    }
  });

  it('a revoked key is refused here at once', async () => {
    const { key } = (await callUnary(keys.createApiKey.bind(keys), { name: 'leaked' }, ROOT)).response;
    expect((await chat(key)).response.content.length).toBeGreaterThan(0);
    await failReadsAfterNextWrite();
    try {
      await callUnary(keys.revokeApiKey.bind(keys), { name: 'leaked' }, ROOT);
      expect((await chatError(key)).code).toBe(grpc.status.UNAUTHENTICATED);
    } finally {
      await readsWork();
    }
  });

  it("an updated key's models apply here at once", async () => {
    const { key } = (await callUnary(keys.createApiKey.bind(keys), { name: 'narrowed' }, ROOT)).response;
    await failReadsAfterNextWrite();
    try {
      await callUnary(keys.updateApiKey.bind(keys), { name: 'narrowed', allowedModels: { patterns: ['gpt-4o'] } }, ROOT);
      expect((await chatError(key)).code).toBe(grpc.status.PERMISSION_DENIED);
    } finally {
      await readsWork();
    }
  });
});
