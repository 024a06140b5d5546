import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { connectRedis } from '../../../src/access/redis.js';
import { ResponseCache } from '../../../src/cache/response-cache.js';
import { ZERO_USAGE } from '../../../src/domain/chat.js';
import type { Answer } from '../../../src/engine/index.js';
import { eventually } from '../../helpers/eventually.js';
import { redisReplicas } from '../../helpers/redis.js';

const MIB = 1024 * 1024;
/** The signal of a call that goes on. */
const live = new AbortController().signal;

function answer(content: string): Answer {
  return {
    content,
    model: 'gpt-4o',
    provider: 'openai',
    finishReason: 'stop',
    usage: { ...ZERO_USAGE },
    costUsd: 0,
    latencyMs: 1,
    attempts: [],
  };
}

function cache(maxBytes: number, maxEntries = 10_000): ResponseCache {
  return new ResponseCache({ ttlMs: 60_000, staleTtlMs: 60_000, maxEntries, maxBytes, redis: undefined });
}

describe('the in-memory response cache', () => {
  it('holds no more than CACHE_MAX_BYTES of answers: the least recently used large answers leave first', async () => {
    const c = cache(MIB);
    // 200,000 characters weigh about 400 KB each: two fit in 1 MiB, three do not.
    await c.set('a', answer('a'.repeat(200_000)));
    await c.set('b', answer('b'.repeat(200_000)));
    await c.get('a', live);
    await c.set('c', answer('c'.repeat(200_000)));
    expect(await c.get('b', live)).toBeUndefined();
    expect((await c.get('a', live))?.answer.content).toHaveLength(200_000);
    expect((await c.get('c', live))?.answer.content).toHaveLength(200_000);
  });

  it('does not store an answer larger than CACHE_MAX_BYTES, and keeps what it had', async () => {
    const c = cache(MIB);
    await c.set('small', answer('hello'));
    await c.set('huge', answer('x'.repeat(600_000)));
    expect(await c.get('huge', live)).toBeUndefined();
    expect((await c.get('small', live))?.answer.content).toBe('hello');
  });

  it('weighs a refusal as it weighs the text: refused answers hold no more than CACHE_MAX_BYTES either', async () => {
    const c = cache(MIB);
    const refused = (words: string): Answer => ({ ...answer(''), refusal: words });
    await c.set('a', refused('a'.repeat(200_000)));
    await c.set('b', refused('b'.repeat(200_000)));
    await c.set('c', refused('c'.repeat(200_000)));
    expect(await c.get('a', live)).toBeUndefined();
    await c.set('huge', refused('x'.repeat(600_000)));
    expect(await c.get('huge', live)).toBeUndefined();
  });

  it('still bounds the count by CACHE_MAX_ENTRIES', async () => {
    const c = cache(64 * MIB, 2);
    await c.set('1', answer('one'));
    await c.set('2', answer('two'));
    await c.set('3', answer('three'));
    expect(await c.get('1', live)).toBeUndefined();
    expect((await c.get('3', live))?.answer.content).toBe('three');
  });
});

describe('the response cache in a real Redis', () => {
  const redis = redisReplicas();
  const shared = (client: Redis, ttlMs = 60_000, staleTtlMs = 600_000) =>
    new ResponseCache({ ttlMs, staleTtlMs, maxEntries: 10_000, maxBytes: 64 * MIB, redis: client });

  it('answers every replica, fresh within the TTL and stale after it, and leaves Redis at the stale TTL', async () => {
    const [a, b] = redis.clients.map((c) => shared(c, 100)) as [ResponseCache, ResponseCache];
    await a.set('k1', answer('from a'));
    // Sent, not confirmed: another connection may ask before Redis ran it.
    const read = await eventually(
      () => b.get('k1', live),
      (entry) => entry !== undefined,
    );
    expect(read).toMatchObject({ answer: { content: 'from a' }, stale: false });
    const ttl = await redis.clients[1]!.pttl('llmo:cache:k1');
    expect(ttl).toBeGreaterThan(600_000 - 5_000);
    expect(ttl).toBeLessThanOrEqual(600_000);
    await new Promise((r) => setTimeout(r, 120));
    expect(await b.get('k1', live)).toMatchObject({ answer: { content: 'from a' }, stale: true });
  });

  it('keeps nothing in the replica: an entry gone from Redis is gone for every replica, the one that stored it included', async () => {
    const a = shared(redis.clients[0]!);
    await a.set('k2', answer('evicted'));
    // Its own connection runs commands in order: once this answers, the write has run.
    await redis.clients[0]!.exists('llmo:cache:k2');
    await redis.clients[1]!.del('llmo:cache:k2');
    expect(await a.get('k2', live)).toBeUndefined();
  });

  it('misses on a value it cannot read, and never reports an age below zero for an entry a replica ahead of this clock stored', async () => {
    const a = shared(redis.clients[0]!);
    for (const raw of ['not json', '{"storedAt": 1}', '{"answer": {"content": "x"}}', 'null', '[1]']) {
      await redis.clients[1]!.set('llmo:cache:odd', raw);
      expect(await a.get('odd', live)).toBeUndefined();
    }
    await redis.clients[1]!.set('llmo:cache:ahead', JSON.stringify({ answer: answer('ahead'), storedAt: Date.now() + 60_000 }));
    const ahead = await a.get('ahead', live);
    expect(ahead).toMatchObject({ answer: { content: 'ahead' }, stale: false });
    expect(ahead!.storedAt).toBeLessThanOrEqual(Date.now());
  });

  it('is skipped while Redis is unreachable: nothing is stored and every lookup misses', async () => {
    const client = await connectRedis(redis.url, pino({ level: 'silent' }));
    try {
      const a = shared(client);
      await a.set('k3', answer('before'));
      const id = (await client.client('ID')) as number;
      await redis.clients[1]!.client('KILL', 'ID', String(id));
      await eventually(
        async () => client.status,
        (status) => status !== 'ready',
      );
      await a.set('k4', answer('while down'));
      expect(await a.get('k3', live)).toBeUndefined();
      expect(await a.get('k4', live)).toBeUndefined();
    } finally {
      client.disconnect();
    }
  });
});
