import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { Budgets, periodsOf } from '../../../src/access/budgets.js';
import { AccessController } from '../../../src/access/controller.js';
import { ApiKeyStore, presentedKey } from '../../../src/access/keys.js';
import { RateLimits } from '../../../src/access/limits.js';
import { allowsModel, modelPattern } from '../../../src/access/patterns.js';
import type { ApiKeySpec, RateLimitSpec } from '../../../src/config/file.js';
import type { AttemptRecord } from '../../../src/domain/chat.js';
import { OrchestratorError } from '../../../src/domain/errors.js';
import { sha } from '../../helpers/access-file.js';

const NO_LIMITS: RateLimitSpec = { requestsPerMinute: undefined, tokensPerMinute: undefined };
const spec = (name: string, key: string, allowedModels = ['*'], limits = NO_LIMITS): ApiKeySpec => ({
  name,
  sha256: sha(key),
  allowedModels,
  limits,
  budgets: { usdPerDay: undefined, usdPerMonth: undefined },
});

describe('API key store', () => {
  const store = new ApiKeyStore([spec('a', 'secret-a'), spec('b', 'secret-b', ['gpt-4o*'])]);

  it('finds a key by its hash and never keeps the key itself', () => {
    expect(store.authenticate('secret-b')?.name).toBe('b');
    expect(store.authenticate('secret-c')).toBeUndefined();
    expect(JSON.stringify(store.all().map((e) => e.spec))).not.toContain('secret');
  });

  it('reads Bearer authorization first, then x-api-key', () => {
    expect(presentedKey('Bearer abc', 'def')).toBe('abc');
    expect(presentedKey('bearer   abc ', undefined)).toBe('abc');
    expect(presentedKey('Basic abc', 'def')).toBe('def');
    expect(presentedKey(undefined, '  ')).toBeUndefined();
  });

  it('matches model patterns case-insensitively with *', () => {
    const patterns = ['gpt-4o*', 'o3'].map(modelPattern);
    expect(allowsModel(patterns, 'gpt-4o-mini')).toBe(true);
    expect(allowsModel(patterns, 'GPT-4O')).toBe(true);
    expect(allowsModel(patterns, 'o3')).toBe(true);
    expect(allowsModel(patterns, 'o3-mini')).toBe(false);
    expect(allowsModel(patterns, 'gpt-4.1')).toBe(false);
    expect(allowsModel([modelPattern('gpt-4.1')], 'gpt-4x1')).toBe(false);
  });
});

describe('budget periods', () => {
  it('are UTC days and months, with the time left in the day', () => {
    const p = periodsOf(new Date('2026-11-22T23:00:00Z'));
    expect(p).toEqual({ day: '2026-11-22', month: '2026-11', msToNextDay: 3_600_000, msToNextMonth: 8 * 86_400_000 + 3_600_000 });
  });

  it('are UTC whatever time zone the machine is in', () => {
    const zone = process.env.TZ;
    try {
      // 14 hours ahead of UTC, then 8 behind: local dates differ from the UTC ones at these moments.
      process.env.TZ = 'Pacific/Kiritimati';
      expect(periodsOf(new Date('2026-11-30T23:00:00Z'))).toEqual({
        day: '2026-11-30',
        month: '2026-11',
        msToNextDay: 3_600_000,
        msToNextMonth: 3_600_000,
      });
      process.env.TZ = 'America/Los_Angeles';
      expect(periodsOf(new Date('2026-12-01T02:00:00Z'))).toEqual({
        day: '2026-12-01',
        month: '2026-12',
        msToNextDay: 22 * 3_600_000,
        msToNextMonth: 30 * 86_400_000 + 22 * 3_600_000,
      });
    } finally {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    }
  });

  it('end a month on the 1st of the next one, across the year too', () => {
    expect(periodsOf(new Date('2026-12-31T12:00:00Z')).msToNextMonth).toBe(12 * 3_600_000);
    expect(periodsOf(new Date('2027-02-28T00:00:00Z')).msToNextMonth).toBe(86_400_000);
  });
});

/** The reason of what `promise` rejected with, or 'OK'. */
async function outcome(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => 'OK',
    (err: unknown) => (err instanceof OrchestratorError ? err.reason : String(err)),
  );
}

const usage = (totalTokens: number, costUsd = 0): AttemptRecord => ({
  model: 'm',
  provider: 'p',
  outcome: 'success',
  latencyMs: 1,
  usage: { promptTokens: 0, completionTokens: totalTokens, totalTokens, cachedTokens: 0 },
  costUsd,
  retry: 0,
  backoffMs: 0,
});

