/**
 * A canned answer in the two upstream dialects, unary and streamed, as an OpenAI-compatible
 * server and Anthropic's Messages API write them: for tests whose upstream is a raw node:http
 * server that controls how the bytes go out. Five prompt tokens, as the tests' prompts are.
 */
export interface CannedAnswer {
  readonly model: string;
  /** The unary answer's text. */
  readonly content: string;
  /** The streamed answer's text, one delta each. */
  readonly deltas: readonly string[];
  readonly outputTokens: number;
}

export function answerBody(anthropic: boolean, stream: boolean, answer: CannedAnswer): string {
  const { model, content, deltas, outputTokens } = answer;
  if (!stream) {
    return anthropic
      ? JSON.stringify({
          id: 'msg',
          type: 'message',
          role: 'assistant',
          model,
          content: [{ type: 'text', text: content }],
          stop_reason: 'end_turn',
          usage: { input_tokens: 5, output_tokens: outputTokens },
        })
      : JSON.stringify({
          id: 'c',
          object: 'chat.completion',
          created: 1,
          model,
          choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 5, completion_tokens: outputTokens, total_tokens: 5 + outputTokens },
        });
  }
  if (anthropic) {
    const event = (type: string, data: object) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
    return (
      event('message_start', {
        message: { id: 'msg', type: 'message', role: 'assistant', model, content: [], usage: { input_tokens: 5, output_tokens: 1 } },
      }) +
      event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }) +
      deltas.map((text) => event('content_block_delta', { index: 0, delta: { type: 'text_delta', text } })).join('') +
      event('content_block_stop', { index: 0 }) +
      event('message_delta', { delta: { stop_reason: 'end_turn' }, usage: { output_tokens: outputTokens } }) +
      event('message_stop', {})
    );
  }
  const chunk = (delta: object, finish: string | null) =>
    `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
  const text = deltas.map((piece, i) => chunk(i === 0 ? { role: 'assistant', content: piece } : { content: piece }, null)).join('');
  return `${text}${chunk({}, 'stop')}data: [DONE]\n\n`;
}
