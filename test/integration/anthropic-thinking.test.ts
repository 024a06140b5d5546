import { afterAll, beforeAll, describe, it } from 'vitest';
import { expectAnswerAfterThinking, startThinkingGateway, type ThinkingGateway } from '../helpers/thinking-model.js';

const event = (data: { type: string }) => `event: ${data.type}\ndata: ${JSON.stringify(data)}\n\n`;

/**
 * A model behind the Messages API that thinks before it answers (Anthropic-compatible servers
 * stream thinking blocks by default for their reasoning models): thinking_delta events come long
 * before the first text_delta.
 */
describe('an Anthropic-compatible model that thinks longer than the first-token timeout', () => {
  let gateway: ThinkingGateway;
  beforeAll(async () => {
    const message = {
      id: 'msg_1',
      type: 'message',
      role: 'assistant',
      content: [],
      model: 'think-1',
      usage: { input_tokens: 5, output_tokens: 1 },
    };
    gateway = await startThinkingGateway('anthropic', {
      opening: [
        { type: 'message_start', message },
        { type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '' } },
      ]
        .map(event)
        .join(''),
      piece: () =>
        event({ type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'hmm ' } } as { type: string }),
      answer: [
        { type: 'content_block_stop', index: 0 },
        { type: 'content_block_start', index: 1, content_block: { type: 'text', text: '' } },
        { type: 'content_block_delta', index: 1, delta: { type: 'text_delta', text: 'The answer.' } },
        { type: 'content_block_stop', index: 1 },
        { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 30 } },
        { type: 'message_stop' },
      ]
        .map(event)
        .join(''),
    });
  });
  afterAll(async () => {
    await gateway?.close();
  });

  it('is not given up as stalled: its thinking is progress, and the answer streams', async () => {
    await expectAnswerAfterThinking(gateway.h);
  }, 20_000);
});
