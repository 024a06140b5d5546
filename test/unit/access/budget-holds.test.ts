import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Budgets, periodsOf } from '../../../src/access/budgets.js';
import { AccessController, type PriceList } from '../../../src/access/controller.js';
import { ApiKeyStore } from '../../../src/access/keys.js';
import { RateLimits, type LimiterStore } from '../../../src/access/limits.js';
import { connectRedis } from '../../../src/access/redis.js';
import type { AttemptRecord } from '../../../src/domain/chat.js';
import { OrchestratorError } from '../../../src/domain/errors.js';
import { sha } from '../../helpers/access-file.js';
import { eventually } from '../../helpers/eventually.js';
import { redisReplicas } from '../../helpers/redis.js';
import { pino } from 'pino';

const NO_LIMITS = { requestsPerMinute: undefined, tokensPerMinute: undefined };
const BUDGET = 0.001;
const keySpecs = [
  { name: 'k', sha256: sha('secret-k'), allowedModels: ['*'], limits: NO_LIMITS, budgets: { usdPerDay: BUDGET, usdPerMonth: undefined } },
];
const principal = { name: 'k', allowedModels: ['*'] };
/** $10 per million output tokens: a call of 40 answer tokens (max_tokens) holds $0.0004. */
const prices: PriceList = { find: () => ({ inputPricePerMillion: 2.5, outputPricePerMillion: 10 }) };
const ESTIMATED_TOKENS = 40;
const MAX_COST = (ESTIMATED_TOKENS * 10) / 1e6;
/** What each call actually costs: a little less than its estimate, as real answers do. */
const ACTUAL_COST = 0.00031;

