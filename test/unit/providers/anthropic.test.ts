import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ChatMessage } from '../../../src/domain/chat.js';
import { OrchestratorError, Reason } from '../../../src/domain/errors.js';
import { AnthropicProvider, toAnthropicConversation } from '../../../src/providers/anthropic/provider.js';
import { startSimulator, tokenize, type Simulator } from '../../../src/simulator/index.js';
import type { ProviderRequest, ProviderStreamEvent } from '../../../src/providers/types.js';
import type { Tooling } from '../../../src/domain/tools.js';

// Unknown to the simulator's profiles: served with the default profile.
const MODEL = 'claude-sonnet-5-5';
/** The first bytes of a PNG file: its signature and the start of its IHDR chunk. */
const PNG_BYTES = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
const PROMPT: readonly ChatMessage[] = [{ role: 'user', content: 'Name the capital of France.' }];

function requestOf(messages: readonly ChatMessage[], overrides: Partial<ProviderRequest> = {}): ProviderRequest {
  return {
    upstreamModel: MODEL,
    messages,
    temperature: 0.7,
    maxTokens: 256,
    signal: new AbortController().signal,
    ...overrides,
  };
}

interface Collected {
  deltas: string[];
  end: Extract<ProviderStreamEvent, { type: 'end' }> | undefined;
  error: unknown;
}

/** Reads a provider stream to its end, keeping what arrived before an error. */
async function collect(stream: AsyncIterable<ProviderStreamEvent>): Promise<Collected> {
  const seen: Collected = { deltas: [], end: undefined, error: undefined };
  try {
    for await (const event of stream) {
      if (event.type === 'delta') seen.deltas.push(event.content);
      else seen.end = event;
    }
  } catch (error) {
    seen.error = error;
  }
  return seen;
}

async function failureOf(promise: Promise<unknown>): Promise<OrchestratorError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OrchestratorError);
  return error as OrchestratorError;
}

function postMessages(sim: Simulator, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${sim.url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': 'x', 'anthropic-version': '2023-06-01', ...headers },
    body: JSON.stringify(body),
  });
}

/** A Messages API stream as its named events, each with its parsed data. */
function eventsOf(body: string): { name: string | undefined; data: unknown }[] {
  return body
    .split('\n\n')
    .filter((block) => block.length > 0)
    .map((block) => {
      const [eventLine, dataLine] = block.split('\n');
      return { name: eventLine?.replace(/^event: /, ''), data: JSON.parse(dataLine?.replace(/^data: /, '') ?? '') as unknown };
    });
}

interface WireMessage {
  content: { type: string; text: string }[];
  stop_reason: string | null;
  usage: { input_tokens: number; output_tokens: number };
}

describe('toAnthropicConversation', () => {
  it('joins every system message into the system prompt and merges consecutive same-role turns', () => {
    const conversation = toAnthropicConversation([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hello.' },
      { role: 'system', content: 'Answer in English.' },
      { role: 'user', content: 'Name a city.' },
      { role: 'assistant', content: 'Paris.' },
      { role: 'assistant', content: 'Or Lyon.' },
      { role: 'user', content: 'Why?' },
    ]);
    expect(conversation).toEqual({
      system: 'Be brief.\n\nAnswer in English.',
      messages: [
        { role: 'user', content: 'Hello.\n\nName a city.' },
        { role: 'assistant', content: 'Paris.\n\nOr Lyon.' },
        { role: 'user', content: 'Why?' },
      ],
    });
  });

  it('invents nothing: no system prompt when there is none, a leading assistant turn stays first', () => {
    expect(
      toAnthropicConversation([
        { role: 'assistant', content: 'Hi.' },
        { role: 'user', content: 'Hello.' },
      ]),
    ).toEqual({
      system: undefined,
      messages: [
        { role: 'assistant', content: 'Hi.' },
        { role: 'user', content: 'Hello.' },
      ],
    });
  });
});

