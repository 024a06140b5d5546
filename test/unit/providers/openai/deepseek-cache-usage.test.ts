import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reportedUsageUpstream, type ReportedUsage } from '../../../helpers/reported-usage.js';

/**
 * DeepSeek names the prompt tokens read from its context cache prompt_cache_hit_tokens, beside prompt_tokens
 * (which holds them), rather than OpenAI's prompt_tokens_details.cached_tokens.
 */
let upstream: ReportedUsage;
beforeAll(async () => {
  upstream = await reportedUsageUpstream('deepseek', 'deepseek-chat');
});
afterAll(() => upstream.close());

describe("usage that names its cache hits DeepSeek's way", () => {
  it('has them as cached prompt tokens, priced at the cached rate, unary and streamed', async () => {
    upstream.set({
      prompt_tokens: 100,
      completion_tokens: 5,
      total_tokens: 105,
      prompt_cache_hit_tokens: 64,
      prompt_cache_miss_tokens: 36,
    });
    const expected = { promptTokens: 100, completionTokens: 5, totalTokens: 105, cachedTokens: 64 };
    expect(await upstream.both()).toEqual([expected, expected]);
  });

  it('takes prompt_tokens_details.cached_tokens when both are there', async () => {
    upstream.set({
      prompt_tokens: 100,
      completion_tokens: 5,
      total_tokens: 105,
      prompt_cache_hit_tokens: 64,
      prompt_tokens_details: { cached_tokens: 64 },
    });
    const expected = { promptTokens: 100, completionTokens: 5, totalTokens: 105, cachedTokens: 64 };
    expect(await upstream.both()).toEqual([expected, expected]);
  });
});
