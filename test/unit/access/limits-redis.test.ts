import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RateLimits, type LimiterStore } from '../../../src/access/limits.js';
import { connectRedis } from '../../../src/access/redis.js';
import type { RateLimitSpec } from '../../../src/config/file.js';
import { OrchestratorError } from '../../../src/domain/errors.js';
import { startRedis, type RedisProcess } from '../../helpers/redis.js';
import { limitOutcome } from '../../helpers/limit-outcome.js';

const limitsOf = (requestsPerMinute?: number): RateLimitSpec => ({ requestsPerMinute, tokensPerMinute: undefined });
const keyWith = (name: string, requestsPerMinute: number) => ({ name, spec: { limits: limitsOf(requestsPerMinute) } });

describe('rate limits in memory', () => {
  it('keep what a key used when another key is created, changed or revoked', async () => {
    const limits = new RateLimits({ redis: undefined, failurePolicy: 'local' }, limitsOf(), [keyWith('k', 2)]);
    expect([await limitOutcome(limits, 'k'), await limitOutcome(limits, 'k')]).toEqual(['OK', 'OK']);
    limits.setKeys([keyWith('k', 2), keyWith('new', 5)]);
    expect(await limitOutcome(limits, 'k')).toBe('key:k: 2 requests per minute');
  });
});

describe('rate limits two replicas keep in one real Redis', () => {
  let redis: RedisProcess;
  let clients: Redis[] = [];
  let stores: LimiterStore[] = [];
  beforeAll(async () => {
    redis = await startRedis();
    clients = await Promise.all([connectRedis(redis.url, pino({ level: 'silent' })), connectRedis(redis.url, pino({ level: 'silent' }))]);
    stores = clients.map((c) => ({ redis: c, failurePolicy: 'closed' }));
  }, 20_000);
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await redis?.stop();
  });

  it('count each key on its own, and every key together for global, whatever the keys are called', async () => {
    // "all" is what the global limit counts under: a key of that name must not share its count.
    const keys = [keyWith('all', 2), keyWith('x', 2)];
    const [a, b] = stores.map((store) => new RateLimits(store, limitsOf(4), keys)) as [RateLimits, RateLimits];
    const seen = [];
    for (const [replica, key] of [
      [a, 'all'],
      [b, 'all'],
      [a, 'all'],
      [b, 'x'],
      [a, 'x'],
      [b, 'x'],
      [a, undefined],
    ] as const) {
      seen.push(await limitOutcome(replica, key));
    }
    expect(seen).toEqual([
      'OK',
      'OK',
      'key:all: 2 requests per minute',
      'OK',
      'OK',
      'key:x: 2 requests per minute',
      'global: 4 requests per minute',
    ]);
    // Each counter lives in Redis for at most its one-minute window.
    const counters = await clients[0]!.keys('llmo:rl:*');
    expect(counters.sort()).toEqual(['llmo:rl:rpm:global:all', 'llmo:rl:rpm:key:all:all', 'llmo:rl:rpm:key:x:x']);
    for (const counter of counters) {
      const ttl = await clients[0]!.pttl(counter);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(60_000);
    }
  });

  it('count what a key used in the window against its changed limits, on every replica', async () => {
    const [a, b] = stores.map((store) => new RateLimits(store, limitsOf(), [keyWith('grow', 2)])) as [RateLimits, RateLimits];
    expect([await limitOutcome(a, 'grow'), await limitOutcome(b, 'grow')]).toEqual(['OK', 'OK']);
    for (const replica of [a, b]) replica.setKeys([keyWith('grow', 3)]);
    expect([await limitOutcome(b, 'grow'), await limitOutcome(a, 'grow')]).toEqual(['OK', 'key:grow: 3 requests per minute']);
  });

  it('take nothing for a refused call from calls counted at the same moment, on any replica', async () => {
    const keys = [{ name: 'burst', spec: { limits: { requestsPerMinute: undefined, tokensPerMinute: 1000 } } }];
    const [a, b] = stores.map((store) => new RateLimits(store, limitsOf(), keys)) as [RateLimits, RateLimits];
    const outcomes = await Promise.all(
      [
        [a, 600],
        [b, 600],
        [a, 100],
        [b, 100],
      ].map(async ([replica, tokens]) => {
        try {
          await (replica as RateLimits).admit('burst', tokens as number);
          return `OK ${tokens}`;
        } catch (err) {
          if (!(err instanceof OrchestratorError)) throw err;
          return `refused ${tokens}`;
        }
      }),
    );
    // However they arrive, one 600 does not fit beside the other; both 100s fit with either.
    expect(outcomes.sort()).toEqual(['OK 100', 'OK 100', 'OK 600', 'refused 600']);
    expect(await clients[0]!.get('llmo:rl:tpm:key:burst:burst')).toBe('800');
  });

  it('count what all keys used in the window against a changed global limit (a reload), on every replica', async () => {
    await clients[0]!.del('llmo:rl:rpm:global:all');
    const [a, b] = stores.map((store) => new RateLimits(store, limitsOf(2), [])) as [RateLimits, RateLimits];
    expect([await limitOutcome(a, undefined), await limitOutcome(b, undefined)]).toEqual(['OK', 'OK']);
    for (const replica of [a, b]) replica.setGlobal(limitsOf(3));
    expect([await limitOutcome(b, undefined), await limitOutcome(a, undefined)]).toEqual(['OK', 'global: 3 requests per minute']);
  });
});
