import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import {
  type BatchResponse,
  type ChatRequest,
  type StreamChatResponse,
  ToolChoiceMode,
  type ToolOptions,
} from '../../src/gen/orchestrator/v1/chat.js';
import { FinishReason, type Message, Role, StreamStrategy, type ToolCall } from '../../src/gen/orchestrator/v1/common.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { writeConfigFile } from '../helpers/config-file.js';
import { callUnary, clientsFor, collectStream, streamRequest, unaryError, type Clients, chatMessage } from '../helpers/grpc-client.js';

/** Tools through every ChatService method, against recording upstreams (OpenAI- and Anthropic-shaped). */
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
  - { id: alpha-chat, provider: alpha, upstream_id: "alpha/chat-1", context_window: 8000, max_output_tokens: 1000, input_price_per_million: 0.1, output_price_per_million: 0.2, family: a, tier: small, quality: 0.5, capabilities: { tools: true, images: true, json_schema: true } }
  - { id: alpha-mini, provider: alpha, upstream_id: "alpha/mini-1", context_window: 8000, max_output_tokens: 1000, input_price_per_million: 0.1, output_price_per_million: 0.2, family: a, tier: small, quality: 0.4, capabilities: { tools: true, images: true, json_schema: true } }
  - { id: alpha-text, provider: alpha, upstream_id: "alpha/text-1", context_window: 8000, max_output_tokens: 1000, input_price_per_million: 0.01, output_price_per_million: 0.02, family: t, tier: small, quality: 0.3 }
  - { id: beta-claude, provider: beta, upstream_id: claude-test, context_window: 8000, max_output_tokens: 1000, input_price_per_million: 3, output_price_per_million: 15, family: b, tier: large, quality: 0.9, capabilities: { tools: true, images: true, json_schema: true } }
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
    IMAGE_MAX_BYTES: '64',
  });
  app = await startApp(config, createLogger('silent'), { ALPHA_KEY: 'a', BETA_KEY: 'b' });
  clients = clientsFor(app.port);
});
afterAll(async () => {
  clients?.close();
  await app?.stop(100);
  await Promise.all([openai?.close(), anthropic?.close()]);
});

const WEATHER_SCHEMA = {
  type: 'object',
  properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } },
  required: ['city', 'unit'],
};
const tooling = (fields: Partial<ToolOptions> = {}): ToolOptions => ({
  tools: [
    { name: 'get_weather', description: 'Current weather in a city', parameters: WEATHER_SCHEMA, strict: false },
    {
      name: 'get_time',
      description: 'Local time in a city',
      parameters: { type: 'object', properties: { city: { type: 'string' } } },
      strict: false,
    },
  ],
  ...fields,
});
const msg = (fields: Partial<Message>): Message => chatMessage(fields);
const chat = (req: Partial<ChatRequest>) =>
  callUnary(clients.chat.chat.bind(clients.chat), { model: 'alpha-chat', prompt: '', messages: [], ...req });
const chatError = (req: Partial<ChatRequest>) =>
  unaryError(clients.chat.chat.bind(clients.chat), { model: 'alpha-chat', prompt: '', messages: [], ...req });
const lastBody = (sim: Simulator) => sim.requests.at(-1)?.body as Record<string, unknown>;
const BYPASS = { mode: 2, allowStale: false };

/** The conversation after the model asked for `calls`: its turn, then one result per call. */
function answered(question: string, calls: readonly ToolCall[]): Message[] {
  return [
    msg({ content: question }),
    msg({ role: Role.ROLE_ASSISTANT, toolCalls: [...calls] }),
    ...calls.map((c) => msg({ role: Role.ROLE_TOOL, toolCallId: c.id, content: `{"result":"${c.name} ok"}` })),
  ];
}

