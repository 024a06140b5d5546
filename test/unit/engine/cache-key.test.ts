import { describe, expect, it } from 'vitest';
import type { Sampling } from '../../../src/domain/chat.js';
import { cacheKey } from '../../../src/engine/cache-key.js';

const keyOf = (sampling?: Sampling) =>
  cacheKey({
    model: { id: 'o3', servedBy: 'openai', upstreamId: 'o3' },
    messages: [{ role: 'user', content: 'hi' }],
    temperature: 0,
    maxTokens: 100,
    sampling,
  });

describe('the cache key and reasoning_effort', () => {
  it('differs between requests that differ only in reasoning_effort', () => {
    const keys = new Set([keyOf(), keyOf({ reasoningEffort: 'low' }), keyOf({ reasoningEffort: 'high' })]);
    expect(keys.size).toBe(3);
    expect(keyOf({ seed: 1, reasoningEffort: 'low' })).not.toBe(keyOf({ seed: 1 }));
  });

  it('stays what it was for a request that does not set it, so cached answers keep being found', () => {
    const before = 'cf5dd154a7e20f92dd7bf38b144982becc1291e75c078eb73e3753193e472d44';
    expect(keyOf({ seed: 1 })).toBe(before);
    expect(keyOf({ seed: 1, reasoningEffort: undefined })).toBe(before);
  });
});
