import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeConfigFile } from '../helpers/config-file.js';
import { callUnary, collectStream, streamRequest } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { answerBody } from '../helpers/upstream-bodies.js';

/** Characters of 2, 3 and 4 bytes, and a family emoji (four code points joined by ZWJ). */
const TEXT = 'é中😀👨\u200d👩\u200d👧!';

/**
 * An upstream (OpenAI-compatible at /v1, the Messages API at /v1/messages) that answers TEXT and
 * writes its body in two pieces, 10 ms apart, cut at the byte the prompt names ("cut N": the
 * Nth byte of TEXT in the body), so the cut falls inside a character on a real socket.
 */
function body(path: string, stream: boolean): string {
  // The first text chunk teaches the provider the chunk's shape: TEXT's chunk is then read by it.
  return answerBody(path.endsWith('/messages'), stream, { model: 'm-1', content: TEXT, deltas: ['say ', TEXT], outputTokens: 5 });
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

/**
 * An upstream that, as a JavaScript server slicing UTF-16 can, streams a 4-byte character as two
 * deltas: its halves escaped in JSON (`"\ud83d"`, then `"\ude00"`), each chunk in its own write.
 * The prompt picks the answer; no usage is reported, so the gateway estimates it.
 */
const SPLIT_ANSWERS: Record<string, { content?: string; args?: string }[]> = {
  split: [{ content: 'say ' }, { content: '\ud83d' }, { content: '\ude00!' }],
  whole: [{ content: 'say ' }, { content: '😀' }, { content: '!' }],
  'split-args': [{ args: '{"e":"\ud83d' }, { args: '\ude00"}' }],
  'lone-end': [{ content: 'say ' }, { content: 'a\ud83d' }],
};

describe('a surrogate pair split across two streamed deltas', () => {
  let server: http.Server;
  let h: Harness;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const request = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { messages: { content: unknown }[] };
        const prompt = String(request.messages.at(-1)?.content);
        const pieces = SPLIT_ANSWERS[prompt] ?? [];
        const chunk = (delta: object, finish: string | null) =>
          `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm-1', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
        const writes = pieces.map((p, i) =>
          p.args === undefined
            ? chunk(i === 0 ? { role: 'assistant', content: p.content } : { content: p.content }, null)
            : chunk(
                {
                  tool_calls: [
                    {
                      index: 0,
                      ...(i === 0
                        ? { id: 'call_1', type: 'function', function: { name: 'f', arguments: p.args } }
                        : { function: { arguments: p.args } }),
                    },
                  ],
                },
                null,
              ),
        );
        writes.push(`${chunk({}, pieces[0]?.args === undefined ? 'stop' : 'tool_calls')}data: [DONE]\n\n`);
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const next = (): void => {
          const write = writes.shift();
          if (write === undefined) res.end();
          else {
            res.write(write);
            setTimeout(next, 10);
          }
        };
        next();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const file = writeConfigFile(`providers:
  - { name: oa, kind: openai, base_url: "${origin}/v1", api_key_env: UP_KEY }
include_builtin_models: false
models:
  - { id: oa-chat, provider: oa, upstream_id: "m-1", context_window: 8000, max_output_tokens: 1000, input_price_per_million: 1, output_price_per_million: 2, family: o, tier: small, quality: 0.5 }
`);
    h = await startHarness({ noOpenAiShorthand: true, env: { CONFIG_FILE: file, DEFAULT_MODEL: 'oa-chat' }, processEnv: { UP_KEY: 'k' } });
  });
  afterAll(async () => {
    await h?.close();
    await new Promise<void>((resolve) => server?.close(() => resolve()));
  });

  async function grpcStream(prompt: string) {
    const streamed = await collectStream(h.clients.chat.streamChat(streamRequest({ model: 'oa-chat', prompt })));
    expect(streamed.error, prompt).toBeUndefined();
    const deltas = streamed.messages.flatMap((m) => (m.event?.$case === 'delta' ? [m.event.delta] : []));
    const completed = streamed.messages.flatMap((m) => (m.event?.$case === 'completed' ? [m.event.completed] : []))[0];
    return { deltas, completed };
  }

  async function httpStream(prompt: string) {
    const sse = await fetch(`${h.app.http!.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'oa-chat',
        messages: [{ role: 'user', content: prompt }],
        stream: true,
        stream_options: { include_usage: true },
      }),
    });
    const text = Buffer.from(await sse.arrayBuffer()).toString('utf8');
    type Chunk = {
      choices: { delta?: { content?: string | null; tool_calls?: { function: { arguments: string } }[] } }[];
      usage?: { completion_tokens: number } | null;
    };
    const chunks = text
      .split('\n\n')
      .filter((e) => e.startsWith('data: {'))
      .map((e) => JSON.parse(e.slice(6)) as Chunk);
    const contents = chunks.map((c) => c.choices[0]?.delta?.content ?? '').filter((c) => c !== '');
    const args = chunks.map((c) => c.choices[0]?.delta?.tool_calls?.[0]?.function.arguments ?? '').filter((a) => a !== '');
    const usage = chunks.find((c) => c.usage)?.usage;
    return { contents, args, usage };
  }

  /** No lone surrogate: Python and others cannot encode one. */
  const wellFormed = (text: string): boolean => Buffer.from(text, 'utf8').toString('utf8') === text;

  it('reaches a StreamChat client and an HTTP stream whole, with the usage estimate of the whole character', async () => {
    const whole = await grpcStream('whole');
    const split = await grpcStream('split');
    expect(split.deltas.map((d) => d.content).join('')).toBe('say 😀!');
    expect(split.completed?.usage).toEqual(whole.completed?.usage);
    expect(split.completed?.attempts[0]?.usageEstimated).toBe(true);

    const wholeHttp = await httpStream('whole');
    const splitHttp = await httpStream('split');
    expect(splitHttp.contents.join('')).toBe('say 😀!');
    expect(splitHttp.contents.every(wellFormed), JSON.stringify(splitHttp.contents)).toBe(true);
    expect(splitHttp.usage).toEqual(wholeHttp.usage);
  });

  it("rejoins a tool call's arguments split inside a character", async () => {
    const grpc = await grpcStream('split-args');
    expect(grpc.deltas.map((d) => d.toolCalls[0]?.arguments ?? '').join('')).toBe('{"e":"😀"}');
    expect(grpc.deltas[0]?.toolCalls[0]).toMatchObject({ id: 'call_1', name: 'f' });
    expect(grpc.completed?.toolCalls[0]?.arguments).toBe('{"e":"😀"}');

    const sse = await httpStream('split-args');
    expect(sse.args.join('')).toBe('{"e":"😀"}');
    expect(sse.args.every(wellFormed), JSON.stringify(sse.args)).toBe(true);
  });

  it('sends a half that nothing completed as it came, at the end of the stream', async () => {
    const sse = await httpStream('lone-end');
    expect(sse.contents.join('')).toBe('say a\ud83d');
    const grpc = await grpcStream('lone-end');
    expect(grpc.deltas.map((d) => d.content).join('')).toBe('say a\ufffd');
  });
});
