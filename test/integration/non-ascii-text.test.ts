import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeConfigFile } from '../helpers/config-file.js';
import { callUnary, collectStream, streamRequest } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';

/** Characters of 2, 3 and 4 bytes, and a family emoji (four code points joined by ZWJ). */
const TEXT = 'é中😀👨\u200d👩\u200d👧!';

/**
 * An upstream (OpenAI-compatible at /v1, the Messages API at /v1/messages) that answers TEXT and
 * writes its body in two pieces, 10 ms apart, cut at the byte the prompt names ("cut N": the
 * Nth byte of TEXT in the body), so the cut falls inside a character on a real socket.
 */
function body(path: string, stream: boolean): string {
  const anthropic = path.endsWith('/messages');
  if (!stream) {
    return anthropic
      ? JSON.stringify({
          id: 'msg',
          type: 'message',
          role: 'assistant',
          model: 'm-1',
          content: [{ type: 'text', text: TEXT }],
          stop_reason: 'end_turn',
          usage: { input_tokens: 5, output_tokens: 5 },
        })
      : JSON.stringify({
          id: 'c',
          object: 'chat.completion',
          created: 1,
          model: 'm-1',
          choices: [{ index: 0, message: { role: 'assistant', content: TEXT }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 5, completion_tokens: 5, total_tokens: 10 },
        });
  }
  if (anthropic) {
    const event = (type: string, data: object) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
    return (
      event('message_start', {
        message: { id: 'msg', type: 'message', role: 'assistant', model: 'm-1', content: [], usage: { input_tokens: 5, output_tokens: 1 } },
      }) +
      event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }) +
      event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'say ' } }) +
      event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: TEXT } }) +
      event('content_block_stop', { index: 0 }) +
      event('message_delta', { delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 5 } }) +
      event('message_stop', {})
    );
  }
  const chunk = (delta: object, finish: string | null) =>
    `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm-1', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
  // The first text chunk teaches the provider the chunk's shape: TEXT's chunk is then read by it.
  return `${chunk({ role: 'assistant', content: 'say ' }, null)}${chunk({ content: TEXT }, null)}${chunk({}, 'stop')}data: [DONE]\n\n`;
}

describe('text of several bytes a character, cut between two upstream writes', () => {
  let server: http.Server;
  let h: Harness;
  const cutBytes = Buffer.byteLength(TEXT);
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const request = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { stream?: boolean; messages: { content: unknown }[] };
        const prompt = JSON.stringify(request.messages.at(-1)?.content);
        const cut = Number(/cut (\d+)/.exec(prompt)?.[1] ?? 0);
        const bytes = Buffer.from(body(req.url ?? '', request.stream === true));
        const at = bytes.indexOf(Buffer.from(TEXT)) + cut;
        res.writeHead(200, { 'content-type': request.stream ? 'text/event-stream' : 'application/json' });
        res.write(bytes.subarray(0, at));
        setTimeout(() => res.end(bytes.subarray(at)), 10);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const file = writeConfigFile(`providers:
  - { name: oa, kind: openai, base_url: "${origin}/v1", api_key_env: UP_KEY }
  - { name: an, kind: anthropic, base_url: "${origin}", api_key_env: UP_KEY }
include_builtin_models: false
models:
  - { id: oa-chat, provider: oa, upstream_id: "m-1", context_window: 8000, max_output_tokens: 1000, input_price_per_million: 1, output_price_per_million: 2, family: o, tier: small, quality: 0.5 }
  - { id: an-chat, provider: an, upstream_id: "m-1", context_window: 8000, max_output_tokens: 1000, input_price_per_million: 1, output_price_per_million: 2, family: a, tier: small, quality: 0.5 }
`);
    h = await startHarness({ noOpenAiShorthand: true, env: { CONFIG_FILE: file, DEFAULT_MODEL: 'oa-chat' }, processEnv: { UP_KEY: 'k' } });
  });
  afterAll(async () => {
    await h?.close();
    await new Promise<void>((resolve) => server?.close(() => resolve()));
  });

  for (const model of ['oa-chat', 'an-chat']) {
    it(`reaches the client whole through ${model}: gRPC Chat and StreamChat, HTTP unary and stream`, async () => {
      const http = h.app.http!.url;
      for (let cut = 0; cut <= cutBytes; cut++) {
        const prompt = `cut ${cut}`;
        const { response } = await callUnary(h.clients.chat.chat.bind(h.clients.chat), { model, prompt, messages: [] });
        expect(response.content, `Chat, cut ${cut}`).toBe(TEXT);

        const streamed = await collectStream(h.clients.chat.streamChat(streamRequest({ model, prompt })));
        expect(streamed.error, `StreamChat, cut ${cut}`).toBeUndefined();
        const deltas = streamed.messages.map((m) => (m.event?.$case === 'delta' ? m.event.delta.content : '')).join('');
        expect(deltas, `StreamChat, cut ${cut}`).toBe(`say ${TEXT}`);

        const messages = [{ role: 'user', content: prompt }];
        const unary = await fetch(`${http}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model, messages }),
        });
        const completion = (await unary.json()) as { choices: { message: { content: string } }[] };
        expect(completion.choices[0]?.message.content, `HTTP unary, cut ${cut}`).toBe(TEXT);

        const sse = await fetch(`${http}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model, messages, stream: true }),
        });
        const text = Buffer.from(await sse.arrayBuffer()).toString('utf8');
        const content = text
          .split('\n\n')
          .filter((e) => e.startsWith('data: {'))
          .map((e) => (JSON.parse(e.slice(6)) as { choices: { delta?: { content?: string | null } }[] }).choices[0]?.delta?.content ?? '')
          .join('');
        expect(content, `HTTP stream, cut ${cut}`).toBe(`say ${TEXT}`);
      }
    }, 60_000);
  }
});