describe('tools on the OpenAI provider', () => {
  it('sends tools, tool_choice and parallel_tool_calls as the Chat Completions API names them', async () => {
    await chat({
      prompt: 'Weather in Paris?',
      tooling: tooling({ toolChoice: { choice: { $case: 'function', function: 'get_weather' } }, parallelToolCalls: false }),
      cache: BYPASS,
    });
    const body = lastBody(openai);
    expect(body.tools).toEqual([
      { type: 'function', function: { name: 'get_weather', description: 'Current weather in a city', parameters: WEATHER_SCHEMA } },
      {
        type: 'function',
        function: {
          name: 'get_time',
          description: 'Local time in a city',
          parameters: { type: 'object', properties: { city: { type: 'string' } } },
        },
      },
    ]);
    expect(body.tool_choice).toEqual({ type: 'function', function: { name: 'get_weather' } });
    expect(body.parallel_tool_calls).toBe(false);
  });

  it('answers with tool calls (finish reason TOOL_CALLS) whose arguments follow the schema', async () => {
    const { response } = await chat({ prompt: 'Weather in Paris?', tooling: tooling(), cache: BYPASS });
    expect(response.finishReason).toBe(FinishReason.FINISH_REASON_TOOL_CALLS);
    expect(response.content).toBe('');
    expect(response.toolCalls.map((c) => c.name)).toEqual(['get_weather', 'get_time']);
    const args = JSON.parse(response.toolCalls[0]!.arguments) as Record<string, unknown>;
    expect(typeof args.city).toBe('string');
    expect(['celsius', 'fahrenheit']).toContain(args.unit);
    expect(response.toolCalls[0]!.id).toMatch(/^call_/);
  });

  it('runs a tool loop: the calls and their results go upstream as assistant tool_calls and tool messages', async () => {
    const first = await chat({ prompt: 'Weather in Paris?', tooling: tooling(), cache: BYPASS });
    const calls = first.response.toolCalls;
    const second = await chat({ messages: answered('Weather in Paris?', calls), tooling: tooling(), cache: BYPASS });
    expect(second.response.finishReason).toBe(FinishReason.FINISH_REASON_STOP);
    expect(second.response.toolCalls).toEqual([]);
    expect(second.response.content.length).toBeGreaterThan(0);
    expect(lastBody(openai).messages).toEqual([
      { role: 'user', content: 'Weather in Paris?' },
      {
        role: 'assistant',
        content: null,
        tool_calls: calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } })),
      },
      ...calls.map((c) => ({ role: 'tool', tool_call_id: c.id, content: `{"result":"${c.name} ok"}` })),
    ]);
  });

  // OpenAI refuses a tool call id over 40 characters with 400 ("string too long"); other
  // servers make longer ones, which reach it in a conversation begun elsewhere or on a Fallback
  // chain's next model.
  it("sends tool call ids over 40 characters as ids of 40, each call's result still naming it", async () => {
    const long = 'call_'.padEnd(46, 'x');
    const calls = [
      { id: `${long}1`, name: 'get_weather', arguments: '{"city":"Paris","unit":"celsius"}' },
      { id: `${long}2`, name: 'get_time', arguments: '{"city":"Paris"}' },
    ];
    await chat({ messages: answered('Weather and time in Paris?', calls), tooling: tooling(), cache: BYPASS });
    const sent = lastBody(openai).messages as { tool_calls?: { id: string }[]; tool_call_id?: string }[];
    const ids = sent[1]!.tool_calls!.map((c) => c.id);
    for (const id of ids) expect(id.length).toBeLessThanOrEqual(40);
    expect(new Set(ids).size).toBe(2);
    expect(sent.slice(2).map((m) => m.tool_call_id)).toEqual(ids);
  });

  it('shortens a tool call id at a whole character: an emoji across the cut is dropped whole, never halved', async () => {
    // 'call_' and 25 x: the emoji's two UTF-16 halves are units 30 and 31, on each side of the 31 kept.
    const id = `call_${'x'.repeat(25)}😀${'y'.repeat(20)}`;
    const calls = [{ id, name: 'get_weather', arguments: '{"city":"Paris","unit":"celsius"}' }];
    await chat({ messages: answered('Weather in Paris?', calls), tooling: tooling(), cache: BYPASS });
    const sent = lastBody(openai).messages as { tool_calls?: { id: string }[]; tool_call_id?: string }[];
    const shortened = sent[1]!.tool_calls![0]!.id;
    expect(shortened.length).toBeLessThanOrEqual(40);
    expect(shortened.startsWith(`call_${'x'.repeat(25)}_`)).toBe(true);
    expect(sent[2]!.tool_call_id).toBe(shortened);
  });

  it('streams tool-call pieces in order; reassembled they equal the unary answer and the completed event', async () => {
    const unary = await chat({ prompt: 'Time in Oslo?', tooling: tooling(), cache: BYPASS });
    const streamed = await collectStream(
      clients.chat.streamChat(streamRequest({ model: 'alpha-chat', prompt: 'Time in Oslo?', tooling: tooling() })),
    );
    expect(streamed.error).toBeUndefined();
    const pieces = streamed.messages.flatMap((m) => (m.event?.$case === 'delta' ? m.event.delta.toolCalls : []));
    expect(pieces.length).toBeGreaterThan(unary.response.toolCalls.length);
    const assembled: ToolCall[] = [];
    for (const piece of pieces) {
      const call = assembled[piece.index] ?? { id: '', name: '', arguments: '' };
      assembled[piece.index] = call;
      if (piece.id) call.id = piece.id;
      if (piece.name) call.name = piece.name;
      call.arguments += piece.arguments;
    }
    expect(assembled).toEqual(unary.response.toolCalls);
    const completed = streamed.messages.at(-1)?.event as Extract<StreamChatResponse['event'], { $case: 'completed' }>;
    expect(completed.completed.finishReason).toBe(FinishReason.FINISH_REASON_TOOL_CALLS);
    expect(completed.completed.toolCalls).toEqual(unary.response.toolCalls);
  });

  it('streams arguments of characters past the BMP in pieces that are each whole text, never half an emoji', async () => {
    // '{"m":"a' is 7 units: the first emoji's two halves fall on each side of the simulator's 8-unit pieces.
    const parameters = { type: 'object', properties: { m: { type: 'string', enum: ['a😀😀😀😀 𠀀𠀀'] } } };
    const emojiTooling: ToolOptions = { tools: [{ name: 'mood', description: 'Mood', parameters, strict: false }] };
    const streamed = await collectStream(
      clients.chat.streamChat(streamRequest({ model: 'alpha-chat', prompt: 'Mood?', tooling: emojiTooling })),
    );
    expect(streamed.error).toBeUndefined();
    const pieces = streamed.messages.flatMap((m) => (m.event?.$case === 'delta' ? m.event.delta.toolCalls : []));
    expect(pieces.map((p) => p.arguments).join('')).toBe('{"m":"a😀😀😀😀 𠀀𠀀"}');
    // Cut off by max_tokens after its first piece, the call's arguments still end on whole text.
    const cut = await chat({ prompt: 'Mood?', tooling: emojiTooling, maxTokens: 1, cache: BYPASS });
    expect(cut.response.toolCalls[0]?.arguments).toBe('{"m":"a😀');
  });

  it('Race, Fallback and Batch carry the tools upstream and the calls back', async () => {
    const race = await callUnary(clients.chat.race.bind(clients.chat), {
      model: '',
      prompt: 'race',
      messages: [],
      models: ['alpha-chat', 'alpha-mini'],
      tooling: tooling({ toolChoice: { choice: { $case: 'mode', mode: ToolChoiceMode.TOOL_CHOICE_MODE_REQUIRED } } }),
    });
    expect(race.response.toolCalls.length).toBeGreaterThan(0);
    expect(lastBody(openai).tool_choice).toBe('required');
    const fallback = await callUnary(clients.chat.fallback.bind(clients.chat), {
      model: 'alpha-chat',
      prompt: 'fallback',
      messages: [],
      models: [],
      disableDefaultMessage: true,
      tooling: tooling({ parallelToolCalls: false }),
    });
    expect(fallback.response.finishReason).toBe(FinishReason.FINISH_REASON_TOOL_CALLS);
    expect(fallback.response.toolCalls.map((c) => c.name)).toEqual(['get_weather']);
    const batch = await collectStream<BatchResponse>(
      clients.chat.batch({
        items: [{ requestId: 'b1', request: { model: 'alpha-chat', prompt: 'batch', messages: [], tooling: tooling() } }],
      }),
    );
    const item = batch.messages[0]?.event;
    expect(item?.$case === 'item' && item.item.outcome?.$case === 'response' && item.item.outcome.response.toolCalls.length).toBe(2);
    expect(lastBody(openai).tools).toHaveLength(2);
  });

  it('sends image parts as image_url content parts (bytes as a data URL)', async () => {
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47]);
    await chat({
      messages: [
        msg({
          parts: [
            { part: { $case: 'text', text: 'What is in these?' } },
            {
              part: { $case: 'image', image: { source: { $case: 'url', url: 'https://example.com/a.png' }, mediaType: '', detail: 'low' } },
            },
            { part: { $case: 'image', image: { source: { $case: 'data', data: png }, mediaType: 'image/png', detail: '' } } },
          ],
        }),
      ],
      cache: BYPASS,
    });
    expect(lastBody(openai).messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is in these?' },
          { type: 'image_url', image_url: { url: 'https://example.com/a.png', detail: 'low' } },
          { type: 'image_url', image_url: { url: `data:image/png;base64,${png.toString('base64')}` } },
        ],
      },
    ]);
  });

  it('sends a data: URL image as the plain base64 data: URL of its bytes, as the HTTP door does', async () => {
    const png = Buffer.from('\x89PNG\r\n\x1a\n0123456789abcdefghij', 'latin1');
    const base64 = png.toString('base64');
    const image = (url: string) => ({
      part: { $case: 'image' as const, image: { source: { $case: 'url' as const, url }, mediaType: '', detail: '' } },
    });
    // Spellings RFC 2397 allows and OpenAI-compatible servers refuse: parameters, upper case, MIME line breaks.
    const urls = [
      `data:image/png;name=a.png;base64,${base64}`,
      `DATA:IMAGE/PNG;BASE64,${base64}`,
      `data:image/png;base64,${base64.slice(0, 12)}\r\n${base64.slice(12)}`,
    ];
    await chat({ messages: [msg({ parts: urls.map(image) })], cache: BYPASS });
    const canonical = { type: 'image_url', image_url: { url: `data:image/png;base64,${base64}` } };
    expect(lastBody(openai).messages).toEqual([{ role: 'user', content: [canonical, canonical, canonical] }]);
  });

  it('keys the response cache on the tools', async () => {
    const first = await chat({ prompt: 'cache tools', temperature: 0, tooling: tooling() });
    const again = await chat({ prompt: 'cache tools', temperature: 0, tooling: tooling() });
    const other = await chat({ prompt: 'cache tools', temperature: 0, tooling: tooling({ parallelToolCalls: false }) });
    expect(first.response.cache?.hit).toBe(false);
    expect(again.response.cache?.hit).toBe(true);
    expect(again.response.toolCalls).toEqual(first.response.toolCalls);
    expect(other.response.cache?.hit).toBe(false);
  });

  it('keys the response cache on each message whole: its role, image parts, tool calls and the call a tool result answers', async () => {
    const text = { part: { $case: 'text' as const, text: 'What is this?' } };
    const url = (href: string, detail = '') => ({
      part: { $case: 'image' as const, image: { source: { $case: 'url' as const, url: href }, mediaType: '', detail } },
    });
    const bytes = (last: number) => ({
      part: {
        $case: 'image' as const,
        image: { source: { $case: 'data' as const, data: Buffer.from([0x89, 0x50, 0x4e, last]) }, mediaType: 'image/png', detail: '' },
      },
    });
    const calls = [
      { id: 'call_a', name: 'get_weather', arguments: '{"city":"Paris","unit":"celsius"}' },
      { id: 'call_b', name: 'get_time', arguments: '{"city":"Paris"}' },
    ];
    const results = (ids: string[]) => [
      msg({ content: 'Weather and time in Paris?' }),
      msg({ role: Role.ROLE_ASSISTANT, toolCalls: calls }),
      msg({ role: Role.ROLE_TOOL, toolCallId: ids[0], content: '{"result":"first"}' }),
      msg({ role: Role.ROLE_TOOL, toolCallId: ids[1], content: '{"result":"second"}' }),
    ];
    // Each differs from the one before it in one thing only; the same text throughout.
    const conversations: Message[][] = [
      [msg({ role: Role.ROLE_SYSTEM, content: 'Answer briefly.' }), msg({ content: 'Who are you?' })],
      [msg({ content: 'Answer briefly.' }), msg({ content: 'Who are you?' })],
      [msg({ parts: [text, url('https://example.com/a.png')] })],
      [msg({ parts: [text, url('https://example.com/b.png')] })],
      [msg({ parts: [text, url('https://example.com/b.png', 'low')] })],
      [msg({ parts: [text, bytes(0x47)] })],
      [msg({ parts: [text, bytes(0x48)] })],
      results(['call_a', 'call_b']),
      results(['call_b', 'call_a']),
      [msg({ content: 'Weather and time in Paris?' }), msg({ role: Role.ROLE_ASSISTANT, toolCalls: calls.slice(0, 1) })],
      [msg({ content: 'Weather and time in Paris?' }), msg({ role: Role.ROLE_ASSISTANT, toolCalls: calls.slice(1) })],
    ];
    const before = openai.requests.length;
    for (const messages of conversations) {
      const { response } = await chat({ messages, temperature: 0, tooling: tooling() });
      expect(response.cache?.hit, JSON.stringify(messages)).toBe(false);
    }
    expect(openai.requests.length - before).toBe(conversations.length);
    for (const messages of conversations) {
      expect((await chat({ messages, temperature: 0, tooling: tooling() })).response.cache?.hit).toBe(true);
    }
  });
});

