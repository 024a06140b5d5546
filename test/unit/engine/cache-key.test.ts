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

describe('the cache key and prompt cache markers', () => {
  const key = (
    messages: Parameters<typeof cacheKey>[0]['messages'],
    tools?: NonNullable<Parameters<typeof cacheKey>[0]['tooling']>['tools'],
  ) =>
    cacheKey({
      model: { id: 'claude', servedBy: 'anthropic', upstreamId: 'claude-1' },
      messages,
      temperature: 0,
      maxTokens: 100,
      ...(tools ? { tooling: { tools } } : {}),
    });
  const hour = { ttl: '1h' } as const;

  it('is the same with a marker or without one: on a message, a part, a tool', () => {
    expect(
      key([
        { role: 'system', content: 'doc', cache: hour },
        { role: 'user', content: 'q' },
      ]),
    ).toBe(
      key([
        { role: 'system', content: 'doc' },
        { role: 'user', content: 'q' },
      ]),
    );
    const parts = [
      { type: 'text', text: 'a' },
      { type: 'text', text: 'b' },
    ] as const;
    expect(key([{ role: 'user', content: 'ab', parts: [{ ...parts[0], cache: hour }, parts[1]] }])).toBe(
      key([{ role: 'user', content: 'ab', parts: [...parts] }]),
    );
    const tool = { name: 'f', description: 'does f' };
    expect(key([{ role: 'user', content: 'q' }], [{ ...tool, cache: hour }])).toBe(key([{ role: 'user', content: 'q' }], [tool]));
  });

  it('reads text parts a door kept only for their markers as the text they join to, as that door reads them unmarked', () => {
    const marked = key([
      {
        role: 'user',
        content: 'ab',
        parts: [
          { type: 'text', text: 'a', cache: { ttl: '5m' } },
          { type: 'text', text: 'b' },
        ],
        joinedParts: true,
      },
    ]);
    expect(marked).toBe(key([{ role: 'user', content: 'ab' }]));
  });
});
