import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenAIProvider } from '../../../../src/providers/openai/provider.js';
import type { ProviderRequest, ProviderStreamEvent } from '../../../../src/providers/types.js';
import { sendChatCompletion } from '../../../helpers/chat-completion.js';
import { type RecordingUpstream, startRecordingUpstream } from '../../../helpers/recording-upstream.js';

/**
 * OpenAI's structured output refusal: `message.refusal` with content null (unary), `delta.refusal`
 * pieces (streamed), finish reason stop. The refusal is the answer's refusal, apart from its content, not a broken response.
 */
const REFUSAL = "I'm sorry, I can't help with that.";
let upstream: RecordingUpstream;
let provider: OpenAIProvider;

beforeAll(async () => {
  upstream = await startRecordingUpstream((body, res) => {
    if (!body.stream) {
      sendChatCompletion(res, { role: 'assistant', content: null, refusal: REFUSAL }, { usage: { prompt: 12, completion: 9 } });
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const chunk = (delta: object, finish: string | null) =>
      `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] })}\n\n`;
    res.write(chunk({ role: 'assistant', content: null, refusal: '' }, null));
    for (const piece of ["I'm sorry, ", "I can't help ", 'with that.']) res.write(chunk({ refusal: piece }, null));
    res.end(`${chunk({}, 'stop')}data: [DONE]\n\n`);
  });
  provider = new OpenAIProvider({ name: 'openai', baseURL: upstream.baseURL, apiKey: 'k' });
});
afterAll(async () => {
  await provider.close();
  await upstream.close();
});

const request = (): ProviderRequest => ({
  upstreamModel: 'm',
  messages: [{ role: 'user', content: 'hi' }],
  temperature: 0,
  maxTokens: 100,
  tooling: { responseFormat: { type: 'json_schema', name: 'r', schema: { type: 'object' }, strict: true } },
  signal: new AbortController().signal,
});

describe('an OpenAI refusal', () => {
  it('unary: answers the refusal apart from the (empty) content, with finish reason content_filter', async () => {
    const answer = await provider.complete(request());
    expect(answer).toMatchObject({ content: '', refusal: REFUSAL, finishReason: 'content_filter', usage: { completionTokens: 9 } });
  });

  it('streamed: relays the refusal pieces as refusal deltas, no text, and ends with finish reason content_filter', async () => {
    const events: ProviderStreamEvent[] = [];
    for await (const event of provider.stream(request())) events.push(event);
    const deltas = events.flatMap((e) => (e.type === 'delta' ? [e] : []));
    expect(deltas.map((e) => e.content).join('')).toBe('');
    expect(deltas.map((e) => e.refusal).join('')).toBe(REFUSAL);
    const end = events.at(-1);
    expect(end?.type === 'end' && end.finishReason).toBe('content_filter');
  });
});