describe('tools on the Anthropic provider', () => {
  it('maps tools to input_schema, required to any, parallel off, calls and results to tool_use and tool_result blocks', async () => {
    const calls = [{ id: 'toolu_1', name: 'get_weather', arguments: '{"city":"Paris","unit":"celsius"}' }];
    await chat({
      model: 'beta-claude',
      messages: [msg({ role: Role.ROLE_DEVELOPER, content: 'Be brief.' }), ...answered('Weather in Paris?', calls)],
      tooling: tooling({
        toolChoice: { choice: { $case: 'mode', mode: ToolChoiceMode.TOOL_CHOICE_MODE_REQUIRED } },
        parallelToolCalls: false,
      }),
    });
    const body = lastBody(anthropic);
    expect(body.system).toBe('Be brief.');
    expect(body.tools).toEqual([
      { name: 'get_weather', description: 'Current weather in a city', input_schema: WEATHER_SCHEMA },
      { name: 'get_time', description: 'Local time in a city', input_schema: { type: 'object', properties: { city: { type: 'string' } } } },
    ]);
    expect(body.tool_choice).toEqual({ type: 'any', disable_parallel_tool_use: true });
    expect(body.messages).toEqual([
      { role: 'user', content: 'Weather in Paris?' },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris', unit: 'celsius' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: '{"result":"get_weather ok"}' }] },
    ]);
  });

  // The Messages API refuses a tool_use id outside ^[a-zA-Z0-9_-]+$ with 400; ids other
  // servers make (Kimi's "functions.get_weather:0") reach it in a conversation begun elsewhere,
  // or on a Fallback chain's next model.
  it("sends tool call ids other servers make as ids the Messages API takes, each call's result still naming it", async () => {
    const calls = [
      { id: 'functions.get_weather:0', name: 'get_weather', arguments: '{"city":"Paris","unit":"celsius"}' },
      { id: 'functions.get_weather:1', name: 'get_weather', arguments: '{"city":"Lima","unit":"celsius"}' },
    ];
    await chat({ model: 'beta-claude', messages: answered('Weather in Paris and Lima?', calls), tooling: tooling(), cache: BYPASS });
    const [, assistant, results] = lastBody(anthropic).messages as { content: { id?: string; tool_use_id?: string }[] }[];
    const ids = assistant!.content.map((b) => b.id);
    for (const id of ids) expect(id).toMatch(/^[a-zA-Z0-9_-]+$/);
    expect(new Set(ids).size).toBe(2);
    expect(results!.content.map((b) => b.tool_use_id)).toEqual(ids);
    // Ids the API takes go as they are.
    await chat({ model: 'beta-claude', messages: answered('Weather in Paris?', [{ ...calls[0]!, id: 'call_A-1' }]), cache: BYPASS });
    expect((lastBody(anthropic).messages as { content: { id?: string }[] }[])[1]?.content[0]?.id).toBe('call_A-1');
  });

  it('takes an empty tool result, over gRPC as OpenAI does, and sends it to Anthropic as a tool_result without content', async () => {
    const calls = [{ id: 'toolu_2', name: 'get_time', arguments: '{"city":"Lima"}' }];
    const messages = [
      msg({ content: 'Time in Lima?' }),
      msg({ role: Role.ROLE_ASSISTANT, toolCalls: calls }),
      msg({ role: Role.ROLE_TOOL, toolCallId: 'toolu_2', content: '' }),
    ];
    await chat({ model: 'beta-claude', messages, cache: BYPASS });
    expect((lastBody(anthropic).messages as unknown[]).at(-1)).toEqual({
      role: 'user',
      content: [{ type: 'tool_result', tool_use_id: 'toolu_2' }],
    });
    await chat({ model: 'alpha-chat', messages, cache: BYPASS });
    expect((lastBody(openai).messages as unknown[]).at(-1)).toEqual({ role: 'tool', tool_call_id: 'toolu_2', content: '' });
  });

  // Consecutive user turns are merged into one; the second one's blocks were spread into one
  // call's arguments, which overflows the stack past about a hundred thousand, and the call
  // failed as "beta could not be reached" (UNAVAILABLE, retried, held against beta's breaker)
  // without a request sent. A request now holds at most 10,000 parts: the most it may hold.
  it('merges a user turn of as many image parts as a request may hold into the one before it and sends it', async () => {
    const image = {
      part: { $case: 'image' as const, image: { source: { $case: 'url' as const, url: 'http:' }, mediaType: '', detail: '' } },
    };
    const sent = anthropic.requests.length;
    await chat({
      model: 'beta-claude',
      messages: [msg({ content: 'Compare these' }), msg({ parts: Array.from({ length: 10_000 }, () => image) })],
      cache: BYPASS,
    });
    expect(anthropic.requests.length).toBe(sent + 1);
    const turns = lastBody(anthropic).messages as { content: unknown[] }[];
    expect(turns).toHaveLength(1);
    expect(turns[0]?.content).toHaveLength(10_001);
  });

  it('sends images as image blocks', async () => {
    const gif = Buffer.from('GIF89a');
    await chat({
      model: 'beta-claude',
      messages: [
        msg({
          parts: [
            { part: { $case: 'text', text: 'Describe' } },
            { part: { $case: 'image', image: { source: { $case: 'data', data: gif }, mediaType: 'image/gif', detail: '' } } },
            { part: { $case: 'image', image: { source: { $case: 'url', url: 'https://example.com/b.jpg' }, mediaType: '', detail: '' } } },
          ],
        }),
      ],
    });
    expect(lastBody(anthropic).messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Describe' },
          { type: 'image', source: { type: 'base64', media_type: 'image/gif', data: gif.toString('base64') } },
          { type: 'image', source: { type: 'url', url: 'https://example.com/b.jpg' } },
        ],
      },
    ]);
  });

  it('sends a data: URL image as a base64 image block, and holds it to IMAGE_MAX_BYTES as bytes are', async () => {
    const png = Buffer.from('\x89PNG\r\n\x1a\n', 'latin1');
    const part = (bytes: Buffer) => ({
      part: {
        $case: 'image' as const,
        image: { source: { $case: 'url' as const, url: `data:image/png;base64,${bytes.toString('base64')}` }, mediaType: '', detail: '' },
      },
    });
    await chat({
      model: 'beta-claude',
      messages: [msg({ parts: [{ part: { $case: 'text', text: 'Describe' } }, part(png)] })],
      cache: BYPASS,
    });
    expect(lastBody(anthropic).messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Describe' },
          { type: 'image', source: { type: 'base64', media_type: 'image/png', data: png.toString('base64') } },
        ],
      },
    ]);
    const err = await chatError({ model: 'beta-claude', messages: [msg({ parts: [part(Buffer.alloc(65))] })] });
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.decoded.badRequest?.fieldViolations.map((v) => v.field)).toEqual(['messages[0].parts[0].image.url']);
  });

  it('holds a data: URL with parameters before ;base64 to IMAGE_MAX_BYTES and the image types, and refuses one not in base64', async () => {
    const png = Buffer.from('\x89PNG\r\n\x1a\n', 'latin1');
    const part = (url: string) => ({
      part: { $case: 'image' as const, image: { source: { $case: 'url' as const, url }, mediaType: '', detail: '' } },
    });
    await chat({
      model: 'beta-claude',
      messages: [msg({ parts: [part(`data:image/png;name=a.png;base64,${png.toString('base64')}`)] })],
      cache: BYPASS,
    });
    expect(lastBody(anthropic).messages).toEqual([
      { role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: png.toString('base64') } }] },
    ]);
    // Its data URL-encoded, as RFC 2397 allows: the upstream gets the plain base64 of the same bytes.
    const plus = Buffer.from([0xfb, 0xff, 0xbf, 0x89, 0x50]);
    await chat({
      model: 'beta-claude',
      messages: [msg({ parts: [part(`data:image/png;base64,${encodeURIComponent(plus.toString('base64'))}`)] })],
      cache: BYPASS,
    });
    expect(lastBody(anthropic).messages).toEqual([
      { role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: plus.toString('base64') } }] },
    ]);
    for (const url of [
      `data:image/png;foo=bar;base64,${Buffer.alloc(65).toString('base64')}`,
      `data:image/svg+xml;charset=utf-8;base64,${png.toString('base64')}`,
      'data:image/png,%89PNG',
      // Damaged in transit: characters base64 does not have, or a piece missing from the end.
      `data:image/png;base64,${png.toString('base64').slice(0, 4)}*!${png.toString('base64').slice(4)}`,
      `data:image/png;base64,${png.toString('base64').replace(/=+$/, '')}AB`,
      `data:image/png;base64,${png.toString('base64')}%2`,
    ]) {
      const err = await chatError({ model: 'beta-claude', messages: [msg({ parts: [part(url)] })] });
      expect(err.code, url).toBe(grpc.status.INVALID_ARGUMENT);
      expect(
        err.decoded.badRequest?.fieldViolations.map((v) => v.field),
        url,
      ).toEqual(['messages[0].parts[0].image.url']);
    }
    const damaged = await chatError({
      model: 'beta-claude',
      messages: [msg({ parts: [part(`data:image/png;base64,AB*!${png.toString('base64')}`)] })],
    });
    expect(damaged.decoded.badRequest?.fieldViolations[0]?.description).toMatch(/not valid base64/);
  });

  it('takes an image media type in any case, as the HTTP door does', async () => {
    const png = Buffer.from('\x89PNG\r\n\x1a\n', 'latin1');
    await chat({
      model: 'beta-claude',
      messages: [
        msg({ parts: [{ part: { $case: 'image', image: { source: { $case: 'data', data: png }, mediaType: 'Image/PNG', detail: '' } } }] }),
      ],
      cache: BYPASS,
    });
    expect(lastBody(anthropic).messages).toEqual([
      { role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: png.toString('base64') } }] },
    ]);
  });

  // A data: URL is as large as the request allows: each decode of it is that much work on the event loop.
  it('decodes a data: URL image once per call, whichever door it came through and whichever provider sends it', async () => {
    const base64 = Buffer.from('\x89PNG\r\n\x1a\n0123456789', 'latin1').toString('base64');
    const url = `data:image/png;base64,${base64}`;
    const from = vi.spyOn(Buffer, 'from');
    const decodes = async (call: () => Promise<unknown>): Promise<number> => {
      from.mockClear();
      await call();
      return from.mock.calls.filter((args) => args[0] === base64).length;
    };
    const grpcChat = (model: string) => () =>
      chat({
        model,
        messages: [
          msg({
            parts: [
              { part: { $case: 'text', text: 'Describe' } },
              { part: { $case: 'image', image: { source: { $case: 'url', url }, mediaType: '', detail: '' } } },
            ],
          }),
        ],
        cache: BYPASS,
      });
    const httpChat = (model: string) => async () => {
      const res = await fetch(`${app.http!.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          model,
          messages: [
            {
              role: 'user',
              content: [
                { type: 'text', text: 'Describe' },
                { type: 'image_url', image_url: { url } },
              ],
            },
          ],
        }),
      });
      expect(res.status).toBe(200);
    };
    try {
      expect({
        grpcAnthropic: await decodes(grpcChat('beta-claude')),
        grpcOpenAI: await decodes(grpcChat('alpha-chat')),
        httpAnthropic: await decodes(httpChat('beta-claude')),
        httpOpenAI: await decodes(httpChat('alpha-chat')),
      }).toEqual({ grpcAnthropic: 1, grpcOpenAI: 1, httpAnthropic: 1, httpOpenAI: 1 });
    } finally {
      from.mockRestore();
    }
    expect(lastBody(anthropic).messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Describe' },
          { type: 'image', source: { type: 'base64', media_type: 'image/png', data: base64 } },
        ],
      },
    ]);
  });

  it('refuses an image detail level, naming the field and the provider, without calling upstream', async () => {
    const before = anthropic.requests.length;
    const err = await chatError({
      model: 'beta-claude',
      messages: [
        msg({
          parts: [
            {
              part: {
                $case: 'image',
                image: { source: { $case: 'url', url: 'https://example.com/c.png' }, mediaType: '', detail: 'high' },
              },
            },
          ],
        }),
      ],
    });
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.decoded.badRequest?.fieldViolations[0]).toMatchObject({ field: 'messages[0].parts[0].image.detail' });
    expect(err.decoded.badRequest?.fieldViolations[0]?.description).toContain('provider beta');
    expect(anthropic.requests.length).toBe(before);
  });
});

describe('Anthropic refusals over the HTTP API', () => {
  it('name the field as the OpenAI request spells it: content[j].image_url.detail, tool_calls[j].function.arguments', async () => {
    const post = async (body: unknown) => {
      const res = await fetch(`${app.http!.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(res.status).toBe(400);
      return ((await res.json()) as { error: { param: string } }).error.param;
    };
    const image = { type: 'image_url', image_url: { url: 'https://example.com/e.png', detail: 'high' } };
    expect(await post({ model: 'beta-claude', messages: [{ role: 'user', content: [{ type: 'text', text: 'What?' }, image] }] })).toBe(
      'messages[0].content[1].image_url.detail',
    );
    const call = { id: 'toolu_5', type: 'function', function: { name: 'get_weather', arguments: '[1]' } };
    const messages = [
      { role: 'user', content: 'Weather?' },
      { role: 'assistant', content: null, tool_calls: [call] },
      { role: 'tool', tool_call_id: 'toolu_5', content: 'sunny' },
    ];
    expect(await post({ model: 'beta-claude', messages })).toBe('messages[1].tool_calls[0].function.arguments');
  });
});

