import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheMode, type ChatRequest } from '../../src/gen/orchestrator/v1/chat.js';
import { decodeStatusDetails } from '../../src/cli/status-details.js';
import { callUnary, unaryError, type Clients } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { startRedis, type RedisProcess } from '../helpers/redis.js';
import { accessFile, sha } from '../helpers/access-file.js';

/**
 * Two replicas (two complete servers) sharing one real redis-server: limits, budgets and the
 * cache hold across both exactly; Redis dying mid-run does not crash anything and the
 * configured failure policy is what callers see.
 */
const EXTRA = [
  `    - { name: frank, sha256: ${sha('frank-secret')}, limits: { requests_per_minute: 3 } }`,
  `    - { name: gina, sha256: ${sha('gina-secret')}, budgets: { usd_per_day: 0.00001 } }`,
  `    - { name: bess, sha256: ${sha('bess-secret')}, budgets: { usd_per_day: 0.001 } }`,
].join('\n');

let redis: RedisProcess;
let env: Record<string, string>;
let a: Harness;
let b: Harness;
let closed: Harness;
beforeAll(async () => {
  redis = await startRedis();
  // A 2 s cache TTL so a test can age an entry into an offline fallback.
  env = { CONFIG_FILE: accessFile(`${EXTRA}\n`), REDIS_URL: redis.url, CACHE_TTL_SECONDS: '2' };
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
  callUnary(
    clients.chat.chat.bind(clients.chat),
    { model: 'gpt-4o-mini', prompt: 'replica', messages: [], ...fields },
    { metadata: { authorization: `Bearer ${key}` } },
  );

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

  it('enforce one budget across both, charged exactly what the answers cost', async () => {
    const { response } = await ask(a.clients, 'carol-secret', { model: 'gpt-4o' });
    await new Promise((r) => setTimeout(r, 50));
    const refused = await unaryError(
      b.clients.chat.chat.bind(b.clients.chat),
      { model: 'gpt-4o', prompt: 'replica', messages: [] },
      { metadata: { authorization: 'Bearer carol-secret' } },
    );
    expect(refused.decoded.errorInfo?.reason).toBe('BUDGET_EXHAUSTED');
    // b spent nothing itself: this is what a wrote to Redis.
    expect(Number(refused.decoded.errorInfo?.metadata['spent_usd'])).toBeCloseTo(response.costUsd, 12);
  });

  it('hold calls in flight on both against one budget, so a parallel burst stops near it', async () => {
    // Each call holds (5 prompt + 60 answer tokens) at gpt-4o's $10 per million while it runs.
    const maxCost = ((5 + 60) * 10) / 1e6;
    const outcomes = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        ask((i % 2 === 0 ? a : b).clients, 'bess-secret', { model: 'gpt-4o', prompt: `burst ${i}`, maxTokens: 60 }).then(
          ({ response }) => response.costUsd,
          (err: grpc.ServiceError) => decodeStatusDetails(err.metadata).errorInfo?.reason ?? String(err.code),
        ),
      ),
    );
    const costs = outcomes.filter((o): o is number => typeof o === 'number');
    expect(outcomes.filter((o) => typeof o !== 'number').every((o) => o === 'BUDGET_EXHAUSTED')).toBe(true);
    expect(costs.length).toBeGreaterThanOrEqual(1);
    expect(costs.reduce((x, y) => x + y, 0)).toBeLessThanOrEqual(0.001 + maxCost);
  });

  it('keep spend across a gateway restart', async () => {
    await a.close();
    a = await startHarness({ env });
    expect(await outcome(a.clients, 'carol-secret', { model: 'gpt-4o' })).toBe('RESOURCE_EXHAUSTED:BUDGET_EXHAUSTED');
  }, 20_000);

  it('share the response cache', async () => {
    const request = { model: 'gpt-4o', prompt: 'shared answer', temperature: 0 };
    const first = await ask(a.clients, 'erin-secret', request);
    const second = await ask(b.clients, 'erin-secret', request);
    expect(first.response.cache?.hit).toBe(false);
    expect(second.response.cache?.hit).toBe(true);
    expect(second.response.content).toBe(first.response.content);
  });

  it('serve a stale answer another replica cached when every upstream fails', async () => {
    const request = { model: 'gpt-4o', prompt: 'remembered in redis', temperature: 0 };
    const fresh = await ask(a.clients, 'erin-secret', request);
    await new Promise((r) => setTimeout(r, 2_100));
    b.upstream.injectFault({ kind: 'http_error', status: 503, model: 'gpt-4o' });
    try {
      expect(await outcome(b.clients, 'erin-secret', request)).toBe('UNAVAILABLE:UPSTREAM_ERROR');
      const offline = await ask(b.clients, 'erin-secret', {
        ...request,
        cache: { mode: CacheMode.CACHE_MODE_UNSPECIFIED, allowStale: true },
      });
      expect(offline.response.cache).toMatchObject({ hit: true, stale: true });
      expect(offline.response.content).toBe(fresh.response.content);
    } finally {
      b.upstream.clearFaults();
    }
  });

  it('keep serving when Redis dies, per policy, and share again when it returns', async () => {
    await redis.stop();
    // local policy: each replica enforces the limit on its own; nothing crashes.
    expect(await outcome(a.clients, 'erin-secret')).toBe('OK');
    const localA = [];
    for (let i = 0; i < 4; i++) localA.push(await outcome(a.clients, 'frank-secret'));
    expect(localA).toEqual(['OK', 'OK', 'OK', 'RESOURCE_EXHAUSTED:RATE_LIMITED']);
    expect(await outcome(b.clients, 'frank-secret')).toBe('OK');
    // closed policy: calls that need the shared state are refused while it is gone, a budget as much as a limit.
    expect(await outcome(closed.clients, 'frank-secret')).toBe('UNAVAILABLE:SHARED_STATE_UNAVAILABLE');
    expect(await outcome(closed.clients, 'gina-secret', { model: 'gpt-4o' })).toBe('UNAVAILABLE:SHARED_STATE_UNAVAILABLE');
    // local policy: spend goes on locally, and counts locally.
    expect(await outcome(a.clients, 'gina-secret', { model: 'gpt-4o' })).toBe('OK');
    expect(await outcome(a.clients, 'gina-secret', { model: 'gpt-4o' })).toBe('RESOURCE_EXHAUSTED:BUDGET_EXHAUSTED');
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
    // What a spent while Redis was down reached Redis when it came back: b refuses gina too.
    expect(await outcome(b.clients, 'gina-secret', { model: 'gpt-4o' })).toBe('RESOURCE_EXHAUSTED:BUDGET_EXHAUSTED');
  }, 20_000);
});

