import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamChatResponse } from '../../src/gen/orchestrator/v1/chat.js';
import { writeConfigFile } from '../helpers/config-file.js';
import { streamRequest } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Text deltas of each answer, a hundred characters each: 4 MB of text in all. */
const DELTAS = 40_000;
const PIECE = 'x'.repeat(99);

type Wire = { opening: string; delta(text: string): string; closing: string };

const sse = (data: { type: string; [field: string]: unknown }): string => `event: ${data.type}\ndata: ${JSON.stringify(data)}\n\n`;
const chunk = (choice: object): string =>
  `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'long-1', choices: [{ index: 0, ...choice }] })}\n\n`;

const WIRES: Record<'/v1/chat/completions' | '/v1/messages', Wire> = {
  '/v1/chat/completions': {
    opening: chunk({ delta: { role: 'assistant', content: '' }, finish_reason: null }),
    delta: (text) => chunk({ delta: { content: text }, finish_reason: null }),
    closing: `${chunk({ delta: {}, finish_reason: 'stop' })}data: [DONE]\n\n`,
  },
  '/v1/messages': {
    opening:
      sse({
        type: 'message_start',
        message: {
          id: 'msg_1',
          type: 'message',
          role: 'assistant',
          content: [],
          model: 'long-1',
          usage: { input_tokens: 5, output_tokens: 1 },
        },
      }) + sse({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
    delta: (text) => sse({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } }),
    closing: [
      { type: 'content_block_stop', index: 0 },
      { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: DELTAS * 25 } },
      { type: 'message_stop' },
    ]
      .map(sse)
      .join(''),
  },
};

let h: Harness;
let upstream: http.Server;
/** Ends the answer the upstream holds open. */
let finish: (() => void) | undefined;

beforeAll(async () => {
  // Streams every delta (waiting for 'drain' as it goes, so it holds none of them itself), then
  // keeps the answer open until the test ends it.
  upstream = http.createServer((req, res) => {
    req.resume();
    req.on('end', async () => {
      const wire = WIRES[req.url as keyof typeof WIRES];
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(wire.opening);
      for (let i = 0; i < DELTAS; i++) {
        if (!res.write(wire.delta(`${PIECE}${i % 10}`))) await new Promise((resolve) => res.once('drain', resolve));
      }
      finish = () => res.end(wire.closing);
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  const model = (id: string, provider: string): string =>
    `  - { id: ${id}, provider: ${provider}, upstream_id: "long-1", context_window: 2000000, max_output_tokens: 1000000, input_price_per_million: 1, output_price_per_million: 2, family: l, tier: small, quality: 0.5 }`;
  const file = writeConfigFile(`providers:
  - { name: completions, kind: openai, base_url: "${origin}/v1", api_key_env: UPSTREAM_KEY }
  - { name: messages, kind: anthropic, base_url: "${origin}", api_key_env: UPSTREAM_KEY }
include_builtin_models: false
models:
${model('long-completions', 'completions')}
${model('long-messages', 'messages')}
`);
  h = await startHarness({
    noOpenAiShorthand: true,
    env: { CONFIG_FILE: file, DEFAULT_MODEL: 'long-completions' },
    processEnv: { UPSTREAM_KEY: 'k' },
  });
});
afterAll(async () => {
  await h?.close();
  await new Promise<void>((resolve) => upstream?.close(() => resolve()));
});

function heapUsed(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

describe.each(['long-completions', 'long-messages'])('a long answer streamed from %s', (model) => {
  it('is relayed without the gateway keeping the text it relayed', { timeout: 120_000 }, async () => {
    const call = h.clients.chat.streamChat(streamRequest({ model, prompt: 'write at length', maxTokens: 1_000_000 }));
    const ended = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    call.on('error', () => undefined);
    let chars = 0;
    let completed = false;
    call.on('data', (m: StreamChatResponse) => {
      if (m.event?.$case === 'delta') chars += m.event.delta.content.length;
      if (m.event?.$case === 'completed') completed = true;
    });
    for (let waited = 0; waited < 100_000 && (chars < DELTAS * 100 || !finish); waited += 50) await new Promise((r) => setTimeout(r, 50));
    expect(chars).toBe(DELTAS * 100);

    // Every delta has reached the client; the answer is still open upstream.
    const during = heapUsed();
    finish?.();
    finish = undefined;
    expect((await ended).code).toBe(grpc.status.OK);
    expect(completed).toBe(true);
    const after = heapUsed();
    // What the open stream held beyond what it holds once over: its buffers, not 4 MB of text.
    expect(during - after).toBeLessThan(1024 * 1024);
  });
});
