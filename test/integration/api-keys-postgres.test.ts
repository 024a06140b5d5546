import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyServiceClient } from '../../src/gen/orchestrator/v1/keys.js';
import { accessFile, sha } from '../helpers/access-file.js';
import { callUnary, unaryError } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { startPostgres, type PostgresProcess } from '../helpers/postgres.js';

const bearer = (key: string) => ({ metadata: { authorization: `Bearer ${key}` } });
const chat = (h: Harness, key: string) =>
  callUnary(h.clients.chat.chat.bind(h.clients.chat), { model: 'gpt-4o-mini', prompt: 'hi', messages: [] }, bearer(key));

/** Two replicas on one PostgreSQL: a key created or revoked on one is honoured by the other within seconds. */
describe('runtime API keys shared by replicas (PostgreSQL)', () => {
  let pg: PostgresProcess;
  let a: Harness;
  let b: Harness;
  let keysA: ApiKeyServiceClient;
  beforeAll(async () => {
    pg = await startPostgres();
    const env = {
      CONFIG_FILE: accessFile(`    - { name: root, sha256: ${sha('root-secret')}, scopes: [admin] }\n`),
      DATABASE_URL: pg.url,
      KEYS_REFRESH_MS: '300',
    };
    [a, b] = await Promise.all([startHarness({ env }), startHarness({ env })]);
    keysA = new ApiKeyServiceClient(`127.0.0.1:${a.app.port}`, grpc.credentials.createInsecure());
  }, 90_000);
  afterAll(async () => {
    keysA?.close();
    await Promise.all([a?.close(), b?.close()]);
    await pg?.destroy();
  });

  it('a key created on one replica works on the other; revoked there, it is refused by the other within seconds', async () => {
    const { key } = (await callUnary(keysA.createApiKey.bind(keysA), { name: 'shared' }, bearer('root-secret'))).response;
    expect((await chat(a, key)).response.content.length).toBeGreaterThan(0);
    await expect
      .poll(
        async () =>
          await chat(b, key).then(
            () => 'ok',
            (e: grpc.ServiceError) => e.code,
          ),
        { timeout: 5_000, interval: 100 },
      )
      .toBe('ok');

    const revokedAt = Date.now();
    await callUnary(keysA.revokeApiKey.bind(keysA), { name: 'shared' }, bearer('root-secret'));
    expect(
      (await unaryError(a.clients.chat.chat.bind(a.clients.chat), { model: 'gpt-4o-mini', prompt: 'hi', messages: [] }, bearer(key))).code,
    ).toBe(grpc.status.UNAUTHENTICATED);
    await expect
      .poll(
        async () =>
          await chat(b, key).then(
            () => 'ok',
            (e: grpc.ServiceError) => e.code,
          ),
        { timeout: 5_000, interval: 50 },
      )
      .toBe(grpc.status.UNAUTHENTICATED);
    // Within a couple of refresh intervals, not at the next restart.
    expect(Date.now() - revokedAt).toBeLessThan(3_000);
  }, 60_000);
});

/**
 * Keys that live only in the database are unknown to a replica that starts while it is down: the
 * replica must not take "no key read" for "no key at all" and serve every caller.
 */
describe('a replica that starts while the PostgreSQL holding its only keys is down', () => {
  let pg: PostgresProcess;
  beforeAll(async () => {
    pg = await startPostgres();
  }, 90_000);
  afterAll(async () => pg?.destroy());

  it('refuses callers without a key, on both doors, with a retryable UNAVAILABLE until it reads the keys; then the keys apply', async () => {
    const first = await startHarness({ env: { DATABASE_URL: pg.url } });
    const keys = new ApiKeyServiceClient(`127.0.0.1:${first.app.port}`, grpc.credentials.createInsecure());
    let key = '';
    try {
      key = (await callUnary(keys.createApiKey.bind(keys), { name: 'ops', scopes: { scopes: ['admin'] } })).response.key;
    } finally {
      keys.close();
      await first.close();
    }
    await pg.stop();
    const h = await startHarness({ env: { DATABASE_URL: pg.url, KEYS_REFRESH_MS: '200' } });
    try {
      const call = (metadata?: Record<string, string>) =>
        unaryError(h.clients.chat.chat.bind(h.clients.chat), { model: 'gpt-4o-mini', prompt: 'hi', messages: [] }, { metadata });
      for (const refused of [await call(), await call({ authorization: `Bearer ${key}` })]) {
        expect({ code: refused.code, reason: refused.decoded.errorInfo?.reason }).toEqual({
          code: grpc.status.UNAVAILABLE,
          reason: 'LEDGER_UNAVAILABLE',
        });
      }
      const http = await fetch(`${h.app.http!.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 }),
      });
      expect(http.status).toBe(503);
      const admin = new ApiKeyServiceClient(`127.0.0.1:${h.app.port}`, grpc.credentials.createInsecure());
      try {
        expect((await unaryError(admin.createApiKey.bind(admin), { name: 'intruder' })).code).toBe(grpc.status.UNAVAILABLE);
      } finally {
        admin.close();
      }

      await pg.start();
      await expect.poll(async () => (await chat(h, key).then(() => 'ok')) as string, { timeout: 20_000, interval: 200 }).toBe('ok');
      expect((await call()).code).toBe(grpc.status.UNAUTHENTICATED);
    } finally {
      await h.close();
    }
  }, 90_000);
});
