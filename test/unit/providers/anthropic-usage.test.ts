import type { MessageDeltaUsage, Usage } from '@anthropic-ai/sdk/resources/messages';
import { describe, expect, it } from 'vitest';
import { countsOf, tokenUsageOf, withDelta } from '../../../src/providers/anthropic/usage.js';

/** A Messages API usage report: 10 uncached prompt tokens, 100 read from the cache, 50 written to it. */
function usage(fields: Partial<Usage> = {}): Usage {
  return {
    input_tokens: 10,
    output_tokens: 2,
    cache_read_input_tokens: 100,
    cache_creation_input_tokens: 50,
    cache_creation: null,
    inference_geo: null,
    server_tool_use: null,
    service_tier: null,
    ...fields,
  } as Usage;
}

const delta = (fields: Partial<MessageDeltaUsage> & Record<string, unknown>): MessageDeltaUsage =>
  ({
    input_tokens: null,
    cache_read_input_tokens: null,
    cache_creation_input_tokens: null,
    output_tokens: 7,
    ...fields,
  }) as MessageDeltaUsage;

describe("Anthropic's usage report", () => {
  it('keeps the cache writes the report says were for an hour', () => {
    const split = usage({ cache_creation: { ephemeral_5m_input_tokens: 20, ephemeral_1h_input_tokens: 30 } });
    expect(tokenUsageOf(countsOf(split))).toEqual({
      promptTokens: 160,
      completionTokens: 2,
      totalTokens: 162,
      cachedTokens: 100,
      cacheWriteTokens: 50,
      cacheWrite1hTokens: 30,
    });
  });

  it('without the split, or with no one-hour write in it, counts every write as a five-minute one', () => {
    const none = { promptTokens: 160, completionTokens: 2, totalTokens: 162, cachedTokens: 100, cacheWriteTokens: 50 };
    expect(tokenUsageOf(countsOf(usage()))).toEqual(none);
    const fiveMinutes = usage({ cache_creation: { ephemeral_5m_input_tokens: 50, ephemeral_1h_input_tokens: 0 } });
    expect(tokenUsageOf(countsOf(fiveMinutes))).toEqual(none);
  });

  it("takes a stream's split from message_start, or from message_delta when it reports one", () => {
    const start = countsOf(usage({ cache_creation: { ephemeral_5m_input_tokens: 20, ephemeral_1h_input_tokens: 30 } }));
    expect(tokenUsageOf(withDelta(start, delta({}))!).cacheWrite1hTokens).toBe(30);
    const reported = withDelta(
      countsOf(usage()),
      delta({ cache_creation_input_tokens: 50, cache_creation: { ephemeral_5m_input_tokens: 10, ephemeral_1h_input_tokens: 40 } }),
    );
    expect(tokenUsageOf(reported!).cacheWrite1hTokens).toBe(40);
  });
});
