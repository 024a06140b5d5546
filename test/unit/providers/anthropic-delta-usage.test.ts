import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProviderStreamEvent } from '../../../src/providers/types.js';
import { anthropicSseUpstream, streamRequest as request, type AnthropicSse } from '../../helpers/anthropic-sse.js';

let upstream: AnthropicSse;
beforeAll(async () => {
  upstream = await anthropicSseUpstream();
});
afterAll(() => upstream.close());

async function endOf(stream: AsyncIterable<ProviderStreamEvent>): Promise<Extract<ProviderStreamEvent, { type: 'end' }>> {
  let end: ProviderStreamEvent | undefined;
  for await (const event of stream) end = event;
  if (end?.type !== 'end') throw new Error('no end');
  return end;
}

const start = (usage: object) => ({
  type: 'message_start',
  message: { id: 'm1', type: 'message', role: 'assistant', content: [], model: 'm', usage },
});
const text = [
  { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
  { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Paris.' } },
  { type: 'content_block_stop', index: 0 },
];
const stop = (usage: object) => [{ type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage }, { type: 'message_stop' }];

describe("a stream's message_delta usage", () => {
  it('of zero input tokens (SGLang sends them so) keeps the prompt counts message_start reported', async () => {
    upstream.set([
      start({ input_tokens: 12, cache_read_input_tokens: 100, cache_creation_input_tokens: 40, output_tokens: 1 }),
      ...text,
      ...stop({ input_tokens: 0, cache_read_input_tokens: 0, cache_creation_input_tokens: 0, output_tokens: 3 }),
    ]);
    const told: unknown[] = [];
    const provider = upstream.provider();
    const end = await endOf(provider.stream(request({ onAnswerUsage: (u) => told.push(u) })));
    const usage = { promptTokens: 152, completionTokens: 3, totalTokens: 155, cachedTokens: 100, cacheWriteTokens: 40 };
    expect(end.usage).toEqual(usage);
    expect(end.usageEstimated).toBeUndefined();
    expect(told).toEqual([usage]);
  });

  it('of the cumulative counts the Messages API sends replaces message_start’s, and one of none is taken when message_start said none', async () => {
    upstream.set([
      start({ input_tokens: 12, output_tokens: 1 }),
      ...text,
      ...stop({ input_tokens: 15, cache_read_input_tokens: 0, output_tokens: 3 }),
    ]);
    const provider = upstream.provider();
    expect((await endOf(provider.stream(request()))).usage).toEqual({
      promptTokens: 15,
      completionTokens: 3,
      totalTokens: 18,
      cachedTokens: 0,
    });
    // A server that counts the prompt only at the end.
    upstream.set([start({ input_tokens: 0, output_tokens: 0 }), ...text, ...stop({ input_tokens: 9, output_tokens: 3 })]);
    expect((await endOf(provider.stream(request()))).usage.promptTokens).toBe(9);
  });
});

describe('an Anthropic-compatible report that counts no prompt tokens', () => {
  it('streamed (message_start says 0 and message_delta adds no input count) is no report: the estimate is charged', async () => {
    upstream.set([start({ input_tokens: 0, output_tokens: 0 }), ...text, ...stop({ output_tokens: 3 })]);
    const told: unknown[] = [];
    const provider = upstream.provider();
    const end = await endOf(provider.stream(request({ onAnswerUsage: (u) => told.push(u) })));
    expect(end.usageEstimated).toBe(true);
    expect(end.usage.promptTokens).toBeGreaterThan(0);
    expect(told).toEqual([]);
  });
});
