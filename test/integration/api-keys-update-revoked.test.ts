import * as grpc from '@grpc/grpc-js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyServiceClient } from '../../src/gen/orchestrator/v1/keys.js';
import { accessFile, sha } from '../helpers/access-file.js';
import { callUnary, unaryError } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { holdWriteLock } from '../helpers/sqlite-lock.js';

const ROOT = { metadata: { authorization: 'Bearer root-secret' } };

describe('UpdateApiKey and RevokeApiKey of a key another replica revokes meanwhile', () => {
  let h: Harness;
  let keys: ApiKeyServiceClient;
  let file: string;
  beforeAll(async () => {
    file = join(mkdtempSync(join(tmpdir(), 'llmo-keys-')), 'ledger.db');
    const configFile = accessFile(`    - { name: root, sha256: ${sha('root-secret')}, scopes: [admin] }\n`);
    h = await startHarness({ env: { CONFIG_FILE: configFile, DATABASE_URL: `sqlite:${file}`, KEYS_REFRESH_MS: '600000' } });
    keys = new ApiKeyServiceClient(`127.0.0.1:${h.app.port}`, grpc.credentials.createInsecure());
  });
  afterAll(async () => {
    keys?.close();
    await h?.close();
  });

  it('is NOT_FOUND (revoked), not OK with a revoked key that took the change', async () => {
    await callUnary(keys.createApiKey.bind(keys), { name: 'raced', limits: { requestsPerMinute: 5 } }, ROOT);
    // The revoke is written while this replica's update waits for the write lock, after it found the key live.
    const lock = await holdWriteLock(file, 400, '', "UPDATE api_keys SET revoked_at = 1, updated_at = 1 WHERE name = 'raced'");
    const refused = await unaryError(keys.updateApiKey.bind(keys), { name: 'raced', limits: { requestsPerMinute: 7 } }, ROOT);
    await lock.released;
    expect({ code: refused.code, reason: refused.decoded.errorInfo?.reason }).toEqual({
      code: grpc.status.NOT_FOUND,
      reason: 'API_KEY_NOT_FOUND',
    });
    const row = await h.app.ledger.database()!.db.selectFrom('api_keys').selectAll().where('name', '=', 'raced').executeTakeFirstOrThrow();
    expect(row.requests_per_minute).toBe(5);
  });

  it('RevokeApiKey is NOT_FOUND (revoked), not OK with the other revoke as its own', async () => {
    await callUnary(keys.createApiKey.bind(keys), { name: 'twice' }, ROOT);
    const lock = await holdWriteLock(file, 400, '', "UPDATE api_keys SET revoked_at = 1, updated_at = 1 WHERE name = 'twice'");
    const refused = await unaryError(keys.revokeApiKey.bind(keys), { name: 'twice' }, ROOT);
    await lock.released;
    expect({ code: refused.code, reason: refused.decoded.errorInfo?.reason, message: refused.details }).toEqual({
      code: grpc.status.NOT_FOUND,
      reason: 'API_KEY_NOT_FOUND',
      message: 'API key "twice" is revoked',
    });
  });
});
