import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrchestratorError, Reason } from '../../../src/domain/errors.js';
import { anthropicSseUpstream, readStream, streamRequest, type AnthropicSse } from '../../helpers/anthropic-sse.js';

/** A proxy in front of the Messages API that leaves out the `event:` lines: each event is its data line alone. */
let upstream: AnthropicSse;
beforeAll(async () => {
  upstream = await anthropicSseUpstream({ eventLines: false });
});
afterAll(() => upstream.close());

const start = {
  type: 'message_start',
  message: { id: 'm1', type: 'message', role: 'assistant', content: [], model: 'm', usage: { input_tokens: 12, output_tokens: 1 } },
};
const text = [
  { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
  { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Paris.' } },
];
const stop = [
  { type: 'content_block_stop', index: 0 },
  { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 3 } },
  { type: 'message_stop' },
];

describe('an Anthropic stream without event lines', () => {
  it('is read by the type its data carries', async () => {
    upstream.set([start, ...text, ...stop]);
    const { seen, error } = await readStream(upstream.provider().stream(streamRequest()));
    expect(error).toBeUndefined();
    expect(seen.at(-1)).toMatchObject({ type: 'end', finishReason: 'stop', usage: { promptTokens: 12, completionTokens: 3 } });
  });

  it('fails with the error its error event names, as the named event does, whatever else follows', async () => {
    const cases: [string, Reason, boolean][] = [
      ['overloaded_error', Reason.UPSTREAM_ERROR, true],
      ['rate_limit_error', Reason.UPSTREAM_RATE_LIMITED, true],
      ['invalid_request_error', Reason.UPSTREAM_REJECTED_REQUEST, false],
    ];
    for (const [type, reason, retryable] of cases) {
      upstream.set([start, ...text, { type: 'error', error: { type, message: 'x' } }, ...stop]);
      const { seen, error } = await readStream(upstream.provider().stream(streamRequest()));
      expect(seen).toEqual([{ type: 'delta', content: 'Paris.' }]);
      expect(error).toBeInstanceOf(OrchestratorError);
      expect(error).toMatchObject({ reason, retryable });
    }
  });
});
