import { describe, expect, it } from 'vitest';
import { ResponseCache } from '../../../src/cache/response-cache.js';
import { ZERO_USAGE } from '../../../src/domain/chat.js';
import type { Answer } from '../../../src/engine/index.js';

const MIB = 1024 * 1024;

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
    await c.get('a');
    await c.set('c', answer('c'.repeat(200_000)));
    expect(await c.get('b')).toBeUndefined();
    expect((await c.get('a'))?.answer.content).toHaveLength(200_000);
    expect((await c.get('c'))?.answer.content).toHaveLength(200_000);
  });

  it('does not store an answer larger than CACHE_MAX_BYTES, and keeps what it had', async () => {
    const c = cache(MIB);
    await c.set('small', answer('hello'));
    await c.set('huge', answer('x'.repeat(600_000)));
    expect(await c.get('huge')).toBeUndefined();
    expect((await c.get('small'))?.answer.content).toBe('hello');
  });

  it('still bounds the count by CACHE_MAX_ENTRIES', async () => {
    const c = cache(64 * MIB, 2);
    await c.set('1', answer('one'));
    await c.set('2', answer('two'));
    await c.set('3', answer('three'));
    expect(await c.get('1')).toBeUndefined();
    expect((await c.get('3'))?.answer.content).toBe('three');
  });
});
