import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrchestratorError, Reason } from '../../../src/domain/errors.js';
import { AnthropicProvider } from '../../../src/providers/anthropic/provider.js';
import type { ProviderRequest, ProviderStreamEvent } from '../../../src/providers/types.js';

/** A proxy in front of the Messages API that leaves out the `event:` lines: each event is its data line alone. */
let events: readonly object[] = [];
let server: http.Server;
let base = '';
beforeAll(async () => {
  server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join(''));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const request = (): ProviderRequest => ({
  upstreamModel: 'm',
  messages: [{ role: 'user', content: 'Name the capital of France, please.' }],
  temperature: 0,
  maxTokens: 100,
  signal: new AbortController().signal,
});

async function read(stream: AsyncIterable<ProviderStreamEvent>): Promise<{ seen: ProviderStreamEvent[]; error: unknown }> {
  const seen: ProviderStreamEvent[] = [];
  try {
    for await (const event of stream) seen.push(event);
  } catch (error) {
    return { seen, error };
  }
  return { seen, error: undefined };
}

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
    events = [start, ...text, ...stop];
    const { seen, error } = await read(new AnthropicProvider({ name: 'a', baseURL: base, apiKey: 'k' }).stream(request()));
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
      events = [start, ...text, { type: 'error', error: { type, message: 'x' } }, ...stop];
      const { seen, error } = await read(new AnthropicProvider({ name: 'a', baseURL: base, apiKey: 'k' }).stream(request()));
      expect(seen).toEqual([{ type: 'delta', content: 'Paris.' }]);
      expect(error).toBeInstanceOf(OrchestratorError);
      expect(error).toMatchObject({ reason, retryable });
    }
  });
});
