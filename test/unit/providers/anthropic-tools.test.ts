import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnthropicProvider } from '../../../src/providers/anthropic/provider.js';
import type { ProviderRequest, ProviderStreamEvent } from '../../../src/providers/types.js';

/** An Anthropic-shaped upstream that answers with one text block and one tool_use block, streamed or not. */
const ARGS = { city: 'Paris', unit: 'celsius' };
const PIECES = ['{"city":', ' "Paris", "un', 'it": "celsius"}'];

function sse(events: [string, unknown][]): string {
  return events.map(([event, data]) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`).join('');
}

const STREAM = sse([
  [
    'message_start',
    {
      type: 'message_start',
      message: { id: 'm1', type: 'message', role: 'assistant', content: [], model: 'c', usage: { input_tokens: 10, output_tokens: 1 } },
    },
  ],
  ['content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }],
  ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Let me check.' } }],
  ['content_block_stop', { type: 'content_block_stop', index: 0 }],
  [
    'content_block_start',
    { type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 'toolu_9', name: 'get_weather', input: {} } },
  ],
  ...PIECES.map((p): [string, unknown] => [
    'content_block_delta',
    { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: p } },
  ]),
  ['content_block_stop', { type: 'content_block_stop', index: 1 }],
  ['message_delta', { type: 'message_delta', delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 20 } }],
  ['message_stop', { type: 'message_stop' }],
]);

/** A tool without input: Anthropic streams one empty input_json_delta (or none) for it. */
const NO_INPUT_STREAM = sse([
  [
    'message_start',
    {
      type: 'message_start',
      message: { id: 'm2', type: 'message', role: 'assistant', content: [], model: 'c', usage: { input_tokens: 10, output_tokens: 1 } },
    },
  ],
  [
    'content_block_start',
    { type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: 'toolu_7', name: 'now', input: {} } },
  ],
  ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '' } }],
  ['content_block_stop', { type: 'content_block_stop', index: 0 }],
  ['message_delta', { type: 'message_delta', delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 5 } }],
  ['message_stop', { type: 'message_stop' }],
]);

/**
 * Some Anthropic-compatible servers (adapters in front of other APIs) put a call's whole input on
 * its content_block_start and stream no input_json_delta, or a text block's first text on its
 * start; the SDK's own stream reader keeps both.
 */
const START_INPUT_STREAM = sse([
  [
    'message_start',
    {
      type: 'message_start',
      message: { id: 'm3', type: 'message', role: 'assistant', content: [], model: 'c', usage: { input_tokens: 10, output_tokens: 1 } },
    },
  ],
  ['content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: 'Let me ' } }],
  ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'check.' } }],
  ['content_block_stop', { type: 'content_block_stop', index: 0 }],
  [
    'content_block_start',
    { type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 'toolu_5', name: 'get_weather', input: ARGS } },
  ],
  ['content_block_stop', { type: 'content_block_stop', index: 1 }],
  ['message_delta', { type: 'message_delta', delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 20 } }],
  ['message_stop', { type: 'message_stop' }],
]);

const UNARY = {
  id: 'm1',
  type: 'message',
  role: 'assistant',
  model: 'c',
  content: [
    { type: 'text', text: 'Let me check.' },
    { type: 'tool_use', id: 'toolu_9', name: 'get_weather', input: ARGS },
  ],
  stop_reason: 'tool_use',
  usage: { input_tokens: 10, output_tokens: 20 },
};

let server: Server;
let provider: AnthropicProvider;
beforeAll(async () => {
  server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const body = JSON.parse(raw) as { stream?: boolean; model?: string };
      if (body.stream) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(body.model === 'no-input' ? NO_INPUT_STREAM : body.model === 'start-input' ? START_INPUT_STREAM : STREAM);
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(UNARY));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  provider = new AnthropicProvider({ name: 'beta', baseURL: `http://127.0.0.1:${port}`, apiKey: 'k' });
});
afterAll(async () => {
  await provider.close();
  await new Promise((resolve) => server.close(resolve));
});

const request = (): ProviderRequest => ({
  upstreamModel: 'c',
  messages: [{ role: 'user', content: 'Weather in Paris?' }],
  temperature: 0,
  maxTokens: 100,
  tooling: { tools: [{ name: 'get_weather', parameters: { type: 'object' } }] },
  signal: new AbortController().signal,
});

describe('Anthropic tool_use answers', () => {
  it('unary: the tool_use block becomes a tool call with its input as JSON text, finish reason tool_calls', async () => {
    const answer = await provider.complete(request());
    expect(answer.content).toBe('Let me check.');
    expect(answer.finishReason).toBe('tool_calls');
    expect(answer.toolCalls).toEqual([{ id: 'toolu_9', name: 'get_weather', arguments: JSON.stringify(ARGS) }]);
  });

  it('streamed: input_json_delta pieces arrive in order as tool-call deltas and assemble on the end event', async () => {
    const events: ProviderStreamEvent[] = [];
    for await (const event of provider.stream(request())) events.push(event);
    const pieces = events.flatMap((e) => (e.type === 'delta' && e.toolCall ? [e.toolCall] : []));
    expect(pieces).toEqual([
      { index: 0, id: 'toolu_9', name: 'get_weather', arguments: '' },
      ...PIECES.map((p) => ({ index: 0, arguments: p })),
    ]);
    const end = events.at(-1);
    expect(end?.type === 'end' && end.finishReason).toBe('tool_calls');
    const calls = end?.type === 'end' ? end.toolCalls : undefined;
    expect(calls).toEqual([{ id: 'toolu_9', name: 'get_weather', arguments: PIECES.join('') }]);
    expect(JSON.parse(calls?.[0]?.arguments ?? '')).toEqual(ARGS);
  });

  it('streamed: a call without input streams {} as its arguments, the pieces adding up to what the end event and unary answer', async () => {
    const events: ProviderStreamEvent[] = [];
    for await (const event of provider.stream({ ...request(), upstreamModel: 'no-input' })) events.push(event);
    const pieces = events.flatMap((e) => (e.type === 'delta' && e.toolCall ? [e.toolCall] : []));
    const end = events.at(-1);
    expect(end?.type === 'end' ? end.toolCalls : undefined).toEqual([{ id: 'toolu_7', name: 'now', arguments: '{}' }]);
    expect(pieces.map((p) => p.arguments).join('')).toBe('{}');
  });

  it('streamed: a call whose input comes whole on its content_block_start, with no input_json_delta, keeps that input', async () => {
    const events: ProviderStreamEvent[] = [];
    for await (const event of provider.stream({ ...request(), upstreamModel: 'start-input' })) events.push(event);
    // So does text a text block starts with.
    expect(events.flatMap((e) => (e.type === 'delta' ? [e.content] : [])).join('')).toBe('Let me check.');
    const pieces = events.flatMap((e) => (e.type === 'delta' && e.toolCall ? [e.toolCall] : []));
    const end = events.at(-1);
    expect(end?.type === 'end' ? end.toolCalls : undefined).toEqual([
      { id: 'toolu_5', name: 'get_weather', arguments: JSON.stringify(ARGS) },
    ]);
    expect(pieces.map((p) => p.arguments).join('')).toBe(JSON.stringify(ARGS));
  });
});
