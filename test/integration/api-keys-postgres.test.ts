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