describe('model capabilities', () => {
  const textCalls = () => openai.requests.filter((r) => r.model === 'alpha/text-1').length;

  it('a fallback chain skips a model without tool support; the next one answers the tool request', async () => {
    const before = textCalls();
    const { response } = await callUnary(clients.chat.fallback.bind(clients.chat), {
      model: '',
      prompt: 'Weather in Rome?',
      messages: [],
      models: ['alpha-text', 'alpha-chat'],
      disableDefaultMessage: true,
      tooling: tooling(),
    });
    expect(response.modelUsed).toBe('alpha-chat');
    // The primary did not answer: the caller asked for alpha-text first and got alpha-chat.
    expect(response.fallbackTriggered).toBe(true);
    expect(response.toolCalls.length).toBeGreaterThan(0);
    expect(textCalls()).toBe(before);
    // Without tools the same chain starts with the text-only model.
    const plain = await callUnary(clients.chat.fallback.bind(clients.chat), {
      model: '',
      prompt: 'Weather in Rome?',
      messages: [],
      models: ['alpha-text', 'alpha-chat'],
      disableDefaultMessage: true,
    });
    expect(plain.response.modelUsed).toBe('alpha-text');
    expect(plain.response.fallbackTriggered).toBe(false);
  });

  it('a streamed fallback chain that skips its first model for lack of tools reports the fallback', async () => {
    const { messages, error } = await collectStream<StreamChatResponse>(
      clients.chat.streamChat(
        streamRequest({
          prompt: 'Weather in Rome?',
          strategy: StreamStrategy.STREAM_STRATEGY_FALLBACK,
          models: ['alpha-text', 'alpha-chat'],
          tooling: tooling(),
        }),
      ),
    );
    expect(error).toBeUndefined();
    const completed = messages.at(-1)?.event;
    if (completed?.$case !== 'completed') throw new Error('no completed event last');
    expect(completed.completed.model).toBe('alpha-chat');
    expect(completed.completed.fallbackTriggered).toBe(true);
  });

  it('a race only runs the models that take images', async () => {
    const before = textCalls();
    const { response } = await callUnary(clients.chat.race.bind(clients.chat), {
      model: '',
      prompt: '',
      messages: [
        msg({
          parts: [
            { part: { $case: 'image', image: { source: { $case: 'url', url: 'https://example.com/d.png' }, mediaType: '', detail: '' } } },
          ],
        }),
      ],
      models: ['alpha-text', 'alpha-mini'],
    });
    expect(response.model).toBe('alpha-mini');
    expect(response.attempts.map((a) => a.model)).toEqual(['alpha-mini']);
    expect(textCalls()).toBe(before);
  });

  it('routing leaves out models that lack what the request uses, with the reason', async () => {
    const { response } = await chat({
      model: '',
      prompt: 'Weather in Rome?',
      tooling: tooling(),
      route: { profile: 4, candidates: ['alpha-text', 'alpha-chat'] },
      cache: BYPASS,
    });
    expect(response.model).toBe('alpha-chat');
    const text = response.routeDecision?.ranking.find((r) => r.model === 'alpha-text');
    expect(text?.eligible).toBe(false);
    expect(text?.excludedReason).toBe('does not take tools');
  });

  it('a route whose every candidate lacks what the request uses is refused as the request, not retried as an outage', async () => {
    const err = await chatError({
      model: '',
      prompt: 'Weather in Rome?',
      tooling: tooling(),
      route: { profile: 4, candidates: ['alpha-text'] },
    });
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.decoded.badRequest?.fieldViolations).toEqual([
      expect.objectContaining({ field: 'route.candidates[0]', description: expect.stringContaining('alpha-text does not take tools') }),
    ]);
    // The OpenAI door: a 400 on the candidate, not a 503 its SDK would retry.
    const res = await fetch(`${app.http!.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'route:budget',
        messages: [{ role: 'user', content: 'Weather in Rome?' }],
        tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }],
        orchestrator: { route: { candidates: ['alpha-text'] } },
      }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { param: string } }).error.param).toBe('orchestrator.route.candidates[0]');
  });

  it('a model named alone that lacks a capability is refused by its field, naming what it lacks', async () => {
    const err = await chatError({
      model: 'alpha-text',
      prompt: 'hi',
      responseFormat: { type: 3, jsonSchema: { name: 'x', description: '', schema: { type: 'object' }, strict: false } },
    });
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    const violation = err.decoded.badRequest?.fieldViolations[0];
    expect(violation?.field).toBe('model');
    expect(violation?.description).toContain('alpha-text does not take JSON Schema output');
  });
});

describe('validation', () => {
  it('names each broken field by its path', async () => {
    const err = await chatError({
      messages: [
        msg({ content: 'hi' }),
        msg({ role: 6 as Role, content: 'who?' }),
        msg({ role: Role.ROLE_TOOL, toolCallId: 'call_missing', content: 'result' }),
        msg({ parts: [{ part: { $case: 'text', text: ' ' } }] }),
        msg({
          parts: [
            { part: { $case: 'image', image: { source: { $case: 'data', data: Buffer.alloc(65) }, mediaType: 'image/png', detail: '' } } },
          ],
        }),
      ],
      tooling: {
        tools: [{ name: '', description: '', strict: false }],
        toolChoice: { choice: { $case: 'function', function: 'nope' } },
      },
    });
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.decoded.badRequest?.fieldViolations.map((v) => v.field).sort()).toEqual(
      [
        'messages[1].role',
        'messages[2].tool_call_id',
        'messages[3].parts[0].text',
        'messages[4].parts[0].image.data',
        'tooling.tools[0].name',
        'tooling.tool_choice',
      ].sort(),
    );
  });
});
