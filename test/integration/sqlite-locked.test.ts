import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyServiceClient } from '../../src/gen/orchestrator/v1/keys.js';
import { callUnary, unaryError } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { holdWriteLock } from '../helpers/sqlite-lock.js';

/**
 * Another process (a second gateway, an operator's sqlite3 shell, a backup) holding the SQLite
 * file's write lock past the busy timeout: the admin RPC that writes cannot, and says so as a
 * database not reachable now (UNAVAILABLE, retryable), not as a bug in the gateway (INTERNAL).
 */
describe('admin writes while another process holds the SQLite file locked', () => {
  let h: Harness;
  let keys: ApiKeyServiceClient;
  let dir: string;
  let file: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'llmo-locked-'));
    file = join(dir, 'ledger.db');
    h = await startHarness({ env: { DATABASE_URL: `sqlite:${file}` } });
    keys = new ApiKeyServiceClient(`127.0.0.1:${h.app.port}`, grpc.credentials.createInsecure());
  }, 30_000);
  afterAll(async () => {
    keys?.close();
    await h?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('CreateModel answers UNAVAILABLE (LEDGER_UNAVAILABLE)', async () => {
    const lock = await holdWriteLock(file, 7_000);
    const err = await unaryError(
      h.clients.models.createModel.bind(h.clients.models),
      {
        model: {
          id: 'house',
          provider: 'openai',
          upstreamId: 'gpt-4o-mini',
          aliases: [],
          contextWindow: 32_000,
          inputPricePerMillion: 1,
          outputPricePerMillion: 2,
          quality: 0.5,
          capabilities: { tools: false, images: false, jsonSchema: false },
          fallbacks: [],
          family: '',
          tier: 0,
        },
      },
      { deadlineMs: 20_000 },
    );
    expect(err.code).toBe(grpc.status.UNAVAILABLE);
    expect(err.decoded.errorInfo?.reason).toBe('LEDGER_UNAVAILABLE');
    await lock.released;
  }, 30_000);

  // Last: once a key exists, every call needs one.
  it('CreateApiKey answers UNAVAILABLE (LEDGER_UNAVAILABLE), and succeeds once the lock is let go', async () => {
    const lock = await holdWriteLock(file, 7_000);
    const err = await unaryError(keys.createApiKey.bind(keys), { name: 'late' }, { deadlineMs: 20_000 });
    expect(err.code).toBe(grpc.status.UNAVAILABLE);
    expect(err.decoded.errorInfo?.reason).toBe('LEDGER_UNAVAILABLE');
    await lock.released;
    const created = await callUnary(keys.createApiKey.bind(keys), { name: 'late' });
    expect(created.response.apiKey?.name).toBe('late');
  }, 30_000);
});
