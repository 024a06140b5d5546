import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrchestratorError, Reason } from '../../../src/domain/errors.js';
import { anthropicSseUpstream, readStream, streamRequest, type AnthropicSse } from '../../helpers/anthropic-sse.js';

let upstream: AnthropicSse;
beforeAll(async () => {
  upstream = await anthropicSseUpstream();
});
afterAll(() => upstream.close());

const answer = (stopReason: string | null) => [
  {
    type: 'message_start',
    message: { id: 'm1', type: 'message', role: 'assistant', content: [], model: 'm', usage: { input_tokens: 12, output_tokens: 1 } },
  },
  { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
  { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Paris.' } },
  { type: 'content_block_stop', index: 0 },
  { type: 'message_delta', delta: { stop_reason: stopReason }, usage: { output_tokens: 3 } },
];

describe('an Anthropic stream that ends without message_stop', () => {
  it('after the stop reason, closed cleanly (as some compatible gateways close it), is the whole answer', async () => {
    upstream.set(answer('end_turn'));
    const { seen, error } = await readStream(upstream.provider().stream(streamRequest()));
    expect(error).toBeUndefined();
    expect(seen).toEqual([
      { type: 'delta', content: 'Paris.' },
      { type: 'end', finishReason: 'stop', usage: { promptTokens: 12, completionTokens: 3, totalTokens: 15, cachedTokens: 0 } },
    ]);
  });

  it('without a stop reason, or cut after it, is STREAM_TRUNCATED still', async () => {
    const provider = upstream.provider();
    for (const [stopReason, cutIt] of [
      [null, false],
      ['end_turn', true],
    ] as const) {
      upstream.set(answer(stopReason), { cut: cutIt });
      const { seen, error } = await readStream(provider.stream(streamRequest()));
      expect(seen.some((e) => e.type === 'end')).toBe(false);
      expect(error).toBeInstanceOf(OrchestratorError);
      expect((error as OrchestratorError).reason).toBe(Reason.STREAM_TRUNCATED);
    }
  });
});