describe('a global limit on two replicas sharing Redis', () => {
  let g1: Harness;
  let g2: Harness;
  beforeAll(async () => {
    const genv = { CONFIG_FILE: accessFile('  global: { requests_per_minute: 3 }\n'), REDIS_URL: redis.url };
    [g1, g2] = await Promise.all([startHarness({ env: genv }), startHarness({ env: genv })]);
  }, 30_000);
  afterAll(async () => {
    await Promise.all([g1?.close(), g2?.close()]);
  });

  it('holds exactly across both, for every key', async () => {
    const results = [];
    for (const [replica, key] of [
      [g1, 'erin-secret'],
      [g2, 'alice-secret'],
      [g1, 'alice-secret'],
      [g2, 'erin-secret'],
      [g1, 'erin-secret'],
    ] as const) {
      results.push(await outcome(replica.clients, key));
    }
    expect(results).toEqual(['OK', 'OK', 'OK', 'RESOURCE_EXHAUSTED:RATE_LIMITED', 'RESOURCE_EXHAUSTED:RATE_LIMITED']);
    const refused = await unaryError(
      g2.clients.chat.chat.bind(g2.clients.chat),
      { model: 'gpt-4o-mini', prompt: 'replica', messages: [] },
      { metadata: { authorization: 'Bearer alice-secret' } },
    );
    expect(refused.decoded.quotaFailure?.violations[0]).toMatchObject({ subject: 'global', description: '3 requests per minute' });
  });
});
