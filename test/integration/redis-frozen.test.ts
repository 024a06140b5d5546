import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { connectRedis } from '../../src/access/redis.js';
import { accessFile, sha } from '../helpers/access-file.js';
import { eventually } from '../helpers/eventually.js';
import { callUnary } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { startRedis, type RedisProcess } from '../helpers/redis.js';

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

/** A Redis that stops answering but keeps its connections open: what a hung host or a black-holed network looks like. */
describe('a Redis that stops answering', () => {
  let redis: RedisProcess;
  let h: Harness;
  beforeAll(async () => {
    redis = await startRedis();
    const rosa = `    - { name: rosa, sha256: ${sha('rosa-secret')}, limits: { requests_per_minute: 100 }, budgets: { usd_per_day: 1 } }\n`;
    h = await startHarness({ env: { CONFIG_FILE: accessFile(rosa), REDIS_URL: redis.url, REDIS_FAILURE_POLICY: 'local' } });
  }, 20_000);
  afterAll(async () => {
    redis?.thaw();
    await h?.close();
    await redis?.stop();
  });

  it('is given up on per command: calls with limits, budgets and the cache are served under REDIS_FAILURE_POLICY=local', async () => {
    const chat = h.clients.chat.chat.bind(h.clients.chat);
    const ask = (prompt: string, key: string) =>
      callUnary(chat, { model: 'gpt-4o-mini', prompt, messages: [], temperature: 0 }, { metadata: bearer(key), deadlineMs: 8_000 }).then(
        () => 'OK',
        (err: grpc.ServiceError) => grpc.status[err.code],
      );
    expect(await ask('before', 'rosa-secret')).toBe('OK');
    redis.freeze();
    const started = Date.now();
    // A key with a limit and a budget, and one with neither (the response cache still asks Redis).
    expect(await ask('while frozen', 'rosa-secret')).toBe('OK');
    expect(await ask('cacheable while frozen', 'erin-secret')).toBe('OK');
    // Each of the few commands a call makes waits at most the command timeout, not the deadline.
    expect(Date.now() - started).toBeLessThan(6_000);
  }, 30_000);
});

describe('a call whose deadline passes while Redis does not answer', () => {
  let redis: RedisProcess;
  let h: Harness;
  beforeAll(async () => {
    redis = await startRedis();
    const rosa = `    - { name: rosa, sha256: ${sha('rosa-secret')}, limits: { requests_per_minute: 100 }, budgets: { usd_per_day: 1 } }\n`;
    h = await startHarness({ env: { CONFIG_FILE: accessFile(rosa), REDIS_URL: redis.url, REDIS_FAILURE_POLICY: 'local' } });
  }, 20_000);
  afterAll(async () => {
    redis?.thaw();
    await h?.close();
    await redis?.stop();
  });

  it('ends at its deadline (504 on HTTP), not once the limit and budget checks give up on Redis', async () => {
    const post = () =>
      fetch(`${h.app.http?.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer rosa-secret', 'x-request-timeout-ms': '150' },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
      });
    expect((await post()).status).toBe(200);
    redis.freeze();
    const started = Date.now();
    const res = await post();
    const took = Date.now() - started;
    expect(res.status).toBe(504);
    // The budget's script alone waits the 500 ms command timeout, and the limit's command after it.
    expect(took).toBeLessThan(450);
  }, 20_000);
});

describe('the response cache on a Redis that stops answering', () => {
  let redis: RedisProcess;
  let h: Harness;
  beforeEach(async () => {
    redis = await startRedis();
    h = await startHarness({ env: { CONFIG_FILE: accessFile(), REDIS_URL: redis.url } });
  }, 20_000);
  afterEach(async () => {
    redis?.thaw();
    await h?.close();
    await redis?.stop();
  });

  it('does not hold an answer for its write: the call still gets it within its deadline', async () => {
    h.upstream.injectFault({ kind: 'delay', delayMs: 300 });
    // Frozen while the upstream answers: the lookup went through, the write after the answer waits.
    const freezing = setTimeout(() => redis.freeze(), 100);
    const chat = h.clients.chat.chat.bind(h.clients.chat);
    const outcome = await callUnary(
      chat,
      { model: 'gpt-4o-mini', prompt: 'cached later', messages: [], temperature: 0 },
      { metadata: bearer('erin-secret'), deadlineMs: 700 },
    ).then(
      () => 'OK',
      (err: grpc.ServiceError) => grpc.status[err.code],
    );
    clearTimeout(freezing);
    expect(outcome).toBe('OK');
  }, 20_000);

  it('does not hold a call past its deadline for its lookup', async () => {
    redis.freeze();
    const started = Date.now();
    const res = await fetch(`${h.app.http?.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer erin-secret', 'x-request-timeout-ms': '150' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], temperature: 0 }),
    });
    const took = Date.now() - started;
    expect(res.status).toBe(504);
    expect(took).toBeLessThan(450);
  }, 20_000);
});

describe('the Redis connection to a Redis that stops answering', () => {
  it('is dropped and logged once: the commands waiting on it are let go, later ones fail at once, and it is made again when Redis answers', async () => {
    const redis = await startRedis();
    const messages: string[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void messages.push(String(JSON.parse(line).msg)) });
    const client = await connectRedis(redis.url, log);
    const unreachable = () => messages.filter((m) => m.startsWith('redis unreachable')).length;
    try {
      redis.freeze();
      // Calls keep coming while it hangs: each timed-out command must not stay queued for the whole outage.
      await Promise.all(Array.from({ length: 2_000 }, (_, i) => client.get(`k${i}`).catch(() => undefined)));
      // The warning comes with the socket's error, the queue is let go when the socket closes just
      // after: both, while Redis still hangs. At most the new connection's own ready check waits on it.
      const seen = await eventually(
        () => Promise.resolve({ logged: unreachable(), queued: client.commandQueue.length }),
        ({ logged, queued }) => logged > 0 && queued <= 1,
        10_000,
      );
      expect(seen.logged).toBe(1);
      expect(seen.queued).toBeLessThanOrEqual(1);
      const started = Date.now();
      for (let i = 0; i < 10; i++) await client.get('later').catch(() => undefined);
      // Not 10 times the 500 ms command timeout.
      expect(Date.now() - started).toBeLessThan(2_500);
      redis.thaw();
      await eventually(
        () =>
          client.set('back', '1').then(
            () => true,
            () => false,
          ),
        (ok) => ok,
        15_000,
      );
      expect(unreachable()).toBe(1);
      expect(messages.filter((m) => m === 'redis reachable again: shared state restored')).toHaveLength(1);
    } finally {
      redis.thaw();
      client.disconnect();
      await redis.stop();
    }
  }, 40_000);
});

describe('the Redis connection through two outages', () => {
  it('logs each outage once and each return once', async () => {
    const redis = await startRedis();
    const messages: string[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void messages.push(String(JSON.parse(line).msg)) });
    const client = await connectRedis(redis.url, log);
    const count = (prefix: string) => messages.filter((m) => m.startsWith(prefix)).length;
    const answers = () =>
      client.set('up', '1').then(
        () => true,
        () => false,
      );
    try {
      for (const outage of [1, 2]) {
        await redis.stop();
        await eventually(
          async () => count('redis unreachable'),
          (n) => n === outage,
          5_000,
        );
        await redis.start();
        await eventually(answers, (ok) => ok, 10_000);
        expect({ outage, unreachable: count('redis unreachable'), back: count('redis reachable again') }).toEqual({
          outage,
          unreachable: outage,
          back: outage,
        });
      }
    } finally {
      client.disconnect();
      await redis.stop();
    }
  }, 40_000);
});
