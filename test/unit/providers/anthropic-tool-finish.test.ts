import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnthropicProvider } from '../../../src/providers/anthropic/provider.js';
import type { ProviderRequest, ProviderStreamEvent } from '../../../src/providers/types.js';

/**
 * An Anthropic-compatible server in front of an OpenAI-compatible engine that ends answers
 * calling tools with finish_reason "stop" (vLLM, older Ollama): its stop reason is end_turn.
 */
let server: http.Server;
let base = '';
const usage = { input_tokens: 12, output_tokens: 9 };
const call = { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } };
beforeAll(async () => {
  server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => {
      raw += c.toString();
    });
    req.on('end', () => {
      const { stream } = JSON.parse(raw) as { stream?: boolean };
      if (!stream) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({ id: 'm1', type: 'message', role: 'assistant', model: 'm', content: [call], stop_reason: 'end_turn', usage }),
        );
        return;
      }
      const events = [
        { type: 'message_start', message: { id: 'm1', type: 'message', role: 'assistant', content: [], model: 'm', usage } },
        { type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: {} } },
        { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '{"city":"Paris"}' } },
        { type: 'content_block_stop', index: 0 },
        { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 9 } },
        { type: 'message_stop' },
      ];
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(events.map((e) => `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`).join(''));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const request = (): ProviderRequest => ({
  upstreamModel: 'm',
  messages: [{ role: 'user', content: 'What is the weather in Paris?' }],
  temperature: 0,
  maxTokens: 100,
  tooling: { tools: [{ name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } }] },
  signal: new AbortController().signal,
});

describe('an Anthropic-compatible answer that calls tools but ends with end_turn', () => {
  it('ends with finish reason tool_calls, unary and streamed, as the OpenAI-compatible provider reads such answers', async () => {
    const provider = new AnthropicProvider({ name: 'a', baseURL: base, apiKey: 'k' });
    const unary = await provider.complete(request());
    expect(unary.toolCalls).toEqual([{ id: 'toolu_1', name: 'get_weather', arguments: '{"city":"Paris"}' }]);
    expect(unary.finishReason).toBe('tool_calls');
    let end: ProviderStreamEvent | undefined;
    for await (const event of provider.stream(request())) end = event;
    expect(end).toMatchObject({ type: 'end', finishReason: 'tool_calls', toolCalls: unary.toolCalls });
  });
});
