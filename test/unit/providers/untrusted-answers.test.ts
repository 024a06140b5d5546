import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrchestratorError } from '../../../src/domain/errors.js';
import { countsAgainstBreaker } from '../../../src/engine/resilience/failures.js';
import { checkUsage } from '../../../src/engine/usage-check.js';
import { AnthropicProvider } from '../../../src/providers/anthropic/provider.js';
import { SseDecoder } from '../../../src/providers/http/fast-sse.js';
import { OpenAIProvider } from '../../../src/providers/openai/provider.js';
import { SDK_GUARD_TIMEOUT_MS } from '../../../src/providers/upstream-errors.js';
import type { ProviderRequest, ProviderStreamEvent } from '../../../src/providers/types.js';

/** An upstream's answer is input: a shape other than the API's fails as a malformed answer (retryable), never as a crash. */
type Reply = (body: { stream?: boolean }, res: http.ServerResponse) => void;
let reply: Reply = (_b, res) => res.end();
let server: http.Server;
let base = '';
beforeAll(async () => {
  server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => {
      raw += c.toString();
    });
    req.on('end', () => reply(JSON.parse(raw || '{}') as { stream?: boolean }, res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const req = (extra: Partial<ProviderRequest> = {}): ProviderRequest => ({
  upstreamModel: 'm',
  messages: [{ role: 'user', content: 'hi' }],
  temperature: 0,
  maxTokens: 100,
  signal: new AbortController().signal,
  ...extra,
});
const openai = () => new OpenAIProvider({ name: 'o', baseURL: `${base}/v1`, apiKey: 'sk-test' });
const anthropic = () => new AnthropicProvider({ name: 'a', baseURL: base, apiKey: 'sk-ant-test' });

async function collect(events: AsyncIterable<ProviderStreamEvent>): Promise<ProviderStreamEvent[]> {
  const out: ProviderStreamEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}
const json =
  (value: unknown): Reply =>
  (_b, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(typeof value === 'string' ? value : JSON.stringify(value));
  };
const sse =
  (text: string): Reply =>
  (_b, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end(text);
  };
const chunk = (delta: object, finish: string | null = null) =>
  `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
const anthropicEvents = (events: readonly object[]) =>
  events.map((e) => `event: ${(e as { type: string }).type}\ndata: ${JSON.stringify(e)}\n\n`).join('');
const start = (usage: object = { input_tokens: 10, output_tokens: 1 }) => ({
  type: 'message_start',
  message: { id: 'm1', type: 'message', role: 'assistant', content: [], model: 'c', usage },
});
const stop = [{ type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 5 } }, { type: 'message_stop' }];

const malformedError = async (promise: Promise<unknown>) => {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OrchestratorError);
  expect((err as OrchestratorError).reason).toBe('UPSTREAM_MALFORMED_RESPONSE');
};
const message = (m: object) => ({ choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', ...m } }] });
const call = (fn: unknown) => ({ id: 't', type: 'function', function: fn });

describe('a unary answer of another shape', () => {
  const openaiBodies: [string, unknown][] = [
    ['JSON null', 'null'],
    ['content a number beside tool calls', message({ content: 123, tool_calls: [call({ name: 'f', arguments: '{}' })] })],
    ['tool_calls an object', message({ content: 'x', tool_calls: {} })],
    ['tool_calls holding null', message({ content: 'x', tool_calls: [null] })],
    ['a function of null', message({ content: 'x', tool_calls: [call(null)] })],
    ['arguments an object', message({ content: null, tool_calls: [call({ name: 'f', arguments: { a: 1 } })] })],
  ];
  for (const [name, body] of openaiBodies) {
    it(`OpenAI: ${name}`, async () => {
      reply = json(body);
      await malformedError(openai().complete(req()));
    });
  }
  const anthropicBodies: [string, unknown][] = [
    ['JSON null', 'null'],
    [
      'a null content block',
      {
        type: 'message',
        role: 'assistant',
        model: 'c',
        content: [null],
        stop_reason: 'end_turn',
        usage: { input_tokens: 1, output_tokens: 1 },
      },
    ],
  ];
  for (const [name, body] of anthropicBodies) {
    it(`Anthropic: ${name}`, async () => {
      reply = json(body);
      await malformedError(anthropic().complete(req()));
    });
  }
});

describe('a stream event of another shape', () => {
  const openaiStreams: [string, string][] = [
    ['content a number', `${chunk({ content: 'a' })}${chunk({ content: 123 })}${chunk({}, 'stop')}data: [DONE]\n\n`],
    [
      'a tool call piece whose index is not a whole number',
      `${chunk({ tool_calls: [{ index: '0', id: 't', function: { name: 'f', arguments: '' } }] })}${chunk({}, 'tool_calls')}data: [DONE]\n\n`,
    ],
    [
      'arguments an object',
      `${chunk({ tool_calls: [{ index: 0, id: 't', function: { name: 'f', arguments: { a: 1 } } }] })}${chunk({}, 'tool_calls')}data: [DONE]\n\n`,
    ],
  ];
  for (const [name, body] of openaiStreams) {
    it(`OpenAI: ${name}`, async () => {
      reply = sse(body);
      await malformedError(collect(openai().stream(req())));
    });
  }
  it('Anthropic: a text_delta whose text is a number', async () => {
    reply = sse(anthropicEvents([start(), { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 123 } }, ...stop]));
    await malformedError(collect(anthropic().stream(req())));
  });
  it('OpenAI: a chunk that is JSON null, not an object', async () => {
    reply = sse(`${chunk({ content: 'a' })}data: null\n\n${chunk({}, 'stop')}data: [DONE]\n\n`);
    await malformedError(collect(openai().stream(req())));
  });
  const anthropicShapes: [string, string][] = [
    ['an event that is JSON null', 'event: content_block_delta\ndata: null\n\n'],
    ['a content_block_start without its content_block', anthropicEvents([{ type: 'content_block_start', index: 0 }])],
    ['a content_block_delta without its delta', anthropicEvents([{ type: 'content_block_delta', index: 0 }])],
    ['a message_delta without its delta', anthropicEvents([{ type: 'message_delta', usage: { output_tokens: 1 } }])],
  ];
  for (const [name, event] of anthropicShapes) {
    it(`Anthropic: ${name}`, async () => {
      reply = sse(`${anthropicEvents([start()])}${event}${anthropicEvents(stop)}`);
      await malformedError(collect(anthropic().stream(req())));
    });
  }
});

/** The OrchestratorError a call failed with. */
async function failure(promise: Promise<unknown>): Promise<OrchestratorError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OrchestratorError);
  return err as OrchestratorError;
}

describe('an error object in a 200 answer from an OpenAI-compatible upstream (OpenRouter, vLLM, Ollama)', () => {
  it('streamed: the HTTP status its code names decides the failure; without one, the stream says the upstream reported an error', async () => {
    reply = sse(`${chunk({ content: 'hey' })}data: {"error":{"message":"Rate limit exceeded","code":429}}\n\n`);
    const limited = await failure(collect(openai().stream(req())));
    expect([limited.reason, limited.retryable]).toEqual(['UPSTREAM_RATE_LIMITED', true]);
    reply = sse(`${chunk({ content: 'hey' })}data: {"error":{"message":"prompt too long","code":400}}\n\n`);
    const rejected = await failure(collect(openai().stream(req())));
    expect([rejected.kind, rejected.reason, rejected.retryable]).toEqual(['invalid_argument', 'UPSTREAM_REJECTED_REQUEST', false]);
    for (const error of ['{"message":"boom","type":"api_error","code":null}', '"model not loaded"']) {
      reply = sse(`${chunk({ content: 'hey' })}data: {"error":${error}}\n\n`);
      const reported = await failure(collect(openai().stream(req())));
      expect(reported.reason).toBe('STREAM_TRUNCATED');
      expect(reported.message).toMatch(/reported an error/);
      expect(reported.message).not.toMatch(/connection closed/);
    }
  });
  it('unary: the HTTP status its code names decides the failure, not a malformed answer', async () => {
    reply = json({ error: { message: 'Rate limit exceeded', code: 429 } });
    expect((await failure(openai().complete(req()))).reason).toBe('UPSTREAM_RATE_LIMITED');
    reply = json({ error: { message: 'Provider returned error', code: 502 } });
    const failed = await failure(openai().complete(req()));
    expect([failed.reason, failed.retryable, failed.metadata.upstream_status]).toEqual(['UPSTREAM_ERROR', true, '502']);
    reply = json({ error: { message: 'context too long', code: 400 } });
    expect((await failure(openai().complete(req()))).reason).toBe('UPSTREAM_REJECTED_REQUEST');
  });
});

// llama.cpp's server writes a failure after the stream's headers as an `error:` line, a field no
// SSE reader knows, then [DONE]: read as data-less, the stream ended with no finish_reason.
describe('an error an OpenAI-compatible stream sends as an `error:` line (llama.cpp server)', () => {
  it('fails the stream as the HTTP status its code names, not as a stream cut short', async () => {
    const context =
      '{"code":400,"message":"the request exceeds the available context size, try increasing it","type":"exceed_context_size_error"}';
    reply = sse(`error: ${context}\n\ndata: [DONE]\n\n`);
    const rejected = await failure(collect(openai().stream(req())));
    expect([rejected.kind, rejected.reason, rejected.retryable]).toEqual(['invalid_argument', 'UPSTREAM_REJECTED_REQUEST', false]);
    reply = sse(`${chunk({ content: 'hey' })}error: {"code":500,"message":"slot failed","type":"server_error"}\n\ndata: [DONE]\n\n`);
    const failed = await failure(collect(openai().stream(req())));
    expect([failed.reason, failed.metadata.upstream_status]).toEqual(['UPSTREAM_ERROR', '500']);
  });

  it('and as `event: error`, its data the error: the same, and without a code the upstream reported an error', async () => {
    reply = sse(`event: error\ndata: {"error":{"message":"Rate limit exceeded","code":429}}\n\n`);
    expect((await failure(collect(openai().stream(req())))).reason).toBe('UPSTREAM_RATE_LIMITED');
    reply = sse(`${chunk({ content: 'hey' })}event: error\ndata: {"message":"boom"}\n\n`);
    const reported = await failure(collect(openai().stream(req())));
    expect([reported.reason, reported.message]).toEqual(['STREAM_TRUNCATED', 'o stream ended early: the stream reported an error']);
  });
});

describe('a failure that is not the transport failing', () => {
  const ours = (err: OrchestratorError, cause: new (...args: never[]) => Error) => {
    expect([err.kind, err.reason, err.retryable, countsAgainstBreaker(err)]).toEqual(['internal', 'INTERNAL', false, false]);
    expect(err.cause).toBeInstanceOf(cause);
  };
  it("is the gateway's own error, not an unreachable upstream: the SDK failing to read an error answer nested too deep", async () => {
    const deep = `{"type":"error","error":${'['.repeat(50_000)}${']'.repeat(50_000)}}`;
    reply = (_b, res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(deep);
    };
    ours(await failure(anthropic().complete(req())), RangeError);
  });
  it('is our own error, not a truncated stream, when our code throws while a stream is read', async () => {
    // The thinking arrives in a read of its own, which tells the engine of progress: that callback throws.
    const inTwoReads =
      (first: string, rest: string): Reply =>
      (_b, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(first);
        setTimeout(() => res.end(rest), 50);
      };
    const onProgress = (): void => {
      throw new TypeError('a bug of ours');
    };
    const thinking = { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'hmm' } };
    reply = inTwoReads(anthropicEvents([start(), thinking]), anthropicEvents(stop));
    ours(await failure(collect(anthropic().stream(req({ onProgress })))), TypeError);
    reply = inTwoReads(chunk({ reasoning_content: 'hmm' }), `${chunk({ content: 'a' }, 'stop')}data: [DONE]\n\n`);
    ours(await failure(collect(openai().stream(req({ onProgress })))), TypeError);
  });
  it("is the upstream's time running out when the SDK's own guard timeout passes, with no provider timeout set", async () => {
    // The guard is an hour: its error is made here rather than waited for.
    type Translating = { translate(err: unknown, signal: AbortSignal, phase: 'response' | 'stream'): OrchestratorError };
    const signal = new AbortController().signal;
    const openaiSdk = (await import('openai')).default;
    const anthropicSdk = (await import('@anthropic-ai/sdk')).default;
    const anthropicProvider = anthropic();
    // The Anthropic SDK loads with the provider's first request.
    reply = (_b, res) => res.end('{}');
    await anthropicProvider.complete(req()).catch(() => undefined);
    const cases: [unknown, Error][] = [
      [openai(), new openaiSdk.APIConnectionTimeoutError()],
      [anthropicProvider, new anthropicSdk.APIConnectionTimeoutError()],
    ];
    for (const [provider, timeout] of cases) {
      const err = (provider as Translating).translate(timeout, signal, 'response');
      expect([err.reason, err.retryable]).toEqual(['UPSTREAM_TIMEOUT', true]);
      expect(err.message).toContain(String(SDK_GUARD_TIMEOUT_MS));
    }
  });
  it('keeps a cut connection STREAM_TRUNCATED and a refused one UPSTREAM_UNREACHABLE', async () => {
    reply = (_b, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(chunk({ content: 'a' }));
      setTimeout(() => res.destroy(), 20);
    };
    // The SDK's own path (a base URL with a query) reads undici's body, whose failures carry undici's codes.
    const sdkPath = new OpenAIProvider({ name: 'o', baseURL: `${base}/v1?api-version=1`, apiKey: 'k' });
    for (const provider of [openai(), sdkPath, anthropic()]) {
      expect((await failure(collect(provider.stream(req())))).reason).toBe('STREAM_TRUNCATED');
    }
    reply = (_b, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      res.write('{"choices":');
      setTimeout(() => res.destroy(), 20);
    };
    for (const provider of [openai(), sdkPath, anthropic()]) {
      expect((await failure(provider.complete(req()))).reason).toBe('STREAM_TRUNCATED');
    }
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const dead = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise<void>((r) => closed.close(() => r()));
    const providers = [
      new OpenAIProvider({ name: 'o', baseURL: `${dead}/v1`, apiKey: 'k' }),
      new OpenAIProvider({ name: 'o', baseURL: `${dead}/v1?api-version=1`, apiKey: 'k' }),
      new AnthropicProvider({ name: 'a', baseURL: dead, apiKey: 'k' }),
    ];
    for (const provider of providers) {
      for (const run of [() => provider.complete(req()), () => collect(provider.stream(req()))]) {
        const err = await failure(run());
        expect([err.kind, err.reason, err.retryable]).toEqual(['unavailable', 'UPSTREAM_UNREACHABLE', true]);
      }
    }
  });
});

describe('a reasoning model that spent its whole answer thinking (vLLM: content null beside reasoning_content)', () => {
  it('answers empty text with the finish reason the upstream gave, not a malformed answer', async () => {
    for (const field of ['reasoning_content', 'reasoning']) {
      reply = json({
        choices: [{ index: 0, finish_reason: 'length', message: { role: 'assistant', content: null, [field]: 'Let me think' } }],
      });
      const answer = await openai().complete(req());
      expect([answer.content, answer.finishReason]).toEqual(['', 'length']);
    }
  });
});

describe('tool calls an OpenAI-compatible upstream ends with finish_reason stop (a forced tool_choice, vLLM, older Ollama)', () => {
  it('end with finish reason tool_calls, as the answer is a call to run, unary and streamed', async () => {
    const toolCall = { id: 'call_1', type: 'function', function: { name: 'now', arguments: '{}' } };
    reply = (body, res) =>
      body.stream
        ? sse(`${chunk({ role: 'assistant', tool_calls: [{ index: 0, ...toolCall }] })}${chunk({}, 'stop')}data: [DONE]\n\n`)(body, res)
        : json(message({ content: null, tool_calls: [toolCall] }))(body, res);
    const tooling = { tools: [{ name: 'now' }], toolChoice: { type: 'function' as const, name: 'now' } };
    const unary = await openai().complete(req({ tooling }));
    expect([unary.finishReason, unary.toolCalls?.[0]?.name]).toEqual(['tool_calls', 'now']);
    const end = (await collect(openai().stream(req({ tooling })))).at(-1);
    expect(end?.type === 'end' && [end.finishReason, end.toolCalls?.[0]?.name]).toEqual(['tool_calls', 'now']);
  });
});

describe("finish reasons an OpenAI-compatible upstream names its own way (Together's eos, TGI's eos_token and stop_sequence, Mistral's model_length, a Bedrock gateway's Anthropic stop reasons)", () => {
  it('are the reason they mean, unary and streamed', async () => {
    const cases: [string, string][] = [
      ['eos', 'stop'],
      ['eos_token', 'stop'],
      ['stop_sequence', 'stop'],
      ['model_length', 'length'],
      ['end_turn', 'stop'],
      ['max_tokens', 'length'],
    ];
    for (const [given, meant] of cases) {
      reply = (body, res) =>
        body.stream
          ? sse(`${chunk({ content: 'hi' })}${chunk({}, given)}data: [DONE]\n\n`)(body, res)
          : json(message({ content: 'hi' }))(body, res);
      const end = (await collect(openai().stream(req()))).at(-1);
      expect(end?.type === 'end' && end.finishReason).toBe(meant);
      reply = json({ choices: [{ index: 0, finish_reason: given, message: { role: 'assistant', content: 'hi' } }] });
      expect((await openai().complete(req())).finishReason).toBe(meant);
    }
  });
});

describe('an answer an OpenAI-compatible upstream ends with finish_reason error (OpenRouter), abort (vLLM) or insufficient_system_resource (DeepSeek)', () => {
  it('is a failure, not a whole answer, unary and streamed', async () => {
    for (const given of ['error', 'abort', 'insufficient_system_resource']) {
      reply = sse(`${chunk({ content: 'The first half' })}${chunk({}, given)}data: [DONE]\n\n`);
      const events: ProviderStreamEvent[] = [];
      const streamed = await (async () => {
        for await (const e of openai().stream(req())) events.push(e);
      })().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(events.map((e) => e.type)).toEqual(['delta']);
      expect((streamed as OrchestratorError).reason).toBe('STREAM_TRUNCATED');
      reply = json({ choices: [{ index: 0, finish_reason: given, message: { role: 'assistant', content: 'The first half' } }] });
      const unary = await openai()
        .complete(req())
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect((unary as OrchestratorError).reason).toBe('STREAM_TRUNCATED');
    }
  });
});

// Ollama streams each call of an answer whole, every one at index 0 (its issue 15457): read by
// index alone, two calls became one, with the second's id and both arguments run together.
describe('parallel tool calls an OpenAI-compatible upstream streams all at index 0, each with its own id (Ollama)', () => {
  it('stay separate calls, relayed at indexes of their own', async () => {
    const calls = [
      { index: 0, id: 'call_a', type: 'function', function: { name: 'file_write', arguments: '{"path":"hello.py"}' } },
      { index: 0, id: 'call_b', type: 'function', function: { name: 'file_write', arguments: '{"path":"world.py"}' } },
    ];
    reply = sse(
      `${chunk({ role: 'assistant', content: '' })}${chunk({ tool_calls: [calls[0]] })}${chunk({ tool_calls: [calls[1]] })}` +
        `${chunk({}, 'tool_calls')}data: [DONE]\n\n`,
    );
    const events = await collect(openai().stream(req({ tooling: { tools: [{ name: 'file_write' }] } })));
    const pieces = events.flatMap((e) => (e.type === 'delta' && e.toolCall ? [e.toolCall] : []));
    expect(pieces.map((p) => [p.index, p.id])).toEqual([
      [0, 'call_a'],
      [1, 'call_b'],
    ]);
    const end = events.at(-1);
    expect(end?.type === 'end' && end.toolCalls).toEqual([
      { id: 'call_a', name: 'file_write', arguments: '{"path":"hello.py"}' },
      { id: 'call_b', name: 'file_write', arguments: '{"path":"world.py"}' },
    ]);
  });

  it('pieces of one call after its first, without an id or with the same one, still join it', async () => {
    reply = sse(
      `${chunk({ tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'f', arguments: '{"a"' } }] })}` +
        `${chunk({ tool_calls: [{ index: 0, function: { arguments: ':1' } }] })}` +
        `${chunk({ tool_calls: [{ index: 0, id: 'call_a', function: { arguments: '}' } }] })}${chunk({}, 'tool_calls')}data: [DONE]\n\n`,
    );
    const end = (await collect(openai().stream(req({ tooling: { tools: [{ name: 'f' }] } })))).at(-1);
    expect(end?.type === 'end' && end.toolCalls).toEqual([{ id: 'call_a', name: 'f', arguments: '{"a":1}' }]);
  });
});

describe('tool calls an OpenAI-compatible upstream streams with their id, type and name on every piece (Fireworks, MiniMax on NVIDIA NIM)', () => {
  it('are relayed with the id and name on the first piece of each call only, as clients that join the pieces expect', async () => {
    const piece = (index: number, id: string, name: string, args: string) => ({
      index,
      id,
      type: 'function',
      function: { name, arguments: args },
    });
    reply = sse(
      `${chunk({ tool_calls: [piece(0, 'call_a', 'f', '')] })}${chunk({ tool_calls: [piece(0, 'call_a', 'f', '{"a"')] })}` +
        `${chunk({ tool_calls: [piece(0, 'call_a', 'f', ':1}')] })}${chunk({ tool_calls: [piece(1, 'call_b', 'g', '{}')] })}` +
        `${chunk({ tool_calls: [piece(1, 'call_b', 'g', '')] })}${chunk({}, 'tool_calls')}data: [DONE]\n\n`,
    );
    const events = await collect(openai().stream(req({ tooling: { tools: [{ name: 'f' }, { name: 'g' }] } })));
    const pieces = events.flatMap((e) => (e.type === 'delta' && e.toolCall ? [e.toolCall] : []));
    expect(pieces.map((p) => [p.index, p.id, p.name, p.arguments])).toEqual([
      [0, 'call_a', 'f', ''],
      [0, undefined, undefined, '{"a"'],
      [0, undefined, undefined, ':1}'],
      [1, 'call_b', 'g', '{}'],
      [1, undefined, undefined, ''],
    ]);
    const end = events.at(-1);
    expect(end?.type === 'end' && end.toolCalls).toEqual([
      { id: 'call_a', name: 'f', arguments: '{"a":1}' },
      { id: 'call_b', name: 'g', arguments: '{}' },
    ]);
  });
});

// Gemini's OpenAI-compatible endpoint, Ollama before 0.4.7, Xinference and mistral.rs stream tool
// calls without `index`: each call's first piece carries its id, the pieces after it only arguments.
describe('tool calls an OpenAI-compatible upstream streams without their index', () => {
  const tools = { tools: [{ name: 'f' }, { name: 'g' }] };
  it('are read by their ids: several calls in one chunk, or one chunk each, stay separate calls', async () => {
    const a = { id: 'call_a', type: 'function', function: { name: 'f', arguments: '{"a":1}' } };
    const b = { id: 'call_b', type: 'function', function: { name: 'g', arguments: '{"b":2}' } };
    const expected = [
      { id: 'call_a', name: 'f', arguments: '{"a":1}' },
      { id: 'call_b', name: 'g', arguments: '{"b":2}' },
    ];
    for (const body of [chunk({ tool_calls: [a, b] }), `${chunk({ tool_calls: [a] })}${chunk({ tool_calls: [b] })}`]) {
      reply = sse(`${body}${chunk({}, 'tool_calls')}data: [DONE]\n\n`);
      const events = await collect(openai().stream(req({ tooling: tools })));
      const pieces = events.flatMap((e) => (e.type === 'delta' && e.toolCall ? [e.toolCall] : []));
      expect(pieces.map((p) => [p.index, p.id])).toEqual([
        [0, 'call_a'],
        [1, 'call_b'],
      ]);
      const end = events.at(-1);
      expect(end?.type === 'end' && [end.finishReason, end.toolCalls]).toEqual(['tool_calls', expected]);
    }
  });

  it('join the call before them when they carry arguments only, or the id of a call already open', async () => {
    reply = sse(
      `${chunk({ tool_calls: [{ id: 'call_a', type: 'function', function: { name: 'f', arguments: '{"a"' } }] })}` +
        `${chunk({ tool_calls: [{ function: { arguments: ':1' } }] })}` +
        `${chunk({ tool_calls: [{ id: 'call_b', type: 'function', function: { name: 'g', arguments: '{' } }] })}` +
        `${chunk({ tool_calls: [{ function: { arguments: '}' } }] })}` +
        `${chunk({ tool_calls: [{ id: 'call_a', function: { arguments: '}' } }] })}${chunk({}, 'tool_calls')}data: [DONE]\n\n`,
    );
    const end = (await collect(openai().stream(req({ tooling: tools })))).at(-1);
    expect(end?.type === 'end' && end.toolCalls).toEqual([
      { id: 'call_a', name: 'f', arguments: '{"a":1}' },
      { id: 'call_b', name: 'g', arguments: '{}' },
    ]);
  });
});

describe('tool calls of a unary answer without their type (vLLM, Ollama: type absent or null)', () => {
  it('are function calls, as the same calls streamed are', async () => {
    for (const type of [undefined, null]) {
      for (const content of [null, '']) {
        const toolCall = { id: 'call_1', ...(type === undefined ? {} : { type }), function: { name: 'now', arguments: '{}' } };
        reply = json({
          choices: [{ index: 0, finish_reason: 'tool_calls', message: { role: 'assistant', content, tool_calls: [toolCall] } }],
        });
        const answer = await openai().complete(req({ tooling: { tools: [{ name: 'now' }] } }));
        expect(answer.toolCalls).toEqual([{ id: 'call_1', name: 'now', arguments: '{}' }]);
      }
    }
  });
});

describe('keep-alive frames a relay sends as data in an OpenAI-compatible stream', () => {
  it('are skipped: an empty data line, one of spaces, and a comment sent as data', async () => {
    const keepAlives = 'data: \n\ndata:\n\ndata:   \n\ndata: : keepalive\n\n';
    reply = sse(`${chunk({ content: 'hel' })}${keepAlives}${chunk({ content: 'lo' })}${keepAlives}${chunk({}, 'stop')}data: [DONE]\n\n`);
    const events = await collect(openai().stream(req()));
    expect(events.flatMap((e) => (e.type === 'delta' ? [e.content] : [])).join('')).toBe('hello');
    expect(events.at(-1)?.type === 'end' && events.at(-1)).toMatchObject({ finishReason: 'stop' });
  });
  it('are skipped in a Messages API stream too, between its events', async () => {
    const keepAlives = 'data: \n\ndata:\n\ndata:   \n\ndata: : keepalive\n\n';
    const text = (t: string) => anthropicEvents([{ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: t } }]);
    const opening = anthropicEvents([start(), { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }]);
    reply = sse(`${opening}${keepAlives}${text('hel')}${keepAlives}${text('lo')}${keepAlives}${anthropicEvents(stop)}`);
    const events = await collect(anthropic().stream(req()));
    expect(events.flatMap((e) => (e.type === 'delta' ? [e.content] : [])).join('')).toBe('hello');
    expect(events.at(-1)?.type === 'end' && events.at(-1)).toMatchObject({ finishReason: 'stop' });
  });
});

describe('Anthropic tool calls streamed and not', () => {
  it('agree on a tool called without input: its arguments are {}', async () => {
    const events = [
      start(),
      { type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: 'toolu_1', name: 'now', input: {} } },
      { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '' } },
      { type: 'content_block_stop', index: 0 },
      { type: 'message_delta', delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 5 } },
      { type: 'message_stop' },
    ];
    reply = (body, res) =>
      body.stream
        ? sse(anthropicEvents(events))(body, res)
        : json({
            type: 'message',
            role: 'assistant',
            model: 'c',
            content: [{ type: 'tool_use', id: 'toolu_1', name: 'now', input: {} }],
            stop_reason: 'tool_use',
            usage: { input_tokens: 10, output_tokens: 5 },
          })(body, res);
    const tooling = { tools: [{ name: 'now' }] };
    const unary = await anthropic().complete(req({ tooling }));
    const end = (await collect(anthropic().stream(req({ tooling })))).at(-1);
    expect(unary.toolCalls?.[0]?.arguments).toBe('{}');
    expect(end?.type === 'end' && end.toolCalls).toEqual(unary.toolCalls);
  });
});

describe('a stream whose upstream keeps the response open after its end marker', () => {
  const heldOpen =
    (text: string): Reply =>
    (_b, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(text);
      setTimeout(() => res.end(), 3_000);
    };
  it('ends at [DONE] (OpenAI) and message_stop (Anthropic), without waiting for the close', async () => {
    reply = heldOpen(`${chunk({ content: 'hi' })}${chunk({}, 'stop')}data: [DONE]\n\n`);
    let started = Date.now();
    expect((await collect(openai().stream(req()))).at(-1)?.type).toBe('end');
    expect(Date.now() - started).toBeLessThan(1_000);
    reply = heldOpen(
      anthropicEvents([start(), { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'hi' } }, ...stop]),
    );
    started = Date.now();
    expect((await collect(anthropic().stream(req()))).at(-1)?.type).toBe('end');
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});

describe('usage reports', () => {
  const request = { messages: [{ role: 'user' as const, content: 'write a long story' }], maxTokens: 10_000 };
  it('from an OpenAI-compatible upstream keep the cached prompt tokens it names, unary and streamed', async () => {
    // Cached prompt tokens are priced at the cached rate: read as none, the call would be charged the full input price.
    const usage = { prompt_tokens: 1200, completion_tokens: 3, total_tokens: 1203, prompt_tokens_details: { cached_tokens: 1024 } };
    const expected = { promptTokens: 1200, completionTokens: 3, totalTokens: 1203, cachedTokens: 1024 };
    reply = json({ ...message({ content: 'ok' }), usage });
    const unary = await openai().complete(req());
    expect([unary.usage, unary.usageEstimated]).toEqual([expected, undefined]);
    reply = sse(`${chunk({ content: 'ok' }, 'stop')}data: ${JSON.stringify({ id: 'c', choices: [], usage })}\n\ndata: [DONE]\n\n`);
    const end = (await collect(openai().stream(req()))).at(-1);
    expect(end?.type === 'end' && [end.usage, end.usageEstimated]).toEqual([expected, undefined]);
  });
  it("from an OpenAI-compatible upstream keep a reasoning model's reasoning tokens, unary and streamed", async () => {
    // Billed as completion tokens but never shown: without the count a short answer's cost is unexplained.
    const usage = {
      prompt_tokens: 12,
      completion_tokens: 210,
      total_tokens: 222,
      prompt_tokens_details: { cached_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 192, audio_tokens: 0 },
    };
    const expected = { promptTokens: 12, completionTokens: 210, totalTokens: 222, cachedTokens: 0, reasoningTokens: 192 };
    reply = json({ ...message({ content: 'ok' }), usage });
    expect((await openai().complete(req())).usage).toEqual(expected);
    reply = sse(`${chunk({ content: 'ok' }, 'stop')}data: ${JSON.stringify({ id: 'c', choices: [], usage })}\n\ndata: [DONE]\n\n`);
    const end = (await collect(openai().stream(req()))).at(-1);
    expect(end?.type === 'end' && end.usage).toEqual(expected);
    // A count that is not one is handed on as it came: the usage check refuses the report.
    reply = json({ ...message({ content: 'ok' }), usage: { ...usage, completion_tokens_details: { reasoning_tokens: '192' } } });
    const odd = (await openai().complete(req())).usage;
    expect(checkUsage(odd, { messages: req().messages, maxTokens: 1000 }, 2).refused).toMatch(/reasoning_tokens/);
  });
  it('from an OpenAI-compatible upstream keep the prompt tokens OpenRouter says were written to the cache, unary and streamed', async () => {
    // OpenRouter puts cache writes beside cached_tokens; read as none, they would be charged at the plain prompt price.
    const usage = {
      prompt_tokens: 1200,
      completion_tokens: 3,
      total_tokens: 1203,
      prompt_tokens_details: { cached_tokens: 200, cache_write_tokens: 900, audio_tokens: 0 },
    };
    const expected = { promptTokens: 1200, completionTokens: 3, totalTokens: 1203, cachedTokens: 200, cacheWriteTokens: 900 };
    reply = json({ ...message({ content: 'ok' }), usage });
    expect((await openai().complete(req())).usage).toEqual(expected);
    reply = sse(`${chunk({ content: 'ok' }, 'stop')}data: ${JSON.stringify({ id: 'c', choices: [], usage })}\n\ndata: [DONE]\n\n`);
    const end = (await collect(openai().stream(req()))).at(-1);
    expect(end?.type === 'end' && end.usage).toEqual(expected);
    // None written (OpenRouter says 0; others say nothing): no count, as before.
    const none = { promptTokens: 1200, completionTokens: 3, totalTokens: 1203, cachedTokens: 200 };
    for (const written of [0, null, undefined]) {
      reply = json({
        ...message({ content: 'ok' }),
        usage: { ...usage, prompt_tokens_details: { cached_tokens: 200, cache_write_tokens: written } },
      });
      expect((await openai().complete(req())).usage).toEqual(none);
    }
    // A count that is not one, or more than the prompt holds beside the cached tokens, is refused by the usage check.
    const check = (u: typeof expected) => checkUsage(u, { messages: [{ role: 'user', content: 'x'.repeat(5000) }], maxTokens: 1000 }, 2);
    expect(check(expected).refused).toBeUndefined();
    for (const written of ['900', 1.5, 1001]) {
      reply = json({
        ...message({ content: 'ok' }),
        usage: { ...usage, prompt_tokens_details: { cached_tokens: 200, cache_write_tokens: written } },
      });
      expect(check((await openai().complete(req())).usage as typeof expected).refused).toMatch(/cache_write_tokens/);
    }
  });
  it('of no completion tokens for an answer with text are refused, and the estimate charged', () => {
    const checked = checkUsage({ promptTokens: 5, completionTokens: 0, totalTokens: 5, cachedTokens: 0 }, request, 20_000);
    expect(checked.refused).toMatch(/completion_tokens 0/);
    expect(checked.usage.completionTokens).toBeGreaterThan(0);
    expect(checkUsage({ promptTokens: 5, completionTokens: 0, totalTokens: 5, cachedTokens: 0 }, request, 0).refused).toBeUndefined();
  });
  it("from Anthropic are refused when one count is negative, though the counts' sum is not", async () => {
    const events = [
      start({ input_tokens: -40, cache_creation_input_tokens: 45, output_tokens: 1 }),
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'hi' } },
      ...stop,
    ];
    reply = sse(anthropicEvents(events));
    const end = (await collect(anthropic().stream(req()))).at(-1);
    if (end?.type !== 'end') throw new Error('no end');
    expect(checkUsage(end.usage, { messages: req().messages, maxTokens: 100 }, 2).refused).toBeDefined();
  });
  it('from an Anthropic-compatible stream without usage in message_start are estimated, as a unary answer without usage is', async () => {
    const noUsage = { type: 'message_start', message: { id: 'm1', type: 'message', role: 'assistant', content: [], model: 'c' } };
    const text = { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'hi' } };
    for (const delta of [{ output_tokens: 5 }, undefined]) {
      const messageDelta = { type: 'message_delta', delta: { stop_reason: 'end_turn' }, ...(delta ? { usage: delta } : {}) };
      reply = sse(anthropicEvents([noUsage, text, messageDelta, { type: 'message_stop' }]));
      const events = await collect(anthropic().stream(req()));
      expect(events[0]).toEqual({ type: 'delta', content: 'hi' });
      const end = events.at(-1);
      if (end?.type !== 'end') throw new Error('no end');
      expect(end.finishReason).toBe('stop');
      // Without the prompt's count the report is not whole: the estimate is charged, and said to be one.
      expect(end.usageEstimated).toBe(true);
      expect(end.usage.promptTokens).toBeGreaterThan(0);
    }
  });
  it("from an Anthropic-compatible server without usage count the model's thinking, billed as output tokens, unary and streamed", async () => {
    const thinking = 'Let me think this through. '.repeat(20);
    const expected = Math.ceil((thinking.length + 'Yes.'.length) / 4);
    const blocks = [
      { type: 'thinking', thinking, signature: 's' },
      { type: 'text', text: 'Yes.' },
    ];
    reply = json({ id: 'm1', type: 'message', role: 'assistant', model: 'c', content: blocks, stop_reason: 'end_turn' });
    const unary = await anthropic().complete(req());
    expect([unary.content, unary.usage.completionTokens, unary.usageEstimated]).toEqual(['Yes.', expected, true]);
    const noUsage = { type: 'message_start', message: { id: 'm1', type: 'message', role: 'assistant', content: [], model: 'c' } };
    reply = sse(
      anthropicEvents([
        noUsage,
        { type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '' } },
        { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking } },
        { type: 'content_block_stop', index: 0 },
        { type: 'content_block_start', index: 1, content_block: { type: 'text', text: '' } },
        { type: 'content_block_delta', index: 1, delta: { type: 'text_delta', text: 'Yes.' } },
        { type: 'content_block_stop', index: 1 },
        { type: 'message_delta', delta: { stop_reason: 'end_turn' } },
        { type: 'message_stop' },
      ]),
    );
    const end = (await collect(anthropic().stream(req()))).at(-1);
    expect(end?.type === 'end' && [end.usage.completionTokens, end.usageEstimated]).toEqual([expected, true]);
  });
});

describe('the SSE decoder', () => {
  it('keeps a CR at the end of one read with the LF at the start of the next, an empty read between them', () => {
    const decoder = new SseDecoder();
    const events = ['data: a\r', '', '\ndata: b\r\n\r\n'].flatMap((c) => [...decoder.push(Buffer.from(c))]);
    expect(events).toEqual([{ event: null, data: 'a\nb' }]);
  });
});

describe('Anthropic stop reasons', () => {
  it.each([
    ['end_turn', 'stop'],
    ['stop_sequence', 'stop'],
    ['max_tokens', 'length'],
    ['model_context_window_exceeded', 'length'],
    ['tool_use', 'tool_calls'],
    ['refusal', 'content_filter'],
    ['pause_turn', 'unknown'],
  ])('%s ends the answer as %s, unary and streamed', async (stopReason, finishReason) => {
    const usage = { input_tokens: 10, output_tokens: 1 };
    reply = json({
      id: 'm1',
      type: 'message',
      role: 'assistant',
      model: 'c',
      content: [{ type: 'text', text: 'hi' }],
      stop_reason: stopReason,
      usage,
    });
    expect((await anthropic().complete(req())).finishReason).toBe(finishReason);
    const text = { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'hi' } };
    reply = sse(
      anthropicEvents([
        start(),
        text,
        { type: 'message_delta', delta: { stop_reason: stopReason }, usage: { output_tokens: 1 } },
        { type: 'message_stop' },
      ]),
    );
    const end = (await collect(anthropic().stream(req()))).at(-1);
    expect(end?.type === 'end' && end.finishReason).toBe(finishReason);
  });
});
