import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import type { StreamChatResponse } from '../../src/gen/orchestrator/v1/chat.js';
import { FinishReason } from '../../src/gen/orchestrator/v1/common.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { writeConfigFile } from '../helpers/config-file.js';
import { callUnary, clientsFor, collectStream, streamRequest, type Clients } from '../helpers/grpc-client.js';

/** A `refusal` rule makes a simulated model refuse, so the refusal fields can be seen without a key. */
let openai: Simulator;
let anthropic: Simulator;
let app: App;
let clients: Clients;
let client: OpenAI;
beforeAll(async () => {
  [openai, anthropic] = await Promise.all([startSimulator({ latencyScale: 0 }), startSimulator({ latencyScale: 0 })]);
  const file = writeConfigFile(`providers:
  - { name: alpha, kind: openai, base_url: "${openai.baseURL}", api_key_env: ALPHA_KEY }
  - { name: beta, kind: anthropic, base_url: "${anthropic.url}", api_key_env: BETA_KEY }
include_builtin_models: false
models:
  - { id: alpha-chat, provider: alpha, upstream_id: "alpha/chat-1", context_window: 8000, max_output_tokens: 1000, input_price_per_million: 0.1, output_price_per_million: 0.2, family: a, tier: small, quality: 0.5, capabilities: { tools: true, json_schema: true } }
  - { id: beta-claude, provider: beta, upstream_id: claude-test, context_window: 8000, max_output_tokens: 1000, input_price_per_million: 3, output_price_per_million: 15, family: b, tier: large, quality: 0.9 }
`);
  const config = loadConfig({
    HOST: '127.0.0.1',
    PORT: '0',
    DATABASE_URL: 'sqlite::memory:',
    CONFIG_FILE: file,
    DEFAULT_MODEL: 'alpha-chat',
    SIMULATOR: 'off',
    RETRY_MAX_ATTEMPTS: '1',
    METRICS_PORT: '0',
    HTTP_PORT: '0',
  });
  app = await startApp(config, createLogger('silent'), { ALPHA_KEY: 'a', BETA_KEY: 'b' });
  clients = clientsFor(app.port);
  client = new OpenAI({ baseURL: `${app.http!.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});
afterAll(async () => {
  clients?.close();
  await app?.stop(100);
  await Promise.all([openai?.close(), anthropic?.close()]);
});

const REFUSAL = "I'm sorry, but I can't help with that request.";
const BYPASS = { mode: 2, allowStale: false };
const refuseOnce = (sim: Simulator, model: string) => sim.injectFault({ kind: 'refusal', model, times: 1 });

describe('a simulated OpenAI model told to refuse', () => {
  it('Chat answers the refusal, content empty, CONTENT_FILTER; the next call answers normally', async () => {
    refuseOnce(openai, 'alpha/chat-1');
    const { response } = await callUnary(clients.chat.chat.bind(clients.chat), {
      model: 'alpha-chat',
      prompt: 'Say something',
      messages: [],
      cache: BYPASS,
    });
    expect(response).toMatchObject({ refusal: REFUSAL, content: '', finishReason: FinishReason.FINISH_REASON_CONTENT_FILTER });
    const next = await callUnary(clients.chat.chat.bind(clients.chat), {
      model: 'alpha-chat',
      prompt: 'Say something',
      messages: [],
      cache: BYPASS,
    });
    expect(next.response.refusal).toBe('');
    expect(next.response.content).not.toBe('');
  });

  it('StreamChat streams it as refusal pieces', async () => {
    refuseOnce(openai, 'alpha/chat-1');
    const { messages, error } = await collectStream<StreamChatResponse>(
      clients.chat.streamChat(streamRequest({ model: 'alpha-chat', prompt: 'Say something streamed' })),
    );
    expect(error).toBeUndefined();
    const deltas = messages.flatMap((m) => (m.event?.$case === 'delta' ? [m.event.delta] : []));
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.map((d) => d.refusal).join('')).toBe(REFUSAL);
    expect(deltas.map((d) => d.content).join('')).toBe('');
    const last = messages.at(-1)?.event;
    if (last?.$case !== 'completed') throw new Error('no completed event last');
    expect(last.completed.finishReason).toBe(FinishReason.FINISH_REASON_CONTENT_FILTER);
  });

  it('the HTTP API answers message.refusal, content null, and streams delta.refusal', async () => {
    refuseOnce(openai, 'alpha/chat-1');
    const answer = await client.chat.completions.create({
      model: 'alpha-chat',
      messages: [{ role: 'user', content: 'Say something' }],
      orchestrator: { cache: { mode: 'bypass' } },
    } as never);
    const choice = (answer as OpenAI.ChatCompletion).choices[0];
    expect(choice?.message).toMatchObject({ content: null, refusal: REFUSAL });
    expect(choice?.finish_reason).toBe('stop');

    refuseOnce(openai, 'alpha/chat-1');
    const stream = await client.chat.completions.create({
      model: 'alpha-chat',
      messages: [{ role: 'user', content: 'Say something' }],
      stream: true,
      orchestrator: { cache: { mode: 'bypass' } },
    } as never);
    let refusal = '';
    for await (const chunk of stream as unknown as AsyncIterable<OpenAI.ChatCompletionChunk>)
      refusal += chunk.choices[0]?.delta.refusal ?? '';
    expect(refusal).toBe(REFUSAL);
  });
});

describe('a simulated Anthropic model told to refuse', () => {
  it("answers stop_reason refusal: its words as content, CONTENT_FILTER, as Anthropic's refusals come", async () => {
    refuseOnce(anthropic, 'claude-test');
    const { response } = await callUnary(clients.chat.chat.bind(clients.chat), {
      model: 'beta-claude',
      prompt: 'Say something',
      messages: [],
      cache: BYPASS,
    });
    expect(response).toMatchObject({ content: REFUSAL, refusal: '', finishReason: FinishReason.FINISH_REASON_CONTENT_FILTER });
    refuseOnce(anthropic, 'claude-test');
    const { messages } = await collectStream<StreamChatResponse>(
      clients.chat.streamChat(streamRequest({ model: 'beta-claude', prompt: 'Say something streamed' })),
    );
    const last = messages.at(-1)?.event;
    if (last?.$case !== 'completed') throw new Error('no completed event last');
    expect(last.completed.finishReason).toBe(FinishReason.FINISH_REASON_CONTENT_FILTER);
  });
});
