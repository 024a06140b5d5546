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
let http: string;
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
  http = `${app.http!.url}/v1/chat/completions`;
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

/** The parts of an answer or an error these tests read. */
interface Answer {
  usage: { prompt_tokens_details: { cached_tokens: number; cache_write_tokens: number } };
  x_orchestrator: { cost_usd: number; cache: { hit: boolean } | null };
  error: { param: string; message: string; field_violations: { field: string }[] };
}

async function post(body: object): Promise<{ status: number; json: Answer }> {
  const res = await fetch(http, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Answer };
}

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

  it('Chat refuses a one-hour marker after a five-minute one as INVALID_ARGUMENT naming its field', async () => {
    const sent = anthropic.requests.length;
    const refused = await callUnary(clients.chat.chat.bind(clients.chat), {
      model: 'beta-claude',
      prompt: '',
      messages: [
        chatMessage({ role: Role.ROLE_SYSTEM, content: manual(8), cache: { ttl: PromptCacheTtl.PROMPT_CACHE_TTL_UNSPECIFIED } }),
        chatMessage({ role: Role.ROLE_USER, content: 'q', cache: { ttl: PromptCacheTtl.PROMPT_CACHE_TTL_ONE_HOUR } }),
      ],
    }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(refused).toMatchObject({ code: 3 });
    expect(String((refused as Error).message)).toContain('messages[1].cache');
    expect(anthropic.requests.length).toBe(sent);
  });

  it('an OpenAI-compatible model is sent no marker', async () => {
    await chat({ ...markedRequest(3, 'hi'), model: 'alpha-chat' });
    expect(JSON.stringify(lastBody(openai))).not.toContain('cache_control');
  });
});