describe('AnthropicProvider against the simulator', () => {
  let sim: Simulator;
  let provider: AnthropicProvider;

  beforeAll(async () => {
    sim = await startSimulator({ latencyScale: 0 });
    // The SDK appends /v1/messages itself: the base URL is the server root, not sim.baseURL.
    provider = new AnthropicProvider({ name: 'anthropic', baseURL: sim.url, apiKey: 'x' });
  });
  afterEach(() => {
    sim.clearFaults();
  });
  afterAll(async () => {
    await sim.close();
  });

  it('sends the system prompt top-level, merged turns, max_tokens, and no temperature by default', async () => {
    await provider.complete(
      requestOf([
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hello.' },
        { role: 'user', content: 'Name a city.' },
        { role: 'system', content: 'Answer in English.' },
      ]),
    );
    const record = sim.requests.at(-1);
    expect(record?.body).toEqual({
      model: MODEL,
      max_tokens: 256,
      system: 'Be brief.\n\nAnswer in English.',
      messages: [{ role: 'user', content: 'Hello.\n\nName a city.' }],
      stream: false,
    });
    // SDK 1.x: API version 2026-10-21, the key as a bearer token.
    expect(record?.headers['anthropic-version']).toBe('2026-10-21');
    expect(record?.headers.authorization).toBe('Bearer x');
  });

  it('answers with the simulator text, usage and stop reason for the same request', async () => {
    const completion = await provider.complete(requestOf(PROMPT));
    const { stream: _stream, ...sent } = sim.requests.at(-1)!.body as Record<string, unknown>;
    const raw = await postMessages(sim, sent);
    expect(raw.status).toBe(200);
    const wire = (await raw.json()) as WireMessage;
    expect(completion.content).toBe(wire.content[0]?.text);
    expect(completion.content).toMatch(/^Simulated claude-sonnet-5-5 answer on name capital: /);
    expect(completion.finishReason).toBe('stop');
    expect(wire.stop_reason).toBe('end_turn');
    expect(completion.usage).toEqual({
      promptTokens: wire.usage.input_tokens,
      completionTokens: wire.usage.output_tokens,
      totalTokens: wire.usage.input_tokens + wire.usage.output_tokens,
      cachedTokens: 0,
    });
    expect(completion.usage.completionTokens).toBe(tokenize(completion.content).length);
    const other = await provider.complete(requestOf(PROMPT, { upstreamModel: 'claude-haiku-5-5' }));
    expect(other.content).not.toBe(completion.content);
  });

  it('maps max_tokens to finish reason length', async () => {
    const completion = await provider.complete(requestOf(PROMPT, { maxTokens: 3 }));
    expect(completion.finishReason).toBe('length');
    expect(tokenize(completion.content)).toHaveLength(3);
    expect(completion.usage.completionTokens).toBe(3);
  });

  it('clamps temperature to 0..1 for API versions that take it; the new version refuses it outright', async () => {
    const legacy = new AnthropicProvider({ name: 'anthropic', baseURL: sim.url, apiKey: 'x', anthropicVersion: '2023-06-01' });
    await legacy.complete(requestOf(PROMPT, { temperature: 1.7 }));
    expect(sim.requests.at(-1)?.headers['anthropic-version']).toBe('2023-06-01');
    expect(sim.requests.at(-1)?.body).toMatchObject({ temperature: 1 });
    await legacy.complete(requestOf(PROMPT, { temperature: 0.3 }));
    expect(sim.requests.at(-1)?.body).toMatchObject({ temperature: 0.3 });

    // What the clamp and the omission avoid, as the API (and the simulator) answers them.
    const body = { model: MODEL, max_tokens: 16, messages: PROMPT };
    const tooHot = await postMessages(sim, { ...body, temperature: 1.7 });
    expect(tooHot.status).toBe(400);
    const refused = await postMessages(sim, { ...body, temperature: 1 }, { 'anthropic-version': '2026-10-21' });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toEqual({
      type: 'error',
      error: { type: 'invalid_request_error', message: 'temperature: Extra inputs are not permitted' },
    });
  });

  it('streams deltas that add up to the complete() text, then one end with usage', async () => {
    const completion = await provider.complete(requestOf(PROMPT));
    const seen = await collect(provider.stream(requestOf(PROMPT)));
    expect(seen.error).toBeUndefined();
    expect(seen.deltas.join('')).toBe(completion.content);
    expect(seen.deltas).toHaveLength(tokenize(completion.content).length);
    expect(seen.end).toEqual({ type: 'end', finishReason: 'stop', usage: completion.usage });
    expect(sim.requests.at(-1)).toMatchObject({ stream: true, outcome: 'completed' });

    const capped = await collect(provider.stream(requestOf(PROMPT, { maxTokens: 2 })));
    expect(capped.deltas).toHaveLength(2);
    expect(capped.end?.finishReason).toBe('length');
    expect(capped.end?.usage.completionTokens).toBe(2);
  });

  it('frames the stream as named SSE events in the Anthropic order', async () => {
    const raw = await postMessages(sim, { model: MODEL, max_tokens: 5, messages: PROMPT, stream: true });
    expect(raw.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = eventsOf(await raw.text());
    expect(events.map((e) => e.name)).toEqual([
      'message_start',
      'content_block_start',
      'ping',
      ...Array<string>(5).fill('content_block_delta'),
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    expect(events[0]?.data).toMatchObject({ type: 'message_start', message: { usage: { output_tokens: 1 } } });
    expect(events[3]?.data).toMatchObject({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta' } });
    expect(events.at(-2)?.data).toEqual({
      type: 'message_delta',
      delta: { stop_reason: 'max_tokens', stop_sequence: null },
      usage: { output_tokens: 5 },
    });
  });

  const WEATHER = {
    name: 'get_weather',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  };
  const CLOCK = { name: 'get_time', parameters: { type: 'object', properties: { zone: { type: 'string' } }, required: ['zone'] } };

  it('calls the offered tools (tool_use blocks, stop reason tool_use), and answers in text after their results', async () => {
    const offered = requestOf(PROMPT, { tooling: { tools: [WEATHER, CLOCK] } });
    const completion = await provider.complete(offered);
    expect(completion.finishReason).toBe('tool_calls');
    expect(completion.toolCalls?.map((c) => [c.name, JSON.parse(c.arguments)])).toEqual([
      ['get_weather', { city: expect.any(String) }],
      ['get_time', { zone: expect.any(String) }],
    ]);
    expect(completion.toolCalls?.[0]?.id).toMatch(/^toolu_/);

    const seen: ProviderStreamEvent[] = [];
    for await (const event of provider.stream(offered)) seen.push(event);
    const end = seen.at(-1);
    expect(end).toMatchObject({ type: 'end', finishReason: 'tool_calls', toolCalls: completion.toolCalls });

    const serial = await provider.complete(requestOf(PROMPT, { tooling: { tools: [WEATHER, CLOCK], parallelToolCalls: false } }));
    expect(serial.toolCalls?.map((c) => c.name)).toEqual(['get_weather']);
    const named = await provider.complete(
      requestOf(PROMPT, { tooling: { tools: [WEATHER, CLOCK], toolChoice: { type: 'function', name: 'get_time' } } }),
    );
    expect(named.toolCalls?.map((c) => c.name)).toEqual(['get_time']);
    const none = await provider.complete(requestOf(PROMPT, { tooling: { tools: [WEATHER], toolChoice: { type: 'none' } } }));
    expect(none.finishReason).toBe('stop');
    expect(none.toolCalls).toBeUndefined();
    // The doors take auto and none with no tools; the API refuses any tool_choice without them.
    for (const type of ['auto', 'none'] as const) {
      const plain = await provider.complete(requestOf(PROMPT, { tooling: { toolChoice: { type } } }));
      expect(plain.finishReason).toBe('stop');
    }

    const call = serial.toolCalls?.[0];
    const answered = await provider.complete(
      requestOf(
        [
          ...PROMPT,
          { role: 'assistant', content: '', toolCalls: call ? [call] : [] },
          { role: 'tool', content: '{"temperature":18}', toolCallId: call?.id },
        ],
        { tooling: { tools: [WEATHER] } },
      ),
    );
    expect(answered.finishReason).toBe('stop');
    expect(answered.content).toMatch(/^The tools answered \{"temperature":18\}\. Simulated /);
  });

  it('streams each tool call as its own content block, numbered from 0 with no text block before them', async () => {
    const tools = [WEATHER, CLOCK].map((t) => ({ name: t.name, input_schema: t.parameters }));
    const raw = await postMessages(sim, { model: MODEL, max_tokens: 256, messages: PROMPT, tools, stream: true });
    const events = eventsOf(await raw.text());
    const blocks = events
      .filter((e) => e.name?.startsWith('content_block_'))
      .map((e) => {
        const data = e.data as { index: number; content_block?: { type: string; name?: string } };
        return `${e.name?.replace('content_block_', '')} ${data.index}${data.content_block ? ` ${data.content_block.type} ${data.content_block.name}` : ''}`;
      });
    // Deltas folded: each block's start, its input_json_delta pieces, its stop.
    const folded = blocks.filter((b, i) => !(b.startsWith('delta') && blocks[i + 1]?.startsWith('delta')));
    expect(folded).toEqual(['start 0 tool_use get_weather', 'delta 0', 'stop 0', 'start 1 tool_use get_time', 'delta 1', 'stop 1']);
    expect(events.map((e) => e.name).filter((n) => !n?.startsWith('content_block_'))).toEqual([
      'message_start',
      'ping',
      'message_delta',
      'message_stop',
    ]);
    expect(events.at(-2)?.data).toMatchObject({ delta: { stop_reason: 'tool_use', stop_sequence: null } });
  });

  it('answers a JSON Schema request (output_config.format) with JSON that follows the schema', async () => {
    const schema = { type: 'object', properties: { name: { type: 'string' }, age: { type: 'integer' } }, required: ['name', 'age'] };
    const request = requestOf(PROMPT, { tooling: { responseFormat: { type: 'json_schema', name: 'person', schema } } });
    const completion = await provider.complete(request);
    expect(JSON.parse(completion.content)).toEqual({ name: expect.any(String), age: expect.any(Number) });
    const seen = await collect(provider.stream(request));
    expect(seen.deltas.join('')).toBe(completion.content);
  });

  it('ends at a stop sequence with stop reason stop_sequence naming it, as a JSON body and as a stream', async () => {
    const body = { model: MODEL, max_tokens: 64, messages: PROMPT, stop_sequences: ['zzz', 'answer'] };
    const wire = (await (await postMessages(sim, body)).json()) as WireMessage & { stop_sequence: string | null };
    expect(wire.content[0]?.text).toBe(`Simulated ${MODEL} `);
    expect(wire).toMatchObject({ stop_reason: 'stop_sequence', stop_sequence: 'answer' });
    const streamed = await (await postMessages(sim, { ...body, stream: true })).text();
    expect(streamed).toContain('"delta":{"stop_reason":"stop_sequence","stop_sequence":"answer"}');
    expect(await provider.complete(requestOf(PROMPT, { sampling: { stop: ['answer'] } }))).toMatchObject({ finishReason: 'stop' });
  });

  it('rejects requests without anthropic-version, and bad bodies, the Anthropic way', async () => {
    const noVersion = await fetch(`${sim.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'x' },
      body: JSON.stringify({ model: MODEL, max_tokens: 8, messages: PROMPT }),
    });
    expect(noVersion.status).toBe(400);
    expect(await noVersion.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    const noMaxTokens = await postMessages(sim, { model: MODEL, messages: PROMPT });
    expect(noMaxTokens.status).toBe(400);
    expect(await noMaxTokens.json()).toMatchObject({ error: { message: 'max_tokens: Field required' } });
    const negative = await postMessages(sim, { model: MODEL, max_tokens: -1, messages: PROMPT });
    expect(negative.status).toBe(400);
    expect(await negative.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
  });

  it('refuses a tool_choice without tools, or naming a tool they do not define, as the Messages API does', async () => {
    const weather = { name: 'get_weather', input_schema: { type: 'object', properties: {} } };
    const refusal = async (body: Record<string, unknown>): Promise<unknown> => {
      const response = await postMessages(sim, { model: MODEL, max_tokens: 64, messages: PROMPT, ...body });
      expect(response.status).toBe(400);
      return response.json();
    };
    for (const type of ['auto', 'any', 'none']) {
      expect(await refusal({ tool_choice: { type } })).toEqual({
        type: 'error',
        error: { type: 'invalid_request_error', message: `tool_choice.${type} may only be specified while providing tools` },
      });
    }
    expect(await refusal({ tools: [], tool_choice: { type: 'tool', name: 'get_weather' } })).toMatchObject({
      error: { message: 'tool_choice.tool may only be specified while providing tools' },
    });
    expect(await refusal({ tools: [weather], tool_choice: { type: 'tool', name: 'get_time' } })).toEqual({
      type: 'error',
      error: { type: 'invalid_request_error', message: "Tool 'get_time' not found in provided tools" },
    });
    const forced = await postMessages(sim, {
      model: MODEL,
      max_tokens: 64,
      messages: PROMPT,
      tools: [weather],
      tool_choice: { type: 'tool', name: 'get_weather' },
    });
    expect(forced.status).toBe(200);
    expect(await forced.json()).toMatchObject({ stop_reason: 'tool_use', content: [{ type: 'tool_use', name: 'get_weather' }] });
  });

  it('429 with Retry-After: retryable UPSTREAM_RATE_LIMITED with retryAfterMs', async () => {
    sim.injectFault({ kind: 'rate_limit', retryAfter: '2', times: 1 });
    const error = await failureOf(provider.complete(requestOf(PROMPT)));
    expect(error).toMatchObject({
      kind: 'unavailable',
      reason: Reason.UPSTREAM_RATE_LIMITED,
      retryable: true,
      retryAfterMs: 2000,
      metadata: { provider: 'anthropic', upstream_status: '429' },
    });
    expect(sim.requests.at(-1)).toMatchObject({ model: MODEL, outcome: 'fault', fault: 'rate_limit' });
    sim.injectFault({ kind: 'rate_limit', times: 1 });
    const raw = await postMessages(sim, { model: MODEL, max_tokens: 8, messages: PROMPT });
    expect(raw.status).toBe(429);
    expect(raw.headers.get('retry-after')).toBe('1');
    expect(await raw.json()).toEqual({ type: 'error', error: { type: 'rate_limit_error', message: expect.any(String) } });
  });

  it('500 and 529 overloaded: retryable UPSTREAM_ERROR', async () => {
    sim.injectFault({ kind: 'http_error', times: 1 });
    expect(await failureOf(provider.complete(requestOf(PROMPT)))).toMatchObject({
      kind: 'unavailable',
      reason: Reason.UPSTREAM_ERROR,
      retryable: true,
      retryAfterMs: undefined,
      metadata: { upstream_status: '500' },
    });
    sim.injectFault({ kind: 'http_error', status: 529, times: 2 });
    expect(await failureOf(provider.complete(requestOf(PROMPT)))).toMatchObject({
      reason: Reason.UPSTREAM_ERROR,
      retryable: true,
      metadata: { upstream_status: '529' },
    });
    const raw = await postMessages(sim, { model: MODEL, max_tokens: 8, messages: PROMPT });
    expect(raw.status).toBe(529);
    expect(await raw.json()).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
  });

  it('400: INVALID_ARGUMENT / UPSTREAM_REJECTED_REQUEST, not retryable', async () => {
    sim.injectFault({ kind: 'http_error', status: 400, times: 1 });
    expect(await failureOf(provider.complete(requestOf(PROMPT)))).toMatchObject({
      kind: 'invalid_argument',
      reason: Reason.UPSTREAM_REJECTED_REQUEST,
      retryable: false,
    });
  });

  it('a faulty stream before its first event fails like a unary call', async () => {
    sim.injectFault({ kind: 'rate_limit', retryAfter: '3', times: 1 });
    const seen = await collect(provider.stream(requestOf(PROMPT)));
    expect(seen.deltas).toEqual([]);
    expect(seen.error).toMatchObject({ reason: Reason.UPSTREAM_RATE_LIMITED, retryAfterMs: 3000 });
  });

  it('cut: deltas, then STREAM_TRUNCATED; a JSON body cut half way is truncated too', async () => {
    sim.injectFault({ kind: 'cut', afterTokens: 2, times: 1 });
    const seen = await collect(provider.stream(requestOf(PROMPT)));
    expect(seen.deltas).toHaveLength(2);
    expect(seen.end).toBeUndefined();
    expect(seen.error).toMatchObject({ reason: Reason.STREAM_TRUNCATED, retryable: true });
    expect(sim.requests.at(-1)).toMatchObject({ outcome: 'fault', fault: 'cut', tokensSent: 2 });

    sim.injectFault({ kind: 'cut', times: 1 });
    expect(await failureOf(provider.complete(requestOf(PROMPT)))).toMatchObject({ reason: Reason.STREAM_TRUNCATED });
  });

  it('truncate: a clean end without message_stop is STREAM_TRUNCATED, and so is a null stop_reason', async () => {
    sim.injectFault({ kind: 'truncate', afterTokens: 3, times: 2 });
    const seen = await collect(provider.stream(requestOf(PROMPT)));
    expect(seen.deltas).toHaveLength(3);
    expect(seen.end).toBeUndefined();
    expect(seen.error).toMatchObject({ reason: Reason.STREAM_TRUNCATED });
    expect(await failureOf(provider.complete(requestOf(PROMPT)))).toMatchObject({ reason: Reason.STREAM_TRUNCATED });
  });

  it('malformed: UPSTREAM_MALFORMED_RESPONSE for a bad event and a bad body', async () => {
    sim.injectFault({ kind: 'malformed', times: 2 });
    const seen = await collect(provider.stream(requestOf(PROMPT)));
    expect(seen.deltas).toHaveLength(1);
    expect(seen.error).toMatchObject({ reason: Reason.UPSTREAM_MALFORMED_RESPONSE, retryable: true });
    expect(await failureOf(provider.complete(requestOf(PROMPT)))).toMatchObject({
      reason: Reason.UPSTREAM_MALFORMED_RESPONSE,
    });
  });

  it('abort mid-stream: throws the abort reason and closes the upstream request', async () => {
    // Slow enough that a loaded machine's delay in noticing the close stays under the bound below.
    sim.injectFault({ kind: 'slow', tokensPerSecond: 20, times: 1 });
    const controller = new AbortController();
    const events = provider.stream(requestOf(PROMPT, { signal: controller.signal }))[Symbol.asyncIterator]();
    expect((await events.next()).value).toMatchObject({ type: 'delta' });
    expect((await events.next()).value).toMatchObject({ type: 'delta' });
    const reason = new OrchestratorError({ kind: 'deadline_exceeded', reason: Reason.DEADLINE_EXCEEDED, message: 'deadline' });
    const pending = events.next();
    controller.abort(reason);
    // Deltas already read from the socket before the abort (a loaded machine reads several in one
    // chunk) may still come out; the next read after them throws the reason.
    const failure = await (async () => {
      try {
        for (let next = await pending, i = 0; !next.done && i < 5; next = await events.next(), i++);
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    expect(failure).toBe(reason);
    await sim.waitForIdle(2_000);
    const record = sim.requests.at(-1);
    expect(record).toMatchObject({ outcome: 'client_closed', fault: 'slow' });
    expect(record?.tokensSent).toBeLessThan(10);
  });

  it('abort while waiting for the answer: CANCELLED, and the hanging request is closed', async () => {
    sim.injectFault({ kind: 'hang', times: 1 });
    const controller = new AbortController();
    const accepted = new Promise<void>((resolve) => {
      const off = sim.onRequest(() => {
        off();
        resolve();
      });
    });
    const call = failureOf(provider.complete(requestOf(PROMPT, { signal: controller.signal })));
    await accepted;
    controller.abort();
    expect(await call).toMatchObject({ kind: 'cancelled', reason: Reason.CANCELLED });
    await sim.waitForIdle(2_000);
    expect(sim.requests.at(-1)).toMatchObject({ outcome: 'client_closed', fault: 'hang' });
  });
});

/** A Messages API body as the strict upstream below reads it. */
interface StrictBody {
  messages: { role: string; content: unknown }[];
  tools?: { name: string; input_schema: unknown }[];
  temperature?: number;
  top_p?: number;
}

describe('AnthropicProvider, other upstreams', () => {
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    await Promise.all(closers.splice(0).map((close) => close()));
  });

  async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
    const server: Server = createServer(handler);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(
      () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    );
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it('401: UPSTREAM_AUTH_FAILED; the simulator takes the key as x-api-key or a bearer token', async () => {
    const sim = await startSimulator({ latencyScale: 0, apiKey: 'secret' });
    closers.push(() => sim.close());
    const wrong = new AnthropicProvider({ name: 'anthropic', baseURL: sim.url, apiKey: 'nope' });
    expect(await failureOf(wrong.complete(requestOf(PROMPT)))).toMatchObject({
      kind: 'unavailable',
      reason: Reason.UPSTREAM_AUTH_FAILED,
      retryable: false,
    });
    const right = new AnthropicProvider({ name: 'anthropic', baseURL: sim.url, apiKey: 'secret' });
    expect((await right.complete(requestOf(PROMPT))).finishReason).toBe('stop');
    const unauthorized = await postMessages(sim, { model: MODEL, max_tokens: 8, messages: PROMPT });
    expect(unauthorized.status).toBe(401);
    expect(await unauthorized.json()).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
    const byHeader = await postMessages(sim, { model: MODEL, max_tokens: 8, messages: PROMPT }, { 'x-api-key': 'secret' });
    expect(byHeader.status).toBe(200);
    expect(sim.requests).toHaveLength(2);
  });

  it('an error event inside a 200 stream (overloaded_error) is a retryable UPSTREAM_ERROR', async () => {
    const url = await serve((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(
          'event: message_start\ndata: {"type":"message_start","message":{"id":"m","type":"message","role":"assistant",' +
            '"model":"m","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":5,"output_tokens":1}}}\n\n' +
            'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n',
        );
      });
    });
    const provider = new AnthropicProvider({ name: 'anthropic', baseURL: url, apiKey: 'x' });
    const seen = await collect(provider.stream(requestOf(PROMPT)));
    expect(seen.error).toMatchObject({
      reason: Reason.UPSTREAM_ERROR,
      retryable: true,
      metadata: { upstream_status: '529' },
    });
  });

  it("names an unknown error event's type only when it looks like one: the upstream's text never reaches the caller", async () => {
    const errorEvents = [
      // A relay that put its own message, echoing the provider key, where the type goes.
      '{"type":"error","error":{"type":"invalid x-api-key sk-ant-api03-leaked-provider-key"}}',
      `{"type":"error","error":{"type":"${'x'.repeat(5_000)}"}}`,
      '{"type":"error","error":{"type":"brand_new_error"}}',
    ];
    let served = 0;
    const url = await serve((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(`event: error\ndata: ${errorEvents[served++]}\n\n`);
      });
    });
    const provider = new AnthropicProvider({ name: 'anthropic', baseURL: url, apiKey: 'x' });
    const messages: string[] = [];
    for (let i = 0; i < errorEvents.length; i++) {
      const { error } = await collect(provider.stream(requestOf(PROMPT)));
      expect(error).toMatchObject({ reason: Reason.STREAM_TRUNCATED });
      messages.push((error as OrchestratorError).message);
    }
    expect(messages[0]).not.toContain('sk-ant');
    expect(messages[1]?.length).toBeLessThan(200);
    expect(messages[2]).toContain('(brand_new_error)');
  });

  it('on an API version that takes sampling parameters, sends top_p without the default temperature, which current models refuse together', async () => {
    const { url, bodies } = await strictMessagesApi();
    const legacy = new AnthropicProvider({ name: 'anthropic', baseURL: url, apiKey: 'x', anthropicVersion: '2023-06-01' });
    const answer = await legacy.complete(requestOf(PROMPT, { sampling: { topP: 0.9 } }));
    expect(answer.content).toBe('Paris.');
    expect(bodies.at(-1)).toMatchObject({ top_p: 0.9 });
    expect(bodies.at(-1)).not.toHaveProperty('temperature');
    // Without top_p, the temperature is sent as before.
    await legacy.complete(requestOf(PROMPT));
    expect(bodies.at(-1)).toMatchObject({ temperature: 0.7 });
  });

  it('reports cache reads as cached prompt tokens and cache writes as prompt tokens', async () => {
    const url = await serve((req, res) => {
      req.resume();
      req.on('end', () => {
        const body = JSON.stringify({
          id: 'msg_1',
          type: 'message',
          role: 'assistant',
          model: MODEL,
          content: [{ type: 'text', text: 'Hi.' }],
          stop_reason: 'refusal',
          stop_sequence: null,
          usage: { input_tokens: 10, output_tokens: 2, cache_read_input_tokens: 100, cache_creation_input_tokens: 50 },
        });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(body);
      });
    });
    const provider = new AnthropicProvider({ name: 'anthropic', baseURL: url, apiKey: 'x' });
    expect(await provider.complete(requestOf(PROMPT))).toEqual({
      content: 'Hi.',
      finishReason: 'content_filter',
      usage: { promptTokens: 160, completionTokens: 2, totalTokens: 162, cachedTokens: 100, cacheWriteTokens: 50 },
    });
  });

  it("tells the prompt usage of a stream's message_start as it arrives, before the stream breaks", async () => {
    const event = (type: string, data: object): string => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
    const usage = {
      input_tokens: 10,
      output_tokens: 1,
      cache_read_input_tokens: 100,
      cache_creation_input_tokens: 50,
      cache_creation: { ephemeral_5m_input_tokens: 20, ephemeral_1h_input_tokens: 30 },
    };
    const url = await serve((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(
          event('message_start', { message: { id: 'm', type: 'message', role: 'assistant', model: MODEL, content: [], usage } }) +
            event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }) +
            event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Hel' } }),
        );
        setTimeout(() => res.destroy(), 20);
      });
    });
    const provider = new AnthropicProvider({ name: 'anthropic', baseURL: url, apiKey: 'x' });
    const told: unknown[] = [];
    const seen = await collect(provider.stream(requestOf(PROMPT, { onPromptUsage: (u) => told.push(u) })));
    expect(seen.error).toMatchObject({ reason: Reason.STREAM_TRUNCATED });
    expect(seen.deltas).toEqual(['Hel']);
    expect(told).toEqual([
      { promptTokens: 160, completionTokens: 0, totalTokens: 160, cachedTokens: 100, cacheWriteTokens: 50, cacheWrite1hTokens: 30 },
    ]);
  });

  /**
   * Answers like the Messages API, refusing with its 400 what it refuses in a conversation: a
   * last assistant turn (a prefill) ending in whitespace, and a turn after tool_use blocks that
   * does not begin with their tool_result blocks, an image labelled another type than it is, and
   * a tool whose input_schema is not of type object, a tool result of only whitespace, and
   * `temperature` with `top_p` (as for current Claude models). Every body it received is kept.
   */
  async function strictMessagesApi(): Promise<{ url: string; bodies: StrictBody[] }> {
    const bodies: StrictBody[] = [];
    const url = await serve((req, res) => {
      let text = '';
      req.on('data', (chunk: Buffer) => {
        text += chunk.toString();
      });
      req.on('end', () => {
        const body = JSON.parse(text) as {
          messages: { role: string; content: string | { type: string; text?: string }[] }[];
          tools?: { name: string; input_schema: { type?: unknown }; strict?: boolean }[];
          temperature?: number;
          top_p?: number;
        };
        bodies.push(body);
        const untyped = body.tools?.findIndex((tool) => tool.input_schema.type !== 'object') ?? -1;
        const strictRefusal = body.tools
          ?.map((tool, i) => (tool.strict ? strictSchemaRefusal(tool.input_schema, `tools.${i}.custom`) : undefined))
          .find((refusal) => refusal !== undefined);
        const refusal =
          untyped >= 0
            ? `tools.${untyped}.custom.input_schema.type: Field required`
            : strictRefusal !== undefined
              ? strictRefusal
              : body.temperature !== undefined && body.top_p !== undefined
                ? '`temperature` and `top_p` cannot both be specified for this model. Please use only one.'
                : conversationRefusal(body.messages);
        if (refusal !== undefined) {
          res.writeHead(400, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ type: 'error', error: { type: 'invalid_request_error', message: refusal } }));
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            id: 'msg_1',
            type: 'message',
            role: 'assistant',
            model: MODEL,
            content: [{ type: 'text', text: 'Paris.' }],
            stop_reason: 'end_turn',
            stop_sequence: null,
            usage: { input_tokens: 10, output_tokens: 2 },
          }),
        );
      });
    });
    return { url, bodies };
  }

  /** What the API says of a strict tool's schema it cannot enforce: an object left open, or a constraint such as minimum. */
  function strictSchemaRefusal(schema: unknown, at: string): string | undefined {
    if (schema === null || typeof schema !== 'object') return undefined;
    const node = schema as Record<string, unknown>;
    if (node['type'] === 'object' && node['additionalProperties'] !== false)
      return `${at}: For 'object' type, 'additionalProperties' must be explicitly set to false`;
    for (const key of ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf', 'minLength', 'maxLength', 'maxItems']) {
      if (key in node) return `${at}: For '${String(node['type'])}' type, property '${key}' is not supported`;
    }
    for (const child of Object.values(node)) {
      const refusal = strictSchemaRefusal(child, at);
      if (refusal !== undefined) return refusal;
    }
    return undefined;
  }

  function conversationRefusal(messages: { role: string; content: string | { type: string; text?: string }[] }[]): string | undefined {
    const last = messages.at(-1);
    if (last?.role === 'assistant') {
      const text = typeof last.content === 'string' ? last.content : (last.content.at(-1)?.text ?? '');
      if (/\s$/.test(text)) return 'messages: final assistant content cannot end with trailing whitespace';
    }
    for (const [i, message] of messages.entries()) {
      for (const [j, block] of (Array.isArray(message.content) ? message.content : []).entries()) {
        const { content } = block as { content?: unknown };
        if (block.type === 'tool_result' && typeof content === 'string' && content.trim() === '')
          return 'messages: text content blocks must contain non-whitespace text';
        const source = (block as { source?: { type: string; media_type?: string; data?: string } }).source;
        if (block.type !== 'image' || source?.type !== 'base64') continue;
        const actual = Buffer.from(source.data ?? '', 'base64')
          .subarray(0, 4)
          .equals(PNG_BYTES.subarray(0, 4))
          ? 'image/png'
          : 'image/jpeg';
        if (source.media_type !== actual)
          return `messages.${i}.content.${j}.image.source.base64: The image was specified using the ${source.media_type} media type, but the image appears to be a ${actual} image`;
      }
      const previous = messages[i - 1];
      const uses = Array.isArray(previous?.content) ? previous.content.filter((b) => b.type === 'tool_use').length : 0;
      if (uses === 0) continue;
      const blocks = Array.isArray(message.content) ? message.content : [];
      const leading = blocks.findIndex((b) => b.type !== 'tool_result');
      if ((leading < 0 ? blocks.length : leading) < uses)
        return `messages.${i}: Did not find ${uses} tool_result block(s) at the beginning of this message. Messages following tool_use blocks must begin with a matching number of tool_result blocks.`;
    }
    return undefined;
  }

  it('a prefill (an assistant turn last) goes without the trailing whitespace the API refuses', async () => {
    const api = await strictMessagesApi();
    const provider = new AnthropicProvider({ name: 'anthropic', baseURL: api.url, apiKey: 'x' });
    const prefill: ChatMessage[] = [...PROMPT, { role: 'assistant', content: 'The capital of France is ' }];
    expect((await provider.complete(requestOf(prefill))).content).toBe('Paris.');
    expect(api.bodies.at(-1)?.messages.at(-1)).toEqual({ role: 'assistant', content: 'The capital of France is' });
    // Only the last turn: an earlier assistant turn is history, sent as it was written.
    const history: ChatMessage[] = [...PROMPT, { role: 'assistant', content: 'Paris. ' }, { role: 'user', content: 'And of Spain?' }];
    expect((await provider.complete(requestOf(history))).content).toBe('Paris.');
    expect(api.bodies.at(-1)?.messages[1]).toEqual({ role: 'assistant', content: 'Paris. ' });
  });

  it('a user turn holding tool results and text begins with the tool_result blocks, as the API requires', async () => {
    const api = await strictMessagesApi();
    const provider = new AnthropicProvider({ name: 'anthropic', baseURL: api.url, apiKey: 'x' });
    const conversation: ChatMessage[] = [
      ...PROMPT,
      {
        role: 'assistant',
        content: '',
        toolCalls: [
          { id: 'call_a', name: 'lookup', arguments: '{"q":"France"}' },
          { id: 'call_b', name: 'lookup', arguments: '{"q":"Paris"}' },
        ],
      },
      { role: 'tool', toolCallId: 'call_a', content: 'a country' },
      { role: 'user', content: 'Be brief.' },
      { role: 'tool', toolCallId: 'call_b', content: 'a city' },
    ];
    expect((await provider.complete(requestOf(conversation))).content).toBe('Paris.');
    expect(api.bodies.at(-1)?.messages.at(-1)).toEqual({
      role: 'user',
      content: [
        { type: 'tool_result', tool_use_id: 'call_a', content: 'a country' },
        { type: 'tool_result', tool_use_id: 'call_b', content: 'a city' },
        { type: 'text', text: 'Be brief.' },
      ],
    });
  });

  it('an image goes with the media type its bytes are, which the API checks, whatever type it was labelled', async () => {
    const api = await strictMessagesApi();
    const provider = new AnthropicProvider({ name: 'anthropic', baseURL: api.url, apiKey: 'x' });
    const labelled: ChatMessage[] = [
      {
        role: 'user',
        content: 'What is in this picture?',
        parts: [
          { type: 'text', text: 'What is in this picture?' },
          { type: 'image', image: { data: PNG_BYTES, mediaType: 'image/jpeg' } },
          { type: 'image', image: { url: 'data:image/jpeg;base64,...', inline: { data: PNG_BYTES, mediaType: 'image/jpeg' } } },
        ],
      },
    ];
    expect((await provider.complete(requestOf(labelled))).content).toBe('Paris.');
    const sent = api.bodies.at(-1)?.messages[0]?.content as { type: string; source?: { media_type: string } }[];
    expect(sent.filter((b) => b.type === 'image').map((b) => b.source?.media_type)).toEqual(['image/png', 'image/png']);
  });

  it('a tool whose parameters name no type (an empty schema: no arguments) goes with input_schema of type object, which the API requires', async () => {
    const api = await strictMessagesApi();
    const provider = new AnthropicProvider({ name: 'anthropic', baseURL: api.url, apiKey: 'x' });
    const tooling: Tooling = {
      tools: [
        { name: 'now', parameters: {} },
        { name: 'lookup', parameters: { properties: { city: { type: 'string' } }, required: ['city'] } },
      ],
    };
    expect((await provider.complete(requestOf(PROMPT, { tooling }))).content).toBe('Paris.');
    expect(api.bodies.at(-1)?.tools).toEqual([
      { name: 'now', input_schema: { type: 'object' } },
      { name: 'lookup', input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
    ]);
  });

  // The API says an account out of credits with a 400, not a 402: the gateway's account, not the request, is at fault.
  it('a 400 saying the credit balance is too low: UNAVAILABLE UPSTREAM_AUTH_FAILED (check the credits), as a 402', async () => {
    const url = await serve((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(400, { 'content-type': 'application/json', 'request-id': 'req_1' });
        res.end(
          JSON.stringify({
            type: 'error',
            error: {
              type: 'invalid_request_error',
              message:
                'Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.',
            },
          }),
        );
      });
    });
    const provider = new AnthropicProvider({ name: 'anthropic', baseURL: url, apiKey: 'x' });
    for (const failure of [
      await failureOf(provider.complete(requestOf(PROMPT))),
      (await collect(provider.stream(requestOf(PROMPT)))).error as OrchestratorError,
    ]) {
      expect(failure).toMatchObject({
        kind: 'unavailable',
        reason: Reason.UPSTREAM_AUTH_FAILED,
        retryable: false,
        metadata: { provider: 'anthropic', upstream_status: '400' },
      });
      expect(failure.message).toMatch(/credits or billing/);
    }
  });

  // Spend limits refuse every request until the limit is raised or the month ends: the gateway's
  // account, not the request, is at fault, and retrying the same account cannot help.
  for (const { what, status, error } of [
    {
      what: 'a 400 saying a spend limit set on the organization is reached',
      status: 400,
      error: {
        type: 'invalid_request_error',
        message: 'You have reached your specified API usage limits. You will regain access on 2026-12-01 at 00:00 UTC.',
      },
    },
    {
      what: 'a 400 saying a spend limit set on the workspace is reached',
      status: 400,
      error: {
        type: 'invalid_request_error',
        message: 'You have reached your specified workspace API usage limits. You will regain access on 2026-12-01 at 00:00 UTC.',
      },
    },
    {
      what: "a 429 saying the tier's monthly spend limit is reached",
      status: 429,
      error: { type: 'rate_limit_error', message: 'Spend limit reached.', details: { error_code: 'enforced_spend_limit_reached' } },
    },
    {
      what: "a 429 saying the contract's spend limit is reached",
      status: 429,
      error: { type: 'rate_limit_error', message: 'Spend limit reached.', details: { error_code: 'contract_spend_limit_reached' } },
    },
  ]) {
    it(`${what}: UNAVAILABLE UPSTREAM_AUTH_FAILED, not retried, as a 402`, async () => {
      const url = await serve((req, res) => {
        req.resume();
        req.on('end', () => {
          res.writeHead(status, { 'content-type': 'application/json', 'request-id': 'req_1' });
          res.end(JSON.stringify({ type: 'error', error, request_id: 'req_1' }));
        });
      });
      const provider = new AnthropicProvider({ name: 'anthropic', baseURL: url, apiKey: 'x' });
      for (const failure of [
        await failureOf(provider.complete(requestOf(PROMPT))),
        (await collect(provider.stream(requestOf(PROMPT)))).error as OrchestratorError,
      ]) {
        expect(failure).toMatchObject({
          kind: 'unavailable',
          reason: Reason.UPSTREAM_AUTH_FAILED,
          retryable: false,
          metadata: { provider: 'anthropic', upstream_status: String(status) },
        });
        expect(failure.message).toMatch(/spend limit is reached\); check its credits or billing/);
      }
    });
  }

  // The organization disabled by the provider refuses every request, whatever it asks: no credits
  // or billing change lifts it, only the provider can.
  it('a 400 whose error_code says the organization is on hold: UNAVAILABLE UPSTREAM_AUTH_FAILED, contact the provider', async () => {
    const url = await serve((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(400, { 'content-type': 'application/json', 'request-id': 'req_1' });
        const error = {
          type: 'invalid_request_error',
          message: 'This organization has been disabled.',
          details: { error_code: 'organization_on_hold', appeal_url: 'https://example.com/appeal' },
        };
        res.end(JSON.stringify({ type: 'error', error, request_id: 'req_1' }));
      });
    });
    const provider = new AnthropicProvider({ name: 'anthropic', baseURL: url, apiKey: 'x' });
    for (const failure of [
      await failureOf(provider.complete(requestOf(PROMPT))),
      (await collect(provider.stream(requestOf(PROMPT)))).error as OrchestratorError,
    ]) {
      expect(failure).toMatchObject({
        kind: 'unavailable',
        reason: Reason.UPSTREAM_AUTH_FAILED,
        retryable: false,
        metadata: { provider: 'anthropic', upstream_status: '400' },
      });
      expect(failure.message).toBe(
        'anthropic refused to serve our account (HTTP 400: its organization is on hold); contact the provider: only it can lift the hold',
      );
    }
  });

  it('a 429 of a ramp limit (usage growing too fast) is a rate limit still, retried after its retry-after', async () => {
    const url = await serve((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '7' });
        const error = { type: 'rate_limit_error', message: 'Ramp limit exceeded.', details: { error_code: 'ramp_limit_exceeded' } };
        res.end(JSON.stringify({ type: 'error', error }));
      });
    });
    const provider = new AnthropicProvider({ name: 'anthropic', baseURL: url, apiKey: 'x' });
    expect(await failureOf(provider.complete(requestOf(PROMPT)))).toMatchObject({
      reason: Reason.UPSTREAM_RATE_LIMITED,
      retryable: true,
      retryAfterMs: 7000,
    });
  });

  // Strict tools are held to the schema subset the API's structured outputs take, as an answer's
  // JSON Schema is; OpenAI's strict mode takes minimum, maxLength and the like.
  it('a strict tool goes with its schema shaped as the API takes it: objects closed, constraints it refuses described', async () => {
    const api = await strictMessagesApi();
    const provider = new AnthropicProvider({ name: 'anthropic', baseURL: api.url, apiKey: 'x' });
    const parameters = {
      type: 'object',
      properties: {
        guests: { type: 'integer', minimum: 1, maximum: 12 },
        name: { type: 'string', maxLength: 40 },
        extras: { type: 'object', properties: { vegan: { type: 'boolean' } } },
      },
      required: ['guests', 'name'],
      additionalProperties: false,
    };
    const tooling: Tooling = { tools: [{ name: 'book', parameters, strict: true }] };
    expect((await provider.complete(requestOf(PROMPT, { tooling }))).content).toBe('Paris.');
    expect(api.bodies.at(-1)?.tools).toEqual([
      {
        name: 'book',
        strict: true,
        input_schema: {
          type: 'object',
          properties: {
            guests: { type: 'integer', description: '{minimum: 1, maximum: 12}' },
            name: { type: 'string', description: '{maxLength: 40}' },
            extras: { type: 'object', properties: { vegan: { type: 'boolean' } }, additionalProperties: false },
          },
          required: ['guests', 'name'],
          additionalProperties: false,
        },
      },
    ]);
    // A tool that is not strict goes as it was written: the API takes any schema there.
    await provider.complete(requestOf(PROMPT, { tooling: { tools: [{ name: 'book', parameters }] } }));
    expect(api.bodies.at(-1)?.tools).toEqual([{ name: 'book', input_schema: parameters }]);
  });

  it('a strict tool whose schema the API cannot enforce (a property without a type) is refused by its field, without a call', async () => {
    const api = await strictMessagesApi();
    const provider = new AnthropicProvider({ name: 'anthropic', baseURL: api.url, apiKey: 'x' });
    const tooling: Tooling = {
      tools: [
        { name: 'now', parameters: { type: 'object', properties: {} }, strict: true },
        { name: 'note', parameters: { type: 'object', properties: { anything: {} } }, strict: true },
      ],
    };
    const failure = await failureOf(provider.complete(requestOf(PROMPT, { tooling })));
    expect(failure.kind).toBe('invalid_argument');
    expect(failure.fieldViolations).toEqual([
      { field: 'tooling.tools[1].parameters', description: expect.stringContaining('provider anthropic') as unknown },
    ]);
    expect(api.bodies).toHaveLength(0);
  });

  it('a tool result of only whitespace (a command that printed a newline) goes without content, as an empty one does', async () => {
    const api = await strictMessagesApi();
    const provider = new AnthropicProvider({ name: 'anthropic', baseURL: api.url, apiKey: 'x' });
    const conversation: ChatMessage[] = [
      ...PROMPT,
      { role: 'assistant', content: '', toolCalls: [{ id: 'call_a', name: 'run', arguments: '{"command":"echo"}' }] },
      { role: 'tool', toolCallId: 'call_a', content: '\n' },
    ];
    expect((await provider.complete(requestOf(conversation))).content).toBe('Paris.');
    expect(api.bodies.at(-1)?.messages.at(-1)).toEqual({ role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_a' }] });
  });

  it('a dead upstream is UPSTREAM_UNREACHABLE', async () => {
    const url = await serve(() => undefined);
    await closers.pop()?.();
    const provider = new AnthropicProvider({ name: 'anthropic', baseURL: url, apiKey: 'x' });
    expect(await failureOf(provider.complete(requestOf(PROMPT)))).toMatchObject({
      reason: Reason.UPSTREAM_UNREACHABLE,
      retryable: true,
    });
  });
});