const record = (costUsd: number): AttemptRecord => ({
  model: 'm',
  provider: 'p',
  outcome: 'success',
  latencyMs: 1,
  usage: { promptTokens: 5, completionTokens: 26, totalTokens: 31, cachedTokens: 0 },
  costUsd,
  retry: 0,
  backoffMs: 0,
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function controller(store: LimiterStore): { access: AccessController; budgets: Budgets } {
  const keys = new ApiKeyStore(keySpecs);
  const budgets = new Budgets(store);
  return { access: new AccessController(keys, new RateLimits(store, NO_LIMITS, keys.all()), budgets, prices), budgets };
}

/** One call: admitted, answers after a few ms, is charged its actual cost, ends. */
async function call(access: AccessController): Promise<'OK' | string> {
  try {
    const ticket = await access.admit({ principal, models: ['m'], estimatedTokens: ESTIMATED_TOKENS, outputTokens: ESTIMATED_TOKENS });
    await sleep(5 + Math.random() * 15);
    ticket.record(record(ACTUAL_COST));
    ticket.close();
    return 'OK';
  } catch (err) {
    return err instanceof OrchestratorError ? err.reason : String(err);
  }
}

/** Until every released hold and charge has landed. */
const settled = () => sleep(50);

describe('a burst of parallel calls against a small budget', () => {
  it('in memory: stops once the calls in flight hold what is left (200 calls once spent $0.062 of $0.001)', async () => {
    const { access, budgets } = controller({ redis: undefined, failurePolicy: 'local' });
    const outcomes = await Promise.all(Array.from({ length: 200 }, () => call(access)));
    await settled();
    const spent = (await budgets.spent('k')).day;
    const passed = outcomes.filter((o) => o === 'OK').length;
    expect(outcomes.filter((o) => o !== 'OK').every((o) => o === 'BUDGET_EXHAUSTED')).toBe(true);
    expect(spent).toBeCloseTo(passed * ACTUAL_COST, 12);
    // Admitted while anything was left, holds included: the last one may overshoot by its own cost.
    expect(spent).toBeLessThanOrEqual(BUDGET + MAX_COST);
    expect(passed).toBeGreaterThanOrEqual(1);
  });

  it('in memory: holds are released when calls end, so sequential calls use the whole budget', async () => {
    const { access, budgets } = controller({ redis: undefined, failurePolicy: 'local' });
    const outcomes: string[] = [];
    for (let i = 0; i < 6; i++) {
      outcomes.push(await call(access));
      // The client's round trip before its next call: the ended call's hold is gone by then.
      await settled();
    }
    await settled();
    // 0.00031 a call: four calls reach 0.00124 >= 0.001, the rest are refused.
    expect(outcomes).toEqual(['OK', 'OK', 'OK', 'OK', 'BUDGET_EXHAUSTED', 'BUDGET_EXHAUSTED']);
    expect((await budgets.spent('k')).day).toBeCloseTo(4 * ACTUAL_COST, 12);
  });

  it('holds the maximum cost the call gives instead of the chat prices (embeddings know their own)', async () => {
    const { access } = controller({ redis: undefined, failurePolicy: 'local' });
    const first = await access.admit({
      principal,
      models: ['m'],
      estimatedTokens: ESTIMATED_TOKENS,
      outputTokens: ESTIMATED_TOKENS,
      maxCostUsd: BUDGET,
    });
    const second = await access
      .admit({ principal, models: ['m'], estimatedTokens: ESTIMATED_TOKENS, outputTokens: ESTIMATED_TOKENS })
      .catch((err: unknown) => err);
    expect(second).toMatchObject({ reason: 'BUDGET_EXHAUSTED' });
    first.close();
  });

  it('says when only holds of calls in flight stand in the way, and to retry soon', async () => {
    const { access } = controller({ redis: undefined, failurePolicy: 'local' });
    const tickets = [];
    for (let i = 0; i < 3; i++)
      tickets.push(await access.admit({ principal, models: ['m'], estimatedTokens: ESTIMATED_TOKENS, outputTokens: ESTIMATED_TOKENS }));
    const refused = await access
      .admit({ principal, models: ['m'], estimatedTokens: ESTIMATED_TOKENS, outputTokens: ESTIMATED_TOKENS })
      .catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(OrchestratorError);
    const err = refused as OrchestratorError;
    expect(err.reason).toBe('BUDGET_EXHAUSTED');
    expect(err.metadata).toMatchObject({ spent_usd: '0', held_usd: String(3 * MAX_COST) });
    expect(err.retryAfterMs).toBe(1_000);
    for (const t of tickets) t.close();
    await settled();
    expect(await call(access)).toBe('OK');
  });
});

describe('what a call in flight holds', () => {
  /** Output five times as dear as input, as most models price it. */
  const split: PriceList = { find: () => ({ inputPricePerMillion: 1, outputPricePerMillion: 5 }) };
  /** 100 prompt tokens and max_tokens 60: at most 100 x $1 + 60 x $5 per million = $0.0004. */
  const demand = { principal, models: ['m'], estimatedTokens: 160, outputTokens: 60 };
  // The request a hold reads its prompt cache markers from, only when its key has a budget.
  const markedPrompt = (ttl: '5m' | '1h') => ({
    messages: [
      { role: 'system' as const, content: 'rules', cache: { ttl: '5m' as const } },
      { role: 'user' as const, content: 'a long shared document', cache: { ttl } },
    ],
  });
  const TRUE_MAX = 0.0004;

  function splitPriced(): AccessController {
    const store = { redis: undefined, failurePolicy: 'local' as const };
    const keys = new ApiKeyStore(keySpecs);
    return new AccessController(keys, new RateLimits(store, NO_LIMITS, keys.all()), new Budgets(store), split);
  }

  it('prices the prompt at the input price and max_tokens at the output price, so calls that fit the budget are admitted', async () => {
    const access = splitPriced();
    // Two calls hold $0.0008 of the $0.001 budget (priced all at the output price, $0.0016: the third was refused).
    const tickets = [await access.admit(demand), await access.admit(demand)];
    const third = access.admit(demand);
    await expect(third).resolves.toBeDefined();
    for (const t of [...tickets, await third]) t.close();
  });

  it('still refuses a call once the true maxima of the calls in flight cover the budget, with the same details', async () => {
    const access = splitPriced();
    const tickets = [await access.admit(demand), await access.admit(demand), await access.admit(demand)];
    const refused = await access.admit(demand).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(OrchestratorError);
    const err = refused as OrchestratorError;
    expect(err.reason).toBe('BUDGET_EXHAUSTED');
    expect(err.kind).toBe('resource_exhausted');
    expect(err.message).toBe('budget usd_per_day 0.001 reached for key "k" (spent $0.000000, $0.001200 held by calls in flight)');
    expect(err.metadata).toEqual({
      quota_subject: 'key:k',
      quota_description: 'budget usd_per_day 0.001',
      spent_usd: '0',
      held_usd: String(3 * TRUE_MAX),
    });
    expect(err.retryAfterMs).toBe(1_000);
    for (const t of tickets) t.close();
  });

  it('holds a prompt marked for the provider cache at the cache write price: twice the input price for one hour', async () => {
    const access = splitPriced();
    // 100 prompt tokens written for an hour at $2 plus 60 x $5 per million: $0.0005, two calls fill the budget.
    const marked = { ...demand, prompt: markedPrompt('1h') };
    const tickets = [await access.admit(marked), await access.admit(marked)];
    const refused = (await access.admit(marked).catch((err: unknown) => err)) as OrchestratorError;
    expect(refused.reason).toBe('BUDGET_EXHAUSTED');
    expect(refused.metadata?.held_usd).toBe(String(2 * 0.0005));
    for (const t of tickets) t.close();
  });

  it("holds a five-minute cache write at the model's own write price, or 1.25 times the input price", async () => {
    const store = { redis: undefined, failurePolicy: 'local' as const };
    const keys = new ApiKeyStore(keySpecs);
    const ownPrice: PriceList = { find: () => ({ inputPricePerMillion: 1, outputPricePerMillion: 5, cacheWritePricePerMillion: 3 }) };
    const own = new AccessController(keys, new RateLimits(store, NO_LIMITS, keys.all()), new Budgets(store), ownPrice);
    const marked = { ...demand, prompt: markedPrompt('5m') };
    // 100 x $3 + 60 x $5 per million: $0.0006; two calls hold $0.0012, and a third is refused.
    const held = [await own.admit(marked), await own.admit(marked)];
    const third = (await own.admit(marked).catch((err: unknown) => err)) as OrchestratorError;
    expect(third.metadata?.held_usd).toBe('0.0012');
    for (const t of held) t.close();
    const access = splitPriced();
    // 100 x $1.25 + 60 x $5 per million: $0.000425; three calls hold $0.001275.
    const tickets = [await access.admit(marked), await access.admit(marked), await access.admit(marked)];
    const refused = (await access.admit(marked).catch((err: unknown) => err)) as OrchestratorError;
    expect(Number(refused.metadata?.held_usd)).toBeCloseTo(3 * 0.000425, 12);
    for (const t of tickets) t.close();
  });
});

describe('a call a rate limit refuses', () => {
  it('leaves no budget held behind it, so the key can still spend its budget', async () => {
    const store = { redis: undefined, failurePolicy: 'local' as const };
    const keys = new ApiKeyStore([{ ...keySpecs[0]!, limits: { requestsPerMinute: undefined, tokensPerMinute: 100 } }]);
    const access = new AccessController(keys, new RateLimits(store, NO_LIMITS, keys.all()), new Budgets(store), prices);
    // Its hold ($0.0015) would cover the whole budget: it is taken before the limits refuse the call.
    const tooLarge = await access.admit({ principal, models: ['m'], estimatedTokens: 150, outputTokens: 150 }).catch((err: unknown) => err);
    expect(tooLarge).toMatchObject({ reason: 'RATE_LIMITED' });
    expect(await call(access)).toBe('OK');
  });
});

/** A key whose budget for `period` is spent to the cent is refused until that budget resets. */
async function spentToTheCent(store: LimiterStore, period: 'day' | 'month'): Promise<void> {
  const name = `exact-${period}-${randomUUID()}`;
  const limits = { usdPerDay: period === 'day' ? BUDGET : undefined, usdPerMonth: period === 'month' ? BUDGET : undefined };
  const keys = new ApiKeyStore([{ ...keySpecs[0]!, name, budgets: limits }]);
  const budgets = new Budgets(store);
  const access = new AccessController(keys, new RateLimits(store, NO_LIMITS, keys.all()), budgets, prices);
  await budgets.add(name, BUDGET);
  const refused = await access
    .admit({ principal: { name, allowedModels: ['*'] }, models: ['m'], estimatedTokens: ESTIMATED_TOKENS, outputTokens: ESTIMATED_TOKENS })
    .catch((err: unknown) => err);
  expect(refused).toBeInstanceOf(OrchestratorError);
  const err = refused as OrchestratorError;
  expect(err.reason).toBe('BUDGET_EXHAUSTED');
  expect(err.metadata).toMatchObject({ quota_description: `budget usd_per_${period} ${BUDGET}`, spent_usd: String(BUDGET) });
  const periods = periodsOf(new Date());
  const reset = period === 'day' ? periods.msToNextDay : periods.msToNextMonth;
  expect(Math.abs((err.retryAfterMs ?? 0) - reset)).toBeLessThan(60_000);
}

describe('a budget spent to the cent', () => {
  for (const period of ['day', 'month'] as const) {
    it(`in memory: the ${period === 'day' ? 'daily' : 'monthly'} budget admits no more calls and waits for its reset`, () =>
      spentToTheCent({ redis: undefined, failurePolicy: 'local' }, period));
  }
});

describe('a burst across two replicas sharing a real Redis', () => {
  const redis = redisReplicas();

  it('stops once the holds of both replicas cover what is left', async () => {
    const replicas = redis.clients.map((c) => controller({ redis: c, failurePolicy: 'closed' }));
    const outcomes = await Promise.all(Array.from({ length: 200 }, (_, i) => call(replicas[i % 2]!.access)));
    await settled();
    const spent = (await replicas[0]!.budgets.spent('k')).day;
    const passed = outcomes.filter((o) => o === 'OK').length;
    expect(outcomes.filter((o) => o !== 'OK').every((o) => o === 'BUDGET_EXHAUSTED')).toBe(true);
    expect(spent).toBeCloseTo(passed * ACTUAL_COST, 9);
    expect(spent).toBeLessThanOrEqual(BUDGET + MAX_COST);
    // Every hold was released once its call was charged.
    expect(await redis.clients[0]!.hlen('llmo:budget:k:held')).toBe(0);
  });

  for (const period of ['day', 'month'] as const) {
    it(`the ${period === 'day' ? 'daily' : 'monthly'} budget spent to the cent admits no more calls and waits for its reset`, () =>
      spentToTheCent({ redis: redis.clients[0], failurePolicy: 'closed' }, period));
  }

  it('drops a hold whose replica never released it once it expires', async () => {
    const budgets = new Budgets({ redis: redis.clients[0], failurePolicy: 'closed' });
    const limits = { usdPerDay: 1, usdPerMonth: undefined };
    const lost = await budgets.reserve('lost', limits, 1, 100);
    expect(lost.admitted).toBe(true);
    expect((await budgets.reserve('lost', limits, 0.5, 100)).admitted).toBe(false);
    await sleep(150);
    expect((await budgets.reserve('lost', limits, 0.5, 100)).admitted).toBe(true);
  });

  it('drops an expired hold while a longer one keeps the holds alive', async () => {
    const budgets = new Budgets({ redis: redis.clients[0], failurePolicy: 'closed' });
    const limits = { usdPerDay: 1, usdPerMonth: undefined };
    expect((await budgets.reserve('outlived', limits, 0.96, 100)).admitted).toBe(true);
    expect((await budgets.reserve('outlived', limits, 0.05, 60_000)).admitted).toBe(true);
    await sleep(150);
    const after = await budgets.reserve('outlived', limits, 0.5, 60_000);
    expect(after).toMatchObject({ admitted: true });
    expect(after.heldUsd).toBeCloseTo(0.05, 12);
  });

  it('counts what calls in flight on another replica hold against a monthly budget', async () => {
    const [a, b] = redis.clients.map((c) => new Budgets({ redis: c, failurePolicy: 'closed' })) as [Budgets, Budgets];
    const limits = { usdPerDay: undefined, usdPerMonth: 1 };
    // Admitted while anything is left: the first call may hold the whole budget.
    expect((await a.reserve('monthly', limits, 1, 60_000)).admitted).toBe(true);
    const refused = await b.reserve('monthly', limits, 0.01, 60_000);
    expect(refused).toMatchObject({ admitted: false, over: 'month', spend: { month: 0 } });
    expect(refused.heldUsd).toBe(1);
  });

  it('counts spend Redis refused to take (maxmemory reached) against the budget: a spent key is refused as spent', async () => {
    const budgets = new Budgets({ redis: redis.clients[0], failurePolicy: 'closed' });
    const limits = { usdPerDay: 1, usdPerMonth: undefined };
    // Spent earlier, by another replica.
    await redis.clients[1]!.incrbyfloat(`llmo:budget:unconfirmed:d:${periodsOf(new Date()).day}`, 0.2);
    await redis.clients[1]!.eval("redis.call('SET', KEYS[1], string.rep('x', 3000000)) return 1", 1, 'filler');
    await redis.clients[1]!.config('SET', 'maxmemory', '1mb');
    try {
      // Refused by Redis (this replica's first write, so its script writes nothing before the
      // refused one: Redis lets a script that has already written go on): kept, and counted meanwhile.
      await budgets.add('unconfirmed', 0.9);
      const refused = await budgets.reserve('unconfirmed', limits, 0.01, 60_000);
      expect(refused).toMatchObject({ admitted: false, over: 'day' });
      expect(refused.spend.day).toBeCloseTo(1.1, 12);
    } finally {
      await redis.clients[1]!.config('SET', 'maxmemory', '0');
      await redis.clients[1]!.del('filler');
    }
  });

  it("holds a call's budget as long as its deadline allows, past the default hold, and a shorter hold never shortens it", async () => {
    const store: LimiterStore = { redis: redis.clients[1], failurePolicy: 'closed' };
    const keys = new ApiKeyStore([{ ...keySpecs[0]!, name: 'slow', budgets: { usdPerDay: 1, usdPerMonth: undefined } }]);
    const access = new AccessController(keys, new RateLimits(store, NO_LIMITS, keys.all()), new Budgets(store), prices);
    const principal = { name: 'slow', allowedModels: ['*'] };
    const key = 'llmo:budget:slow:held';
    const hour = 60 * 60_000;
    const long = await access.admit({
      principal,
      models: ['m'],
      estimatedTokens: ESTIMATED_TOKENS,
      outputTokens: ESTIMATED_TOKENS,
      deadline: Date.now() + hour,
    });
    const [entry] = Object.values(await redis.clients[1]!.hgetall(key));
    const expiresAt = Number(entry?.split(' ')[1]);
    expect(expiresAt).toBeGreaterThanOrEqual(Date.now() + hour - 1_000);
    // A call without a deadline of its own holds for the default 15 minutes: the hash keeps the longer life.
    const short = await access.admit({ principal, models: ['m'], estimatedTokens: ESTIMATED_TOKENS, outputTokens: ESTIMATED_TOKENS });
    expect(await redis.clients[1]!.pttl(key)).toBeGreaterThan(hour - 60_000);
    for (const ticket of [long, short]) ticket.close();
    await settled();
  });

  it('releases a hold whose release came while the connection to Redis was down, once it is back', async () => {
    const client = await connectRedis(redis.url, pino({ level: 'silent' }));
    try {
      const budgets = new Budgets({ redis: client, failurePolicy: 'local' });
      const limits = { usdPerDay: 1, usdPerMonth: undefined };
      const held = await budgets.reserve('blip', limits, 0.9, 60_000);
      expect(held.admitted).toBe(true);
      // The connection drops (Redis itself keeps its data) just as the call ends.
      const id = (await client.client('ID')) as number;
      await redis.clients[0]!.client('KILL', 'ID', String(id));
      await eventually(
        async () => client.status,
        (status) => status !== 'ready',
      );
      if (held.admitted) await held.release();
      const holds = await eventually(
        () => redis.clients[0]!.hlen('llmo:budget:blip:held'),
        (n) => n === 0,
      );
      expect(holds).toBe(0);
      expect((await budgets.reserve('blip', limits, 0.5, 60_000)).admitted).toBe(true);
    } finally {
      client.disconnect();
    }
  });

  it('releases every hold of several keys whose releases came while the connection was down, once it is back', async () => {
    const client = await connectRedis(redis.url, pino({ level: 'silent' }));
    try {
      const budgets = new Budgets({ redis: client, failurePolicy: 'local' });
      const limits = { usdPerDay: 1, usdPerMonth: undefined };
      const holds = await Promise.all(
        ['blip-a', 'blip-a', 'blip-a', 'blip-b', 'blip-b'].map((k) => budgets.reserve(k, limits, 0.1, 60_000)),
      );
      const id = (await client.client('ID')) as number;
      await redis.clients[0]!.client('KILL', 'ID', String(id));
      await eventually(
        async () => client.status,
        (status) => status !== 'ready',
      );
      for (const held of holds) if (held.admitted) await held.release();
      const left = await eventually(
        async () => (await redis.clients[0]!.hlen('llmo:budget:blip-a:held')) + (await redis.clients[0]!.hlen('llmo:budget:blip-b:held')),
        (n) => n === 0,
      );
      expect(left).toBe(0);
    } finally {
      client.disconnect();
    }
  });

  it('keeps a day of spend in Redis for two days and a month of it for 32 days, whatever the key is called', async () => {
    const budgets = new Budgets({ redis: redis.clients[0], failurePolicy: 'closed' });
    const { day, month } = periodsOf(new Date());
    // "d" and "m" are also what tells a day's counter from a month's in its name.
    for (const name of ['kept', 'd', 'm']) {
      await budgets.add(name, 0.1);
      const dayTtl = await redis.clients[1]!.ttl(`llmo:budget:${name}:d:${day}`);
      const monthTtl = await redis.clients[1]!.ttl(`llmo:budget:${name}:m:${month}`);
      expect(dayTtl, name).toBeGreaterThan(2 * 86_400 - 60);
      expect(dayTtl, name).toBeLessThanOrEqual(2 * 86_400);
      expect(monthTtl, name).toBeGreaterThan(32 * 86_400 - 60);
      expect(monthTtl, name).toBeLessThanOrEqual(32 * 86_400);
    }
  });

  it('writes what a replica spent while its connection was down as soon as it is back, with no further call', async () => {
    const client = await connectRedis(redis.url, pino({ level: 'silent' }));
    try {
      const budgets = new Budgets({ redis: client, failurePolicy: 'local' });
      const id = (await client.client('ID')) as number;
      await redis.clients[0]!.client('KILL', 'ID', String(id));
      await eventually(
        async () => client.status,
        (status) => status !== 'ready',
      );
      await budgets.add('offline', 0.5);
      // The other replica reads Redis: it sees the spend once this one reconnects, without another charge to carry it.
      const seen = await eventually(
        async () => Number(await redis.clients[1]!.get(`llmo:budget:offline:d:${periodsOf(new Date()).day}`)),
        (usd) => usd > 0,
      );
      expect(seen).toBeCloseTo(0.5, 12);
    } finally {
      client.disconnect();
    }
  });

  it("forgets each charge's id once Redis has answered it: a busy replica's ids do not pile up in Redis", async () => {
    const ids = async (): Promise<number> => {
      let n = 0;
      for (const key of await redis.clients[1]!.keys('llmo:budget:writes:*')) n += await redis.clients[1]!.hlen(key);
      return n;
    };
    const before = await ids();
    const budgets = new Budgets({ redis: redis.clients[0], failurePolicy: 'closed' });
    for (let i = 0; i < 50; i++) await budgets.add('busy', 0.001);
    // The last id is forgotten with the next charge.
    expect((await ids()) - before).toBeLessThanOrEqual(1);
  });

  it('charges spend once when Redis ran a charge only after it was given up on', async () => {
    const budgets = new Budgets({ redis: redis.clients[0], failurePolicy: 'local' });
    await budgets.add('late', 0.25);
    redis.freeze();
    // Given up on after the command timeout, kept to be sent again; Redis runs it when it answers.
    await budgets.add('late', 0.5).finally(() => redis.thaw());
    await budgets.add('late', 0.125);
    await budgets.flush();
    expect(Number(await redis.clients[1]!.get(`llmo:budget:late:d:${periodsOf(new Date()).day}`))).toBeCloseTo(0.875, 12);
    expect((await budgets.spent('late')).day).toBeCloseTo(0.875, 12);
  });

  it('leaves no hold behind for a reservation Redis took too long to answer', async () => {
    const budgets = new Budgets({ redis: redis.clients[0], failurePolicy: 'local' });
    const limits = { usdPerDay: 1, usdPerMonth: undefined };
    redis.freeze();
    // Given up on after the command timeout: admitted against this process's own spend.
    const reservation = await budgets.reserve('slow', limits, 0.9, 60_000).finally(() => redis.thaw());
    expect(reservation.admitted).toBe(true);
    if (reservation.admitted) await reservation.release();
    // Redis ran the reservation once it answered again; the call is long over.
    const holds = await eventually(
      () => redis.clients[1]!.hlen('llmo:budget:slow:held'),
      (n) => n === 0,
    );
    expect(holds).toBe(0);
    expect((await budgets.reserve('slow', limits, 0.5, 60_000)).admitted).toBe(true);
  });
});