describe('prompt caching over the HTTP API', () => {
  const body = (n: number, question: string, extra: object = {}) => ({
    model: 'beta-claude',
    messages: [
      { role: 'system', content: [{ type: 'text', text: manual(n), cache_control: { type: 'ephemeral' } }] },
      { role: 'user', content: question },
    ],
    orchestrator: { cache: { mode: 'bypass' } },
    ...extra,
  });

  it('a first call reports cache_write_tokens, a repeat cached_tokens, and costs less', async () => {
    const first = await post(body(4, 'How does it retry?'));
    expect(first.status).toBe(200);
    expect(lastBody(anthropic).system).toEqual([{ type: 'text', text: manual(4), cache_control: { type: 'ephemeral' } }]);
    const written = first.json.usage.prompt_tokens_details.cache_write_tokens;
    expect(written).toBeGreaterThan(200);
    const repeat = await post(body(4, 'And how does it race?'));
    expect(repeat.json.usage.prompt_tokens_details.cached_tokens).toBe(written);
    expect(repeat.json.x_orchestrator.cost_usd).toBeLessThan(first.json.x_orchestrator.cost_usd / 2);
  });

  it('takes cache_control on a message with string content, with a ttl, and on a tool', async () => {
    const res = await post({
      model: 'beta-claude',
      messages: [
        { role: 'system', content: manual(5), cache_control: { type: 'ephemeral', ttl: '1h' } },
        { role: 'user', content: 'hi', cache_control: { type: 'ephemeral' } },
      ],
      tools: [{ type: 'function', function: { name: 'lookup' }, cache_control: { type: 'ephemeral', ttl: '1h' } }],
    });
    expect(res.status).toBe(200);
    const sent = lastBody(anthropic);
    expect(sent.system).toEqual([{ type: 'text', text: manual(5), cache_control: { type: 'ephemeral', ttl: '1h' } }]);
    expect((sent.tools as unknown[])[0]).toMatchObject({ name: 'lookup', cache_control: { type: 'ephemeral', ttl: '1h' } });
    expect((sent.messages as { content: unknown }[])[0]?.content).toEqual([
      { type: 'text', text: 'hi', cache_control: { type: 'ephemeral' } },
    ]);
  });

  it('sends an OpenAI-compatible model the text, as without the marker', async () => {
    const res = await post({ ...body(6, 'hi'), model: 'alpha-chat' });
    expect(res.status).toBe(200);
    expect((lastBody(openai).messages as unknown[])[0]).toEqual({ role: 'system', content: manual(6) });
    await post({
      model: 'alpha-chat',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'a' },
            { type: 'text', text: 'b', cache_control: { type: 'ephemeral' } },
          ],
        },
      ],
    });
    expect((lastBody(openai).messages as unknown[])[0]).toEqual({ role: 'user', content: 'ab' });
  });

  it('refuses a marker of another type or ttl, and a fifth marker, naming each field', async () => {
    const part = (text: string, control: object = { type: 'ephemeral' }) => ({ type: 'text', text, cache_control: control });
    const bad = await post({
      model: 'beta-claude',
      messages: [
        {
          role: 'user',
          content: [
            part('a', { type: 'persistent' }),
            part('b', { type: 'ephemeral', ttl: '2h' }),
            part('c', { type: 'ephemeral', size: 1 }),
          ],
        },
      ],
    });
    expect(bad.status).toBe(400);
    expect(bad.json.error.field_violations.map((v) => v.field)).toEqual([
      'messages[0].content[0].cache_control.type',
      'messages[0].content[1].cache_control.ttl',
      'messages[0].content[2].cache_control.size',
    ]);
    const five = await post({
      model: 'beta-claude',
      messages: [{ role: 'user', content: [part('a'), part('b'), part('c'), part('d'), part('e')] }],
    });
    expect(five.status).toBe(400);
    expect(five.json.error.param).toBe('messages[0].content[4].cache_control');
    expect(five.json.error.message).toContain('at most 4 prompt cache markers');
  });

  it('refuses a one-hour marker after a five-minute one, as Anthropic would, before any upstream call', async () => {
    const sent = anthropic.requests.length;
    const late = await post({
      model: 'beta-claude',
      messages: [
        { role: 'system', content: manual(7), cache_control: { type: 'ephemeral' } },
        { role: 'user', content: [{ type: 'text', text: 'q', cache_control: { type: 'ephemeral', ttl: '1h' } }] },
      ],
    });
    expect(late.status).toBe(400);
    expect(late.json.error.param).toBe('messages[1].content[0].cache_control');
    expect(late.json.error.message).toContain('a one-hour prompt cache marker must come before every five-minute one');
    expect(anthropic.requests.length).toBe(sent);
  });

  it("refuses a message's marker of another ttl than its last part's, which would have replaced it, naming the message's", async () => {
    const sent = anthropic.requests.length;
    const both = await post({
      model: 'beta-claude',
      messages: [
        {
          role: 'user',
          content: [{ type: 'text', text: manual(8), cache_control: { type: 'ephemeral', ttl: '1h' } }],
          cache_control: { type: 'ephemeral' },
        },
      ],
    });
    expect(both.status).toBe(400);
    expect(both.json.error.param).toBe('messages[0].cache_control');
    expect(both.json.error.message).toContain('falls on the block of messages[0].content[0].cache_control');
    expect(anthropic.requests.length).toBe(sent);
  });

  it("sends a tool result's marked parts with their markers", async () => {
    const answer = await post({
      model: 'beta-claude',
      messages: [
        { role: 'user', content: 'weather?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: [{ type: 'text', text: manual(9), cache_control: { type: 'ephemeral' } }] },
      ],
      tools: [{ type: 'function', function: { name: 'get', parameters: { type: 'object', properties: {} } } }],
    });
    expect(answer.status).toBe(200);
    const turns = lastBody(anthropic).messages as { content: { type: string; content?: unknown }[] }[];
    expect(turns.at(-1)?.content[0]?.content).toEqual([{ type: 'text', text: manual(9), cache_control: { type: 'ephemeral' } }]);
  });

  it("a tool result's marked part is written on the first call and read by the next with that prefix", async () => {
    const conversation = (more: object[]) => ({
      model: 'beta-claude',
      orchestrator: { cache: { mode: 'bypass' } },
      messages: [
        { role: 'user', content: 'What does the manual say?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_2', type: 'function', function: { name: 'read', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'call_2', content: [{ type: 'text', text: manual(10), cache_control: { type: 'ephemeral' } }] },
        ...more,
      ],
      tools: [{ type: 'function', function: { name: 'read', parameters: { type: 'object', properties: {} } } }],
    });
    const first = await post(conversation([]));
    expect(first.status).toBe(200);
    const written = first.json.usage.prompt_tokens_details.cache_write_tokens;
    expect(written).toBeGreaterThan(200);
    expect(first.json.usage.prompt_tokens_details.cached_tokens).toBe(0);
    const next = await post(
      conversation([
        { role: 'assistant', content: 'It retries, races and falls back.' },
        { role: 'user', content: 'And what is a breaker?' },
      ]),
    );
    expect(next.json.usage.prompt_tokens_details.cached_tokens).toBe(written);
    expect(next.json.usage.prompt_tokens_details.cache_write_tokens).toBe(0);
    expect(next.json.x_orchestrator.cost_usd).toBeLessThan(first.json.x_orchestrator.cost_usd / 2);
  });

  it('a tool loop that marks only its newest result reads what the call before wrote', async () => {
    const call = (n: number) => ({
      role: 'assistant',
      content: null,
      tool_calls: [{ id: `call_${n}`, type: 'function', function: { name: 'page', arguments: '{}' } }],
    });
    const result = (n: number, marked: boolean) => ({
      role: 'tool',
      tool_call_id: `call_${n}`,
      content: [{ type: 'text', text: manual(20 + n), ...(marked ? { cache_control: { type: 'ephemeral' } } : {}) }],
    });
    const loop = (messages: object[]) =>
      post({
        model: 'beta-claude',
        orchestrator: { cache: { mode: 'bypass' } },
        messages: [{ role: 'user', content: 'Read the manual, page by page.' }, ...messages],
        tools: [{ type: 'function', function: { name: 'page', parameters: { type: 'object', properties: {} } } }],
      });
    const first = await loop([call(1), result(1, true)]);
    const written = first.json.usage.prompt_tokens_details.cache_write_tokens;
    expect(written).toBeGreaterThan(200);
    const next = await loop([call(1), result(1, false), call(2), result(2, true)]);
    expect(next.json.usage.prompt_tokens_details.cached_tokens).toBe(written);
    expect(next.json.usage.prompt_tokens_details.cache_write_tokens).toBeGreaterThan(200);
  });

  it('a marked tool is written on the first call and read by the next with the same tools', async () => {
    const ask = (question: string) =>
      post({
        model: 'beta-claude',
        orchestrator: { cache: { mode: 'bypass' } },
        messages: [{ role: 'user', content: question }],
        tools: [{ type: 'function', function: { name: 'search', description: manual(11) }, cache_control: { type: 'ephemeral' } }],
      });
    const first = await ask('Where is the retry section?');
    expect(first.status).toBe(200);
    const written = first.json.usage.prompt_tokens_details.cache_write_tokens;
    expect(written).toBeGreaterThan(200);
    const next = await ask('Where is the race section?');
    expect(next.json.usage.prompt_tokens_details.cached_tokens).toBe(written);
    expect(next.json.usage.prompt_tokens_details.cache_write_tokens).toBe(0);
  });

  it('the response cache answers the same request with or without a marker', async () => {
    // Anthropic's default API version takes no temperature, so its answers are cached only when asked.
    const plain = {
      model: 'beta-claude',
      orchestrator: { cache: { mode: 'use' } },
      messages: [{ role: 'user', content: 'cache me once' }],
    };
    const first = await post(plain);
    expect(first.json.x_orchestrator.cache?.hit ?? false).toBe(false);
    const marked = await post({
      ...plain,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'cache me once', cache_control: { type: 'ephemeral' } }] }],
    });
    expect(marked.json.x_orchestrator.cache).toMatchObject({ hit: true });
  });
});
