import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import type { ChatRequest } from '../../src/gen/orchestrator/v1/chat.js';
import { PromptCacheTtl, Role } from '../../src/gen/orchestrator/v1/common.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { writeConfigFile } from '../helpers/config-file.js';
import { callUnary, chatMessage, clientsFor, collectStream, streamRequest, type Clients } from '../helpers/grpc-client.js';

/** Prompt caching against the simulator's Messages API (Anthropic-shaped) and chat completions (OpenAI-shaped). */
let openai: Simulator;
let anthropic: Simulator;
let app: App;
let clients: Clients;
beforeAll(async () => {
  [openai, anthropic] = await Promise.all([startSimulator({ latencyScale: 0 }), startSimulator({ latencyScale: 0 })]);
  const file = writeConfigFile(`providers:
  - { name: alpha, kind: openai, base_url: "${openai.baseURL}", api_key_env: ALPHA_KEY }
  - { name: beta, kind: anthropic, base_url: "${anthropic.url}", api_key_env: BETA_KEY }
include_builtin_models: false
models:
  - { id: alpha-chat, provider: alpha, upstream_id: "alpha/chat-1", context_window: 100000, max_output_tokens: 1000, input_price_per_million: 1, cached_input_price_per_million: 0.5, output_price_per_million: 2, family: a, tier: small, quality: 0.5 }
  - { id: beta-claude, provider: beta, upstream_id: claude-test, context_window: 100000, max_output_tokens: 1000, input_price_per_million: 3, cached_input_price_per_million: 0.3, output_price_per_million: 15, family: b, tier: large, quality: 0.9, capabilities: { tools: true } }
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
});
afterAll(async () => {
  clients?.close();
  await app?.stop(100);
  await Promise.all([openai?.close(), anthropic?.close()]);
});

/** Long enough that the cached prefix is most of the prompt. */
const manual = (n: number) => `Manual ${n}: ${'the gateway retries, races and falls back between models. '.repeat(60)}`;
const BYPASS = { mode: 2, allowStale: false };
const lastBody = (sim: Simulator) => sim.requests.at(-1)?.body as Record<string, unknown>;

function markedRequest(n: number, question: string, ttl = PromptCacheTtl.PROMPT_CACHE_TTL_UNSPECIFIED): Partial<ChatRequest> {
  return {
    model: 'beta-claude',
    cache: BYPASS,
    messages: [
      chatMessage({ role: Role.ROLE_SYSTEM, content: manual(n), cache: { ttl } }),
      chatMessage({ role: Role.ROLE_USER, content: question }),
    ],
  };
}

const chat = (req: Partial<ChatRequest>) =>
  callUnary(clients.chat.chat.bind(clients.chat), { model: 'beta-claude', prompt: '', messages: [], ...req }).then((r) => r.response);

describe('prompt caching over gRPC', () => {
  it('Chat: the first call writes the marked prefix, a repeat reads it and costs less', async () => {
    const first = await chat(markedRequest(1, 'How does it retry?'));
    expect(lastBody(anthropic).system).toEqual([{ type: 'text', text: manual(1), cache_control: { type: 'ephemeral' } }]);
    expect(first.usage?.cacheWriteTokens).toBeGreaterThan(200);
    expect(first.usage?.cachedTokens).toBe(0);

    const repeat = await chat(markedRequest(1, 'And how does it race?'));
    expect(repeat.usage?.cachedTokens).toBe(first.usage?.cacheWriteTokens);
    expect(repeat.usage?.cacheWriteTokens).toBe(0);
    expect(repeat.usage?.promptTokens).toBeGreaterThan(repeat.usage!.cachedTokens);
    expect(repeat.costUsd).toBeLessThan(first.costUsd / 2);
  });

  it('StreamChat: the same, and an hour-long marker is written as such', async () => {
    const stream = async (question: string) => {
      const { cache: _policy, ...fields } = markedRequest(2, question, PromptCacheTtl.PROMPT_CACHE_TTL_ONE_HOUR);
      const r = await collectStream(clients.chat.streamChat(streamRequest(fields)));
      expect(r.error).toBeUndefined();
      const event = r.messages.at(-1)?.event;
      if (event?.$case !== 'completed') throw new Error('no completed event');
      return event.completed;
    };
    const first = await stream('What is a breaker?');
    expect(lastBody(anthropic).system).toEqual([{ type: 'text', text: manual(2), cache_control: { type: 'ephemeral', ttl: '1h' } }]);
    expect(first.usage?.cacheWriteTokens).toBeGreaterThan(200);
    const repeat = await stream('What is a hedge?');
    expect(repeat.usage?.cachedTokens).toBe(first.usage?.cacheWriteTokens);
    expect(repeat.costUsd).toBeLessThan(first.costUsd / 2);
  });

  it('an OpenAI-compatible model is sent no marker', async () => {
    await chat({ ...markedRequest(3, 'hi'), model: 'alpha-chat' });
    expect(JSON.stringify(lastBody(openai))).not.toContain('cache_control');
  });
});
