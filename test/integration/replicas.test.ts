import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatRequest } from '../../src/gen/orchestrator/v1/chat.js';
import { decodeStatusDetails } from '../../src/server/errors.js';
import { callUnary, type Clients } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { startRedis, type RedisProcess } from '../helpers/redis.js';
import { accessFile, sha } from '../helpers/access-file.js';

/**
 * Two replicas (two complete servers) sharing one real redis-server: limits, budgets and the
 * cache hold across both exactly; Redis dying mid-run does not crash anything and the
 * configured failure policy is what callers see.
 */
const FRANK = `    - { name: frank, sha256: ${sha('frank-secret')}, limits: { requests_per_minute: 3 } }\n`;

let redis: RedisProcess;
let a: Harness;
let b: Harness;
let closed: Harness;
beforeAll(async () => {
  redis = await startRedis();
  const file = accessFile(FRANK);
  const env = { CONFIG_FILE: file, REDIS_URL: redis.url };
  [a, b, closed] = await Promise.all([
    startHarness({ env }),
    startHarness({ env }),
    startHarness({ env: { ...env, REDIS_FAILURE_POLICY: 'closed' } }),
  ]);
}, 30_000);
afterAll(async () => {
  await Promise.all([a?.close(), b?.close(), closed?.close()]);
  await redis?.stop();
});

const ask = (clients: Clients, key: string, fields: Partial<ChatRequest> = {}) =>
  callUnary(clients.chat.chat.bind(clients.chat), { model: 'gpt-4o-mini', prompt: 'replica', messages: [], ...fields }, { metadata: { authorization: `Bearer ${key}` } });

async function outcome(clients: Clients, key: string, fields: Partial<ChatRequest> = {}): Promise<string> {
  try {
    await ask(clients, key, fields);
    return 'OK';
  } catch (err) {
    const e = err as grpc.ServiceError;
    return `${grpc.status[e.code]}:${decodeStatusDetails(e.metadata).errorInfo?.reason ?? ''}`;
  }
}

describe('two replicas sharing Redis', () => {
  it('enforce one request limit across both, exactly', async () => {
    const results = [];
    for (const replica of [a, b, a, b, a, b, a]) results.push(await outcome(replica.clients, 'alice-secret'));
    expect(results).toEqual(['OK', 'OK', 'OK', 'OK', 'OK', 'RESOURCE_EXHAUSTED:RATE_LIMITED', 'RESOURCE_EXHAUSTED:RATE_LIMITED']);
  });

  it('enforce one budget across both', async () => {
    expect(await outcome(a.clients, 'carol-secret', { model: 'gpt-4o' })).toBe('OK');
    await new Promise((r) => setTimeout(r, 50));
    expect(await outcome(b.clients, 'carol-secret', { model: 'gpt-4o' })).toBe('RESOURCE_EXHAUSTED:BUDGET_EXHAUSTED');
  });

  it('share the response cache', async () => {
    const request = { model: 'gpt-4o', prompt: 'shared answer', temperature: 0 };
    const first = await ask(a.clients, 'erin-secret', request);
    const second = await ask(b.clients, 'erin-secret', request);
    expect(first.response.cache?.hit).toBe(false);
    expect(second.response.cache?.hit).toBe(true);
    expect(second.response.content).toBe(first.response.content);
  });

  it('keep serving when Redis dies, per policy, and share again when it returns', async () => {
    await redis.stop();
    // local policy: each replica enforces the limit on its own; nothing crashes.
    expect(await outcome(a.clients, 'erin-secret')).toBe('OK');
    const localA = [];
    for (let i = 0; i < 4; i++) localA.push(await outcome(a.clients, 'frank-secret'));
    expect(localA).toEqual(['OK', 'OK', 'OK', 'RESOURCE_EXHAUSTED:RATE_LIMITED']);
    expect(await outcome(b.clients, 'frank-secret')).toBe('OK');
    // closed policy: calls that need the shared state are refused while it is gone.
    expect(await outcome(closed.clients, 'frank-secret')).toBe('UNAVAILABLE:SHARED_STATE_UNAVAILABLE');
    const health = await callUnary(a.clients.health.check.bind(a.clients.health), { service: '' });
    expect(health.response.status).toBe(1);

    await redis.start();
    // ioredis reconnects within its retry delay (at most 2 s here).
    await new Promise((r) => setTimeout(r, 2_500));
    expect(await outcome(closed.clients, 'frank-secret')).toBe('OK');
    const shared = [];
    for (const replica of [a, b]) shared.push(await outcome(replica.clients, 'frank-secret'));
    // Redis came back empty: 1 (closed replica) + 2 = the 3 allowed, then refused everywhere.
    shared.push(await outcome(a.clients, 'frank-secret'));
    expect(shared).toEqual(['OK', 'OK', 'RESOURCE_EXHAUSTED:RATE_LIMITED']);
  }, 20_000);
});
