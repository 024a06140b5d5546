import { execFile } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import OpenAI from 'openai';
import { zodResponseFormat } from 'openai/helpers/zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  type BatchResponse,
  CacheMode,
  type ChatRequest,
  type ResponseFormat,
  ResponseFormatType,
  type StreamChatResponse,
} from '../../src/gen/orchestrator/v1/chat.js';
import { FinishReason } from '../../src/gen/orchestrator/v1/common.js';
import { writeConfigFile } from '../helpers/config-file.js';
import { callUnary, collectStream, streamRequest } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';

/**
 * A structured output refusal from an OpenAI-compatible upstream (`message.refusal`, content null;
 * streamed as `delta.refusal`) is the answer's refusal, apart from its content, on both doors.
 */

const REFUSAL = "I'm sorry, I can't help with that request.";
const PIECES = ["I'm sorry, ", "I can't help ", 'with that request.'];
const Recipe = z.object({ title: z.string(), steps: z.array(z.string()) });
const RECIPE_SCHEMA = {
  type: 'object',
  properties: { title: { type: 'string' }, steps: { type: 'array', items: { type: 'string' } } },
  required: ['title', 'steps'],
  additionalProperties: false,
};
const schemaFormat: ResponseFormat = {
  type: ResponseFormatType.RESPONSE_FORMAT_TYPE_JSON_SCHEMA,
  jsonSchema: { name: 'recipe', description: '', schema: RECIPE_SCHEMA, strict: true },
};

let server: http.Server;
let h: Harness;
let upstreamCalls = 0;
let lastBody: { messages?: unknown[] } = {};
/** Set: the upstream answers 503, so an offline fallback replays what the cache holds. */
let failing = false;
let sdk: OpenAI;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let text = '';
    req.on('data', (chunk: Buffer) => (text += chunk.toString()));
    req.on('end', () => {
      upstreamCalls++;
      if (failing) {
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'down', type: 'server_error' } }));
        return;
      }
      const body = JSON.parse(text) as { stream?: boolean; messages?: unknown[] };
      lastBody = body;
      const head = { id: 'chatcmpl-r', created: 1, model: 'refuser-1', system_fingerprint: 'fp_1' };
      const usage = { prompt_tokens: 30, completion_tokens: 10, total_tokens: 40 };
      if (!body.stream) {
        res.writeHead(200, { 'content-type': 'application/json' });
        const message = { role: 'assistant', content: null, refusal: REFUSAL, annotations: [] };
        res.end(
          JSON.stringify({
            ...head,
            object: 'chat.completion',
            choices: [{ index: 0, message, logprobs: null, finish_reason: 'stop' }],
            usage,
          }),
        );
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const chunk = (fields: object) => `data: ${JSON.stringify({ ...head, object: 'chat.completion.chunk', ...fields })}\n\n`;
      const choice = (delta: object, finish: string | null = null) => ({
        choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      });
      res.write(chunk(choice({ role: 'assistant', content: null, refusal: '' })));
      for (const piece of PIECES) res.write(chunk(choice({ refusal: piece })));
      res.write(chunk(choice({}, 'stop')));
      res.end(`${chunk({ choices: [], usage })}data: [DONE]\n\n`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const file = writeConfigFile(`providers:
  - { name: refuser, kind: openai, base_url: "http://127.0.0.1:${(server.address() as AddressInfo).port}/v1", api_key_env: REFUSER_KEY }
include_builtin_models: false
models:
  - { id: refuser-chat, provider: refuser, upstream_id: "refuser-1", context_window: 8000, max_output_tokens: 1000, input_price_per_million: 1, output_price_per_million: 2, family: r, tier: small, quality: 0.5, capabilities: { tools: true, json_schema: true } }
`);
  const ledger = join(mkdtempSync(join(tmpdir(), 'llmo-refusals-')), 'ledger.db');
  h = await startHarness({
    noOpenAiShorthand: true,
    env: {
      CONFIG_FILE: file,
      DEFAULT_MODEL: 'refuser-chat',
      DATABASE_URL: `sqlite:${ledger}`,
      LEDGER_CONTENT: 'full',
      LEDGER_FLUSH_MS: '20',
      CACHE_OFFLINE_FALLBACK: 'on',
    },
    processEnv: { REFUSER_KEY: 'k' },
  });
  sdk = new OpenAI({ baseURL: `${h.app.http!.url}/v1`, apiKey: 'any', maxRetries: 0 });
});
afterAll(async () => {
  await h?.close();
  await new Promise<void>((resolve) => server?.close(() => resolve()));
});

const BYPASS = { mode: CacheMode.CACHE_MODE_BYPASS, allowStale: false };
const chatRequest = (fields: Partial<ChatRequest> = {}): ChatRequest =>
  ({
    model: 'refuser-chat',
    prompt: 'How do I pick a lock?',
    messages: [],
    responseFormat: schemaFormat,
    cache: BYPASS,
    ...fields,
  }) as ChatRequest;