describe('tokens per minute, settled from actual usage', () => {
  const controller = () => {
    const keys = new ApiKeyStore([spec('k', 'secret-k', ['*'], { requestsPerMinute: undefined, tokensPerMinute: 150 })]);
    const store = { redis: undefined, failurePolicy: 'local' as const };
    return new AccessController(keys, new RateLimits(store, NO_LIMITS, keys.all()), new Budgets(store));
  };
  const principal = { name: 'k', allowedModels: ['*'] };
  const settled = () => new Promise((resolve) => setImmediate(resolve));

  it('gives back what the estimate took beyond actual usage', async () => {
    const access = controller();
    const ticket = await access.admit({ principal, models: ['m'], estimatedTokens: 100, outputTokens: 0 });
    ticket.record(usage(10));
    ticket.close();
    await settled();
    // 10 used + 100 estimated fits in 150 only because 90 of the first estimate came back.
    expect(await outcome(access.admit({ principal, models: ['m'], estimatedTokens: 100, outputTokens: 0 }))).toBe('OK');
    // 110 held now: 41 more does not fit, 40 does.
    expect(await outcome(access.admit({ principal, models: ['m'], estimatedTokens: 41, outputTokens: 0 }))).toBe('RATE_LIMITED');
    expect(await outcome(access.admit({ principal, models: ['m'], estimatedTokens: 40, outputTokens: 0 }))).toBe('OK');
  });

  it('charges actual usage beyond the estimate, over every attempt', async () => {
    const access = controller();
    const ticket = await access.admit({ principal, models: ['m'], estimatedTokens: 50, outputTokens: 0 });
    ticket.record(usage(60));
    ticket.record(usage(80));
    ticket.close();
    await settled();
    // 140 used: 10 tokens left.
    expect(await outcome(access.admit({ principal, models: ['m'], estimatedTokens: 11, outputTokens: 0 }))).toBe('RATE_LIMITED');
    expect(await outcome(access.admit({ principal, models: ['m'], estimatedTokens: 10, outputTokens: 0 }))).toBe('OK');
  });

  it('counts the prompt tokens of actual usage, not only the completion', async () => {
    const access = controller();
    const ticket = await access.admit({ principal, models: ['m'], estimatedTokens: 50, outputTokens: 0 });
    ticket.record({ ...usage(0), usage: { promptTokens: 60, completionTokens: 20, totalTokens: 80, cachedTokens: 0 } });
    ticket.close();
    await settled();
    // 80 used: 70 tokens left.
    expect(await outcome(access.admit({ principal, models: ['m'], estimatedTokens: 71, outputTokens: 0 }))).toBe('RATE_LIMITED');
    expect(await outcome(access.admit({ principal, models: ['m'], estimatedTokens: 70, outputTokens: 0 }))).toBe('OK');
  });
});

describe('a call whose estimate alone exceeds a tokens per minute limit', () => {
  it('is refused without a time to retry at, since no minute admits it, and takes nothing', async () => {
    const limits = new RateLimits({ redis: undefined, failurePolicy: 'local' }, { requestsPerMinute: undefined, tokensPerMinute: 1000 }, [
      { name: 'k', spec: { limits: { requestsPerMinute: 2, tokensPerMinute: 100 } } },
    ]);
    for (const [key, subject, what] of [
      ['k', 'key:k', '100 tokens per minute'],
      ['other', 'global', '1000 tokens per minute'],
    ] as const) {
      const refused = await Promise.resolve(limits.admit(key, 1005)).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(refused).toBeInstanceOf(OrchestratorError);
      const error = refused as OrchestratorError;
      expect(error.reason).toBe('RATE_LIMITED');
      expect(error.message).toBe(`request of an estimated 1005 tokens exceeds ${what} for ${subject}: lower max_tokens or the prompt`);
      expect(error.metadata).toMatchObject({ quota_subject: subject, quota_description: what, estimated_tokens: '1005' });
      expect(error.retryAfterMs).toBeUndefined();
    }
    // Neither the request nor any token was taken.
    await limits.admit('k', 100);
    const next = await Promise.resolve(limits.admit('k', 0)).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect((next as OrchestratorError).metadata['quota_description']).toBe('100 tokens per minute');
  });
});

describe('budget refusals', () => {
  it('name the monthly budget when both are spent, with the delay to the 1st of next month', async () => {
    const both = { ...spec('k', 'secret-k'), budgets: { usdPerDay: 0.5, usdPerMonth: 1 } };
    const keys = new ApiKeyStore([both]);
    const store = { redis: undefined, failurePolicy: 'local' as const };
    const budgets = new Budgets(store);
    const access = new AccessController(keys, new RateLimits(store, NO_LIMITS, keys.all()), budgets);
    await budgets.add('k', 2);
    const refusal = await access
      .admit({ principal: { name: 'k', allowedModels: ['*'] }, models: ['m'], estimatedTokens: 1, outputTokens: 0 })
      .catch((err: unknown) => err);
    expect(refusal).toBeInstanceOf(OrchestratorError);
    const err = refusal as OrchestratorError;
    expect(err.metadata).toMatchObject({ quota_description: 'budget usd_per_month 1' });
    expect(Math.abs((err.retryAfterMs ?? 0) - periodsOf(new Date()).msToNextMonth)).toBeLessThan(60_000);
  });
});

