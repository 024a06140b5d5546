import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrchestratorError, Reason } from '../../../src/domain/errors.js';
import { AnthropicProvider } from '../../../src/providers/anthropic/provider.js';
import type { ProviderRequest, ProviderStreamEvent } from '../../../src/providers/types.js';

/** An Anthropic-compatible upstream on a free port: writes `events`, then ends the response cleanly or cuts it. */
let events: readonly object[] = [];
let cut = false;
let server: http.Server;
let base = '';
beforeAll(async () => {
  server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(events.map((e) => `event: ${(e as { type: string }).type}\ndata: ${JSON.stringify(e)}\n\n`).join(''));
      if (cut) setTimeout(() => res.destroy(), 20);
      else res.end();
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
    events = answer('end_turn');
    cut = false;
    const provider = new AnthropicProvider({ name: 'a', baseURL: base, apiKey: 'k' });
    const { seen, error } = await read(provider.stream(request()));
    expect(error).toBeUndefined();
    expect(seen).toEqual([
      { type: 'delta', content: 'Paris.' },
      { type: 'end', finishReason: 'stop', usage: { promptTokens: 12, completionTokens: 3, totalTokens: 15, cachedTokens: 0 } },
    ]);
  });

  it('without a stop reason, or cut after it, is STREAM_TRUNCATED still', async () => {
    const provider = new AnthropicProvider({ name: 'a', baseURL: base, apiKey: 'k' });
    for (const [stopReason, cutIt] of [
      [null, false],
      ['end_turn', true],
    ] as const) {
      events = answer(stopReason);
      cut = cutIt;
      const { seen, error } = await read(provider.stream(request()));
      expect(seen.some((e) => e.type === 'end')).toBe(false);
      expect(error).toBeInstanceOf(OrchestratorError);
      expect((error as OrchestratorError).reason).toBe(Reason.STREAM_TRUNCATED);
    }
  });
});
