import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reportedUsageUpstream, type ReportedUsage } from '../../../helpers/reported-usage.js';

/**
 * xAI counts a reasoning model's thinking apart from completion_tokens (OpenAI counts it within):
 * its total_tokens is prompt + completion + reasoning.
 */
let upstream: ReportedUsage;
beforeAll(async () => {
  upstream = await reportedUsageUpstream('xai', 'grok');
});
afterAll(() => upstream.close());

describe('usage whose reasoning tokens are counted apart from completion_tokens (xAI)', () => {
  it('charges the reasoning as completion tokens, as the total the upstream reported does, unary and streamed', async () => {
    upstream.set({ prompt_tokens: 32, completion_tokens: 9, total_tokens: 326, completion_tokens_details: { reasoning_tokens: 285 } });
    const expected = { promptTokens: 32, completionTokens: 294, totalTokens: 326, cachedTokens: 0, reasoningTokens: 285 };
    expect(await upstream.both()).toEqual([expected, expected]);
  });

  it('leaves OpenAI’s counts, whose completion_tokens hold the reasoning, as they are', async () => {
    upstream.set({ prompt_tokens: 32, completion_tokens: 294, total_tokens: 326, completion_tokens_details: { reasoning_tokens: 285 } });
    const expected = { promptTokens: 32, completionTokens: 294, totalTokens: 326, cachedTokens: 0, reasoningTokens: 285 };
    expect(await upstream.both()).toEqual([expected, expected]);
  });
});