/** Enough of ioredis for Budgets: MGET, the spend-writing script, 'ready', and an outage switch. */
class FakeRedis extends EventEmitter {
  readonly data = new Map<string, number>();
  private readonly written = new Set<string>();
  up = true;

  get status(): string {
    return this.up ? 'ready' : 'reconnecting';
  }

  async mget(...keys: string[]): Promise<(string | null)[]> {
    if (!this.up) throw new Error('Connection is closed.');
    return keys.map((k) => (this.data.has(k) ? String(this.data.get(k)) : null));
  }

  /** The spend-writing script: KEYS ids hash, budget keys; ARGV id, ttl, n, n ids to forget, usd and ttl per key. */
  async eval(_script: string, numKeys: number, ...args: string[]): Promise<number> {
    if (!this.up) throw new Error("Stream isn't writeable and enableOfflineQueue options is false");
    const keys = args.slice(1, numKeys);
    const argv = args.slice(numKeys);
    const forget = Number(argv[2]);
    for (const id of argv.slice(3, 3 + forget)) this.written.delete(id);
    if (this.written.has(argv[0]!)) return 1;
    this.written.add(argv[0]!);
    keys.forEach((key, i) => {
      this.data.set(key, (this.data.get(key) ?? 0) + Number(argv[3 + forget + 2 * i]));
    });
    return 1;
  }
}

describe('budgets with Redis down', () => {
  const now = new Date('2026-11-22T10:00:00Z');
  const setup = () => {
    const redis = new FakeRedis();
    const budgets = new Budgets({ redis: redis as unknown as Redis, failurePolicy: 'local' });
    return { redis, budgets };
  };

  it('keeps spend Redis did not take and pushes it when Redis is ready again', async () => {
    const { redis, budgets } = setup();
    await budgets.add('k', 0.25, now);
    redis.up = false;
    await budgets.add('k', 0.5, now);
    await budgets.add('k', 0.125, now);
    expect(await budgets.spent('k', now)).toEqual({ day: 0.875, month: 0.875 });
    redis.up = true;
    // Back, not yet flushed: what Redis has plus what it has not been sent.
    expect(await budgets.spent('k', now)).toEqual({ day: 0.875, month: 0.875 });
    redis.emit('ready');
    await budgets.flush();
    expect(redis.data.get('llmo:budget:k:d:2026-11-22')).toBe(0.875);
    expect(redis.data.get('llmo:budget:k:m:2026-11')).toBe(0.875);
    // Sent once: not counted twice.
    expect(await budgets.spent('k', now)).toEqual({ day: 0.875, month: 0.875 });
  });

  it('pushes unsent spend with the next successful write, even without a ready event', async () => {
    const { redis, budgets } = setup();
    redis.up = false;
    await budgets.add('k', 0.5, now);
    redis.up = true;
    await budgets.add('k', 0.25, now);
    expect(redis.data.get('llmo:budget:k:d:2026-11-22')).toBe(0.75);
    expect(await budgets.spent('k', now)).toEqual({ day: 0.75, month: 0.75 });
  });

  it('under the closed policy refuses to guess', async () => {
    const redis = new FakeRedis();
    redis.up = false;
    const budgets = new Budgets({ redis: redis as unknown as Redis, failurePolicy: 'closed' });
    expect(await outcome(budgets.spent('k', now))).toBe('SHARED_STATE_UNAVAILABLE');
  });
});

describe('the global request window (RATE_LIMIT_REQUESTS per RATE_LIMIT_WINDOW)', () => {
  it('admits exactly that many requests from all callers together, then refuses naming the window, then admits again', async () => {
    const limits = new RateLimits({ redis: undefined, failurePolicy: 'local' }, NO_LIMITS, [], { requests: 3, windowSeconds: 1 });
    await limits.admit('a', 10);
    await limits.admit('b', 10);
    await limits.admit(undefined, 10);
    const refused = await Promise.resolve(limits.admit('c', 10)).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(refused).toBeInstanceOf(OrchestratorError);
    const error = refused as OrchestratorError;
    expect(error.kind).toBe('resource_exhausted');
    expect(error.message).toBe('rate limit reached: 3 requests per 1 s for global');
    expect(error.metadata).toMatchObject({ quota_subject: 'global' });
    expect(error.retryAfterMs).toBeGreaterThan(0);
    expect(error.retryAfterMs).toBeLessThanOrEqual(1_000);
    await new Promise((r) => setTimeout(r, (error.retryAfterMs ?? 1_000) + 50));
    await expect(limits.admit('c', 10)).resolves.toBeUndefined();
  });
});