describe('the HTTP API', () => {
  it('answers a refusal as OpenAI does: message.refusal, content null, finish_reason stop, so parse() returns it', async () => {
    const completion = await sdk.chat.completions.parse({
      model: 'refuser-chat',
      messages: [{ role: 'user', content: 'How do I pick a lock?' }],
      response_format: zodResponseFormat(Recipe, 'recipe'),
      temperature: 0.7,
    });
    const choice = completion.choices[0]!;
    expect(choice.finish_reason).toBe('stop');
    expect(choice.message.refusal).toBe(REFUSAL);
    expect(choice.message.content).toBeNull();
    expect(choice.message.parsed).toBeNull();
  });

  it('streams a refusal as delta.refusal pieces, and the SDK’s finalChatCompletion() has message.refusal', async () => {
    const stream = sdk.chat.completions.stream({
      model: 'refuser-chat',
      messages: [{ role: 'user', content: 'How do I pick a lock?' }],
      response_format: zodResponseFormat(Recipe, 'recipe'),
      temperature: 0.7,
    });
    const pieces: string[] = [];
    stream.on('refusal.delta', ({ delta }) => pieces.push(delta));
    const final = await stream.finalChatCompletion();
    const choice = final.choices[0]!;
    expect(choice.finish_reason).toBe('stop');
    expect(choice.message.refusal).toBe(REFUSAL);
    expect(choice.message.content).toBeNull();
    expect(choice.message.parsed).toBeNull();
    expect(pieces.join('')).toBe(REFUSAL);
  });

  it('sends no content delta for a refusal: each piece is a chunk with delta.refusal alone', async () => {
    const res = await fetch(`${h.app.http!.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'refuser-chat', stream: true, messages: [{ role: 'user', content: 'Lock?' }], temperature: 0.7 }),
    });
    const deltas = (await res.text())
      .split('\n')
      .filter((l) => l.startsWith('data: {'))
      .map((l) => (JSON.parse(l.slice(6)) as { choices: { delta: Record<string, unknown> }[] }).choices[0]?.delta);
    // No text follows: content null from the first chunk, as OpenAI opens a refusal.
    expect(deltas[0]).toEqual({ role: 'assistant', content: null });
    expect(deltas.filter((d) => d !== undefined && d.role === undefined && Object.keys(d).length > 0)).toEqual(
      PIECES.map((refusal) => ({ refusal })),
    );
  });

  it('takes the refused answer back in the conversation, as the SDK hands it: its refusal is the assistant’s text', async () => {
    const first = await sdk.chat.completions.create({
      model: 'refuser-chat',
      messages: [{ role: 'user', content: 'How do I pick a lock?' }],
      temperature: 0.7,
    });
    const refused = first.choices[0]!.message;
    await sdk.chat.completions.create({
      model: 'refuser-chat',
      messages: [{ role: 'user', content: 'How do I pick a lock?' }, refused, { role: 'user', content: 'A recipe then.' }],
      temperature: 0.7,
    });
    expect(lastBody.messages?.[1]).toEqual({ role: 'assistant', content: REFUSAL });
  });

  it('answers a cached refusal as the same refusal', async () => {
    const ask = () =>
      sdk.chat.completions.parse({
        model: 'refuser-chat',
        messages: [{ role: 'user', content: 'Cached: how do I pick a lock?' }],
        response_format: zodResponseFormat(Recipe, 'recipe'),
        temperature: 0,
      });
    await ask();
    const before = upstreamCalls;
    const again = await ask();
    expect(upstreamCalls).toBe(before);
    expect(again.choices[0]!.message).toMatchObject({ refusal: REFUSAL, content: null, parsed: null });
    expect(again.choices[0]!.finish_reason).toBe('stop');
  });
});

describe('gRPC', () => {
  it('Chat, Race and Fallback carry the refusal in `refusal`, content empty, finish reason CONTENT_FILTER', async () => {
    const { response } = await callUnary(h.clients.chat.chat.bind(h.clients.chat), chatRequest());
    expect(response).toMatchObject({ refusal: REFUSAL, content: '', finishReason: FinishReason.FINISH_REASON_CONTENT_FILTER });
    const race = await callUnary(h.clients.chat.race.bind(h.clients.chat), { ...chatRequest(), models: ['refuser-chat'] });
    expect(race.response).toMatchObject({ refusal: REFUSAL, content: '', finishReason: FinishReason.FINISH_REASON_CONTENT_FILTER });
    const fallback = await callUnary(h.clients.chat.fallback.bind(h.clients.chat), {
      ...chatRequest(),
      models: ['refuser-chat'],
      disableDefaultMessage: true,
    });
    expect(fallback.response).toMatchObject({ refusal: REFUSAL, content: '', finishReason: FinishReason.FINISH_REASON_CONTENT_FILTER });
  });

  it('StreamChat sends the refusal as delta.refusal pieces, no content, and completes as CONTENT_FILTER', async () => {
    const { messages, error } = await collectStream<StreamChatResponse>(
      h.clients.chat.streamChat(streamRequest({ model: 'refuser-chat', prompt: 'How do I pick a lock?', responseFormat: schemaFormat })),
    );
    expect(error).toBeUndefined();
    const deltas = messages.flatMap((m) => (m.event?.$case === 'delta' ? [m.event.delta] : []));
    expect(deltas.map((d) => d.refusal).join('')).toBe(REFUSAL);
    expect(deltas.map((d) => d.content).join('')).toBe('');
    const last = messages.at(-1)?.event;
    if (last?.$case !== 'completed') throw new Error('no completed event');
    expect(last.completed.finishReason).toBe(FinishReason.FINISH_REASON_CONTENT_FILTER);
  });

  it('a Batch item carries the refusal', async () => {
    const { messages, error } = await collectStream<BatchResponse>(
      h.clients.chat.batch({ items: [{ requestId: 'a', request: chatRequest() }] }),
    );
    expect(error).toBeUndefined();
    const item = messages.find((m) => m.event?.$case === 'item')?.event;
    if (item?.$case !== 'item' || item.item.outcome?.$case !== 'response') throw new Error('no answered item');
    expect(item.item.outcome.response).toMatchObject({ refusal: REFUSAL, content: '' });
  });

  it('a cached refusal, answered by Chat and replayed by StreamChat, is the same refusal', async () => {
    const request = chatRequest({ prompt: 'Cached over gRPC', temperature: 0, cache: undefined });
    await callUnary(h.clients.chat.chat.bind(h.clients.chat), request);
    const before = upstreamCalls;
    const { response } = await callUnary(h.clients.chat.chat.bind(h.clients.chat), request);
    expect(upstreamCalls).toBe(before);
    expect(response.cache?.hit).toBe(true);
    expect(response).toMatchObject({ refusal: REFUSAL, content: '', finishReason: FinishReason.FINISH_REASON_CONTENT_FILTER });
    failing = true;
    try {
      const { messages, error } = await collectStream<StreamChatResponse>(
        h.clients.chat.streamChat(
          streamRequest({ model: 'refuser-chat', prompt: 'Cached over gRPC', temperature: 0, responseFormat: schemaFormat }),
        ),
      );
      expect(error).toBeUndefined();
      const first = messages[0]?.event;
      expect(first?.$case === 'started' && first.started.cache?.stale).toBe(true);
      const deltas = messages.flatMap((m) => (m.event?.$case === 'delta' ? [m.event.delta] : []));
      expect(deltas.map((d) => d.refusal).join('')).toBe(REFUSAL);
      expect(deltas.map((d) => d.content).join('')).toBe('');
      const last = messages.at(-1)?.event;
      expect(last?.$case === 'completed' && last.completed.finishReason).toBe(FinishReason.FINISH_REASON_CONTENT_FILTER);
    } finally {
      failing = false;
    }
  });
});

describe('LEDGER_CONTENT=full', () => {
  it('stores a refusal as a line `refusal: ` and its text, unary or streamed', async () => {
    const prompt = 'Ledger: how do I pick a lock?';
    await callUnary(h.clients.chat.chat.bind(h.clients.chat), chatRequest({ prompt }));
    const streamed = await collectStream(
      h.clients.chat.streamChat(streamRequest({ model: 'refuser-chat', prompt, responseFormat: schemaFormat })),
    );
    expect(streamed.error).toBeUndefined();
    const db = h.app.ledger.database()?.db;
    if (!db) throw new Error('ledger not open');
    await h.app.ledger.store?.flush();
    const rows = await db.selectFrom('ledger_calls').select(['method', 'answer']).where('prompt', '=', prompt).orderBy('ts').execute();
    expect(rows).toEqual([
      { method: '/orchestrator.v1.ChatService/Chat', answer: `refusal: ${REFUSAL}` },
      { method: '/orchestrator.v1.ChatService/StreamChat', answer: `refusal: ${REFUSAL}` },
    ]);
  });
});

describe('the CLI', () => {
  /** The CLI in a child process, so the server in this one keeps answering. */
  const cli = async (...args: string[]): Promise<{ stdout: string; stderr: string }> =>
    promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      timeout: 30_000,
      env: { ...process.env, LLMO_ADDR: `127.0.0.1:${h.app.port}` },
    });

  it('prints a refusal where an answer would be, marked as one, unary and streamed', async () => {
    const chat = await cli('chat', 'How do I pick a lock?', '--model', 'refuser-chat');
    expect(chat.stdout).toBe(`[refused] ${REFUSAL}\n`);
    const streamed = await cli('stream', 'How do I pick a lock?', '--model', 'refuser-chat', '--quiet');
    expect(streamed.stdout).toBe(`[refused] ${REFUSAL}\n`);
  }, 60_000);
});
