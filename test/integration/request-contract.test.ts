import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChatRequest, ResponseFormatType } from '../../src/gen/orchestrator/v1/chat.js';
import { type Message, Role, RoutingProfile, StreamStrategy } from '../../src/gen/orchestrator/v1/common.js';
import { ChatRequest as ChatRequestCodec } from '../../src/gen/orchestrator/v1/chat.js';
import { callUnary, collectStream, streamRequest, unaryError, chatMessage } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { calmestMs, fastestMs, loopHeldMs, unaryBytes } from '../helpers/loop-delay.js';

/** What the gRPC door refuses as the proto and the docs say, with INVALID_ARGUMENT and the field, never INTERNAL. */
let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h?.close());

const req = (f: Partial<ChatRequest>): ChatRequest => ({ model: 'gpt-4o-mini', messages: [], prompt: '', ...f });
const chat = () => h.clients.chat.chat.bind(h.clients.chat);
const fields = (err: Awaited<ReturnType<typeof unaryError>>) => err.decoded.badRequest?.fieldViolations.map((v) => v.field) ?? [];

describe('the gRPC door', () => {
  it('refuses an int64 past 2^53 (sampling.seed) as bad input, on Chat and StreamChat', async () => {
    const err = await unaryError(chat(), req({ prompt: 'hi', sampling: { stop: [], user: '', seed: 2 ** 60, reasoningEffort: 0 } }));
    expect(grpc.status[err.code]).toBe('INVALID_ARGUMENT');
    expect(err.decoded.errorInfo?.reason).toBe('INVALID_REQUEST');
    expect(fields(err)).toEqual(['request']);
    expect(err.details).toMatch(/integers must fit in 53 bits/);
    const streamed = await collectStream(
      h.clients.chat.streamChat(streamRequest({ prompt: 'hi', sampling: { stop: [], user: '', seed: 2 ** 60, reasoningEffort: 0 } })),
    );
    expect(streamed.error && grpc.status[streamed.error.code]).toBe('INVALID_ARGUMENT');
  });

  it('refuses a request nested too deep to decode as bad input, without blaming its integers', async () => {
    // A tool whose parameters hold a list nested 1000 deep, as raw protobuf: the generated encoder would overflow first.
    const varint = (n: number): number[] => (n < 128 ? [n] : [(n & 127) | 128, ...varint(n >>> 7)]);
    const field = (tag: number, body: Buffer): Buffer => Buffer.concat([Buffer.from([tag, ...varint(body.length)]), body]);
    let value: Buffer = Buffer.from([0x11, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f]); // Value.number_value 1
    for (let i = 0; i < 1000; i++) value = field(0x32, field(0x0a, value)); // Value.list_value { values: [value] }
    const parameters = field(0x0a, Buffer.concat([field(0x0a, Buffer.from('a')), field(0x12, value)]));
    const tooling = field(0x0a, Buffer.concat([field(0x0a, Buffer.from('f')), field(0x1a, parameters)]));
    const body = Buffer.concat([field(0x0a, Buffer.from('gpt-4o-mini')), field(0x1a, Buffer.from('hi')), field(0x52, tooling)]);
    const client = new grpc.Client(`127.0.0.1:${h.app.port}`, grpc.credentials.createInsecure());
    const err = await new Promise<grpc.ServiceError | null>((resolve) => {
      client.makeUnaryRequest(
        '/orchestrator.v1.ChatService/Chat',
        (b: Buffer) => b,
        (b: Buffer) => b,
        body,
        (e) => resolve(e),
      );
    });
    client.close();
    expect(err && grpc.status[err.code]).toBe('INVALID_ARGUMENT');
    expect(err?.details).toMatch(/recursion limit/);
    expect(err?.details).not.toMatch(/integers/);
  });

  it.each(['Check', 'List', 'Watch'])('refuses a Health/%s request that cannot be decoded as bad input, not INTERNAL', async (method) => {
    // HealthCheckRequest.service (field 1) claiming 9 bytes and carrying none.
    const body = Buffer.from([0x0a, 0x09]);
    const client = new grpc.Client(`127.0.0.1:${h.app.port}`, grpc.credentials.createInsecure());
    const status = await new Promise<grpc.StatusObject>((resolve) => {
      const path = `/grpc.health.v1.Health/${method}`;
      const id = (b: Buffer) => b;
      const call =
        method === 'Watch'
          ? client.makeServerStreamRequest(path, id, id, body).on('error', () => {})
          : client.makeUnaryRequest(path, id, id, body, () => {});
      call.on('status', resolve);
    });
    client.close();
    expect(grpc.status[status.code]).toBe('INVALID_ARGUMENT');
    expect(status.details).toMatch(/could not be read/);
  });

  it('holds text sent as parts to MAX_CONTENT_CHARS, as text sent as content', async () => {
    const before = h.upstream.requests.length;
    const message = chatMessage({ parts: [{ part: { $case: 'text' as const, text: 'a'.repeat(60_000) } }] });
    const err = await unaryError(chat(), req({ messages: [message] }));
    expect(grpc.status[err.code]).toBe('INVALID_ARGUMENT');
    expect(fields(err)).toEqual(['messages[0].parts']);
    expect(h.upstream.requests.length).toBe(before);
  });

  it('counts MAX_CONTENT_CHARS in characters, an emoji one (not its two UTF-16 units), on both doors', async () => {
    const emoji = (n: number) => '😀'.repeat(n);
    const { response } = await callUnary(chat(), req({ prompt: emoji(30_000), maxTokens: 5 }));
    expect(response.content).not.toBe('');
    const err = await unaryError(chat(), req({ prompt: emoji(50_001) }));
    expect(err.details).toBe('invalid request: prompt: must be at most 50000 characters (got 50001)');

    const post = (content: string) =>
      fetch(`${h.app.http!.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 5, messages: [{ role: 'user', content }] }),
      });
    expect((await post(emoji(30_000))).status).toBe(200);
    const refused = await post(emoji(50_001));
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toBe(
      'invalid request: messages[0].content: must be at most 50000 characters (got 50001)',
    );
  });

  it('refuses empty content except on an assistant message with tool_calls and on a tool message, as Message.content says', async () => {
    const msg = (role: Role, content: string, extra: Partial<Message> = {}): Message => chatMessage({ role, content, ...extra });
    const call = msg(Role.ROLE_ASSISTANT, '', { toolCalls: [{ id: 'call_1', name: 'lookup', arguments: '{}' }] });
    const result = msg(Role.ROLE_TOOL, '', { toolCallId: 'call_1' });
    const err = await unaryError(chat(), req({ messages: [msg(Role.ROLE_SYSTEM, ' '), msg(Role.ROLE_USER, ''), call, result] }));
    expect(fields(err)).toEqual(['messages[0].content', 'messages[1].content']);
  });

  it('refuses a routed stream with STREAM_STRATEGY_SINGLE (a route takes the strategy unset or FALLBACK)', async () => {
    const res = await collectStream(
      h.clients.chat.streamChat(
        streamRequest({
          prompt: 'hi',
          strategy: StreamStrategy.STREAM_STRATEGY_SINGLE,
          route: { profile: RoutingProfile.ROUTING_PROFILE_QUALITY, candidates: [] },
        }),
      ),
    );
    expect(res.error && grpc.status[res.error.code]).toBe('INVALID_ARGUMENT');
    expect(res.error?.decoded.badRequest?.fieldViolations.map((v) => v.field)).toEqual(['route']);
  });

  it('refuses a JSON Schema answer whose root is not an object', async () => {
    const err = await unaryError(
      chat(),
      req({
        prompt: 'hi',
        responseFormat: {
          type: ResponseFormatType.RESPONSE_FORMAT_TYPE_JSON_SCHEMA,
          jsonSchema: { name: 'x', description: '', schema: { type: 'array', items: { type: 'string' } }, strict: false },
        },
      }),
    );
    expect(grpc.status[err.code]).toBe('INVALID_ARGUMENT');
    expect(fields(err)).toEqual(['response_format.json_schema.schema']);
  });

  // A status and its details travel as HTTP/2 trailers, which clients cap (grpc-java and the C
  // core at 8 KiB, grpc-js at 64 KiB): an unbounded list of problems never reached the client.
  it('answers a request with a thousand bad messages with INVALID_ARGUMENT, its details bounded', async () => {
    const blank = { role: Role.ROLE_USER, content: ' ', parts: [], toolCalls: [], toolCallId: '' };
    const err = await unaryError(chat(), req({ messages: Array.from({ length: 1000 }, () => blank) }), { deadlineMs: 10_000 });
    expect(grpc.status[err.code]).toBe('INVALID_ARGUMENT');
    expect(err.details).toBe('invalid request: messages[0].content: must not be empty or only whitespace (and 999 more)');
    const listed = fields(err);
    expect(listed.length).toBeGreaterThan(0);
    expect(listed.length).toBeLessThanOrEqual(20);
    expect(listed[0]).toBe('messages[0].content');
    expect(err.metadata.get('grpc-status-details-bin')[0]?.length ?? 0).toBeLessThan(4096);
  });

  // A budget of characters let a status of CJK text (3 bytes of UTF-8 each, 9 once
  // percent-encoded in grpc-message) reach 14 KiB on the wire: Python's grpcio (the C core)
  // then reported RESOURCE_EXHAUSTED "received initial metadata size exceeds limit".
  it('keeps a status that quotes non-ASCII text within the 8 KiB trailer cap, counted as sent', async () => {
    const id = '漢'.repeat(200);
    const items = Array.from({ length: 30 }, () => ({ requestId: id, request: req({ prompt: 'hi' }) }));
    const { error } = await collectStream(h.clients.chat.batch({ items }));
    expect(error && grpc.status[error.code]).toBe('INVALID_ARGUMENT');
    expect(error?.decoded.badRequest?.fieldViolations[0]?.field).toBe('items[0].request_id');
    expect(error?.details).toMatch(/^invalid request: items\[0\]\.request_id: "漢+/);
    // As sent: grpc-js percent-encodes the message, and a -bin value travels in base64.
    const details = error?.metadata.get('grpc-status-details-bin')[0];
    const sent = encodeURI(error?.details ?? '').length + (Buffer.isBuffer(details) ? details.toString('base64').length : 0);
    expect(sent).toBeLessThan(6 * 1024);
  });

  // Problems were gathered by spreading each check's list into one call's arguments, which
  // overflows the stack past about a hundred thousand: the caller got INTERNAL.
  it.each([
    [
      'a million empty stop sequences',
      req({ prompt: 'hi', sampling: { stop: Array.from({ length: 1_000_000 }, () => ''), user: '', reasoningEffort: 0 } }),
    ],
    [
      'an assistant turn of 300,000 tool calls without ids',
      req({
        messages: [
          chatMessage({
            role: Role.ROLE_ASSISTANT,
            toolCalls: Array.from({ length: 300_000 }, () => ({ id: '', name: 'f', arguments: '' })),
          }),
        ],
      }),
    ],
  ])('answers %s with INVALID_ARGUMENT, not INTERNAL', async (_name, request) => {
    const err = await unaryError(chat(), request, { deadlineMs: 30_000 });
    expect(grpc.status[err.code]).toBe('INVALID_ARGUMENT');
    expect(err.decoded.errorInfo?.reason).toBe('INVALID_REQUEST');
  });

  it('answers a tool choice naming a very long undefined function with INVALID_ARGUMENT, its message cut short', async () => {
    const name = 'f'.repeat(100_000);
    const err = await unaryError(
      chat(),
      req({
        prompt: 'hi',
        tooling: {
          tools: [{ name: 'get_weather', description: '', parameters: undefined, strict: false }],
          toolChoice: { choice: { $case: 'function', function: name } },
          parallelToolCalls: undefined,
        },
      }),
      { deadlineMs: 10_000 },
    );
    expect(grpc.status[err.code]).toBe('INVALID_ARGUMENT');
    expect(fields(err)).toEqual(['tooling.tool_choice']);
    expect(err.details.length).toBeLessThan(2048);
    expect(err.details).toMatch(/^invalid request: tooling\.tool_choice: names function "f+/);
  });
});

// Every message was walked on the event loop, one by one, by validation, the token estimate,
// routing and the provider's translation: 400,000 one-letter messages (2.8 MB, within
// MAX_MESSAGE_BYTES) held it for most of a second, during which every other call waited. The
// count is checked first, as for stop sequences and tags.
describe('a conversation of hundreds of thousands of messages', () => {
  it('gRPC: is refused by its count, holding the loop little longer than decoding it', async () => {
    const one = { role: Role.ROLE_USER, content: 'a', parts: [], toolCalls: [], toolCallId: '' };
    const bytes = ChatRequestCodec.encode(req({ messages: Array.from({ length: 400_000 }, () => one) })).finish();
    const decodeMs = fastestMs(() => ChatRequestCodec.decode(bytes));
    let err: grpc.ServiceError | undefined;
    const bound = 3 * decodeMs + 150;
    const held = await calmestMs(
      () =>
        loopHeldMs(async () => {
          err = await unaryBytes(h.app.port, '/orchestrator.v1.ChatService/Chat', bytes);
        }),
      bound,
    );
    expect(err && grpc.status[err.code]).toBe('INVALID_ARGUMENT');
    expect(err?.details).toBe('invalid request: messages: at most 10000 messages (got 400000)');
    expect(held).toBeLessThan(bound);
  }, 60_000);

  it('HTTP: is refused by its count with a 400 naming the field, holding the loop little longer than parsing it', async () => {
    const text = JSON.stringify({
      model: 'gpt-4o-mini',
      messages: Array.from({ length: 130_000 }, () => ({ role: 'user', content: 'a' })),
    });
    const parseMs = fastestMs(() => JSON.parse(text));
    let answer: { status: number; body: { error: { message: string; param: string } } } | undefined;
    const bound = 3 * parseMs + 150;
    const held = await calmestMs(
      () =>
        loopHeldMs(async () => {
          const res = await fetch(`${h.app.http!.url}/v1/chat/completions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: text,
          });
          answer = { status: res.status, body: (await res.json()) as { error: { message: string; param: string } } };
        }),
      bound,
    );
    expect(answer?.status).toBe(400);
    expect(answer?.body.error.message).toBe('invalid request: messages: at most 10000 messages (got 130000)');
    expect(answer?.body.error.param).toBe('messages');
    expect(held).toBeLessThan(bound);
  }, 60_000);

  // The same holds for what a message holds: 90,000 image parts in one message (4 MB) held the
  // loop a third of a second, 200,000 tool calls (3.5 MB) longer, and both went upstream.
  it('gRPC: a request with more content parts or tool calls than it may hold is refused by the count', async () => {
    const image = {
      part: { $case: 'image' as const, image: { source: { $case: 'url' as const, url: 'https://a.b/c.png' }, mediaType: '', detail: '' } },
    };
    const parts = [{ part: { $case: 'text' as const, text: 'what' } }, ...Array.from({ length: 90_000 }, () => image)];
    const pictures = ChatRequestCodec.encode(
      req({ messages: [{ role: Role.ROLE_USER, content: '', parts, toolCalls: [], toolCallId: '' }] }),
    ).finish();
    const decodeMs = fastestMs(() => ChatRequestCodec.decode(pictures));
    let err: grpc.ServiceError | undefined;
    const bound = 3 * decodeMs + 150;
    const held = await calmestMs(
      () =>
        loopHeldMs(async () => {
          err = await unaryBytes(h.app.port, '/orchestrator.v1.ChatService/Chat', pictures);
        }),
      bound,
    );
    expect(err && grpc.status[err.code]).toBe('INVALID_ARGUMENT');
    expect(err?.details).toBe('invalid request: messages: at most 10000 content parts in all (got 90001)');
    expect(held).toBeLessThan(bound);

    const toolCalls = Array.from({ length: 10_001 }, (_, i) => ({ id: `c${i}`, name: 'f', arguments: '{}' }));
    const user = { role: Role.ROLE_USER, content: 'hi', parts: [], toolCalls: [], toolCallId: '' };
    const calls = await unaryError(
      chat(),
      req({ messages: [user, { ...user, role: Role.ROLE_ASSISTANT, content: '', toolCalls }, user] }),
      {
        deadlineMs: 10_000,
      },
    );
    expect(calls.details).toBe('invalid request: messages: at most 10000 tool calls in all (got 10001)');
  }, 60_000);

  it('HTTP: a request with more content parts or tool calls than it may hold is refused by the count with a 400', async () => {
    const post = async (body: unknown) => {
      const res = await fetch(`${h.app.http!.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as { error: { message: string; param: string } } };
    };
    const image = { type: 'image_url', image_url: { url: 'https://a.b/c.png' } };
    const parts = await post({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: Array.from({ length: 10_001 }, () => image) }] });
    expect(parts.status).toBe(400);
    expect(parts.body.error).toMatchObject({
      message: 'invalid request: messages: at most 10000 content parts in all (got 10001)',
      param: 'messages',
    });
    const toolCalls = Array.from({ length: 10_001 }, (_, i) => ({
      id: `c${i}`,
      type: 'function',
      function: { name: 'f', arguments: '{}' },
    }));
    const calls = await post({
      model: 'gpt-4o-mini',
      messages: [
        { role: 'user', content: 'hi' },
        { role: 'assistant', tool_calls: toolCalls },
        { role: 'user', content: 'hi' },
      ],
    });
    expect(calls.status).toBe(400);
    expect(calls.body.error.message).toBe('invalid request: messages: at most 10000 tool calls in all (got 10001)');
  }, 60_000);

  it('takes ten thousand, and names the problems of the first ones checked past the count', async () => {
    const one = { role: Role.ROLE_USER, content: 'a', parts: [], toolCalls: [], toolCallId: '' };
    const answer = await new Promise<unknown>((resolve, reject) => {
      h.clients.chat.chat(req({ messages: Array.from({ length: 10_000 }, () => one), maxTokens: 4 }), (e, r) =>
        e ? reject(e) : resolve(r),
      );
    });
    expect(answer).toBeDefined();
    const blank = { ...one, content: ' ' };
    const err = await unaryError(chat(), req({ messages: [blank, ...Array.from({ length: 10_000 }, () => one)] }), { deadlineMs: 10_000 });
    expect(fields(err)).toEqual(['messages', 'messages[0].content']);
  }, 60_000);
});

// These texts were bounded only by MAX_MESSAGE_BYTES: a 3 MB default_message or tool-call
// arguments went through, and the arguments upstream.
describe('default_message and the tool calls in a conversation', () => {
  const big = 'a'.repeat(50_001);
  const longId = `call_${'a'.repeat(252)}`;
  const post = async (body: unknown) => {
    const res = await fetch(`${h.app.http!.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as { error: { message: string; param: string } } };
  };

  it('gRPC: holds default_message to MAX_CONTENT_CHARS', async () => {
    const fallback = h.clients.chat.fallback.bind(h.clients.chat);
    const err = await unaryError(fallback, {
      model: 'gpt-4o-mini',
      prompt: 'hi',
      messages: [],
      models: [],
      defaultMessage: big,
      disableDefaultMessage: false,
    });
    expect(grpc.status[err.code]).toBe('INVALID_ARGUMENT');
    expect(err.details).toBe('invalid request: default_message: must be at most 50000 characters (got 50001)');
  });

  it('HTTP: holds orchestrator.default_message to MAX_CONTENT_CHARS', async () => {
    const refused = await post({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      orchestrator: { strategy: 'fallback', default_message: big },
    });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({
      message: 'invalid request: orchestrator.default_message: must be at most 50000 characters (got 50001)',
      param: 'orchestrator.default_message',
    });
  });

  it('gRPC: holds tool-call arguments to MAX_CONTENT_CHARS and tool-call ids to 256 characters', async () => {
    const before = h.upstream.requests.length;
    const err = await unaryError(
      chat(),
      req({
        messages: [
          chatMessage({ role: Role.ROLE_USER, content: 'hi' }),
          chatMessage({ role: Role.ROLE_ASSISTANT, toolCalls: [{ id: 'call_1', name: 'f', arguments: big }] }),
          chatMessage({ role: Role.ROLE_TOOL, content: '1', toolCallId: 'call_1' }),
          chatMessage({ role: Role.ROLE_ASSISTANT, toolCalls: [{ id: longId, name: 'f', arguments: '{}' }] }),
          chatMessage({ role: Role.ROLE_TOOL, content: '2', toolCallId: longId }),
        ],
      }),
    );
    expect(grpc.status[err.code]).toBe('INVALID_ARGUMENT');
    expect(err.decoded.badRequest?.fieldViolations.map(({ field, description }) => ({ field, description }))).toEqual([
      { field: 'messages[1].tool_calls[0].arguments', description: 'must be at most 50000 characters (got 50001)' },
      { field: 'messages[3].tool_calls[0].id', description: 'must be at most 256 characters (got 257)' },
      { field: 'messages[4].tool_call_id', description: 'must be at most 256 characters (got 257)' },
    ]);
    expect(h.upstream.requests.length).toBe(before);
  });

  it('HTTP: holds tool-call arguments to MAX_CONTENT_CHARS and tool-call ids to 256 characters', async () => {
    const call = (id: string, args: string) => ({ id, type: 'function', function: { name: 'f', arguments: args } });
    const refused = await post({
      model: 'gpt-4o-mini',
      messages: [
        { role: 'user', content: 'hi' },
        { role: 'assistant', tool_calls: [call('call_1', big)] },
        { role: 'tool', content: '1', tool_call_id: 'call_1' },
      ],
    });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({
      message: 'invalid request: messages[1].tool_calls[0].function.arguments: must be at most 50000 characters (got 50001)',
      param: 'messages[1].tool_calls[0].function.arguments',
    });
    const ids = await post({
      model: 'gpt-4o-mini',
      messages: [
        { role: 'user', content: 'hi' },
        { role: 'assistant', tool_calls: [call(longId, '{}')] },
        { role: 'tool', content: '1', tool_call_id: longId },
      ],
    });
    expect(ids.status).toBe(400);
    expect(ids.body.error.message).toBe(
      'invalid request: messages[1].tool_calls[0].id: must be at most 256 characters (got 257) (and 1 more)',
    );
    expect((ids.body.error as unknown as { field_violations: { field: string }[] }).field_violations.map((v) => v.field)).toEqual([
      'messages[1].tool_calls[0].id',
      'messages[2].tool_call_id',
    ]);
  });

  it('takes them at the limits', async () => {
    const id = `call_${'a'.repeat(251)}`;
    const { response } = await callUnary(
      chat(),
      req({
        maxTokens: 5,
        messages: [
          chatMessage({ role: Role.ROLE_USER, content: 'hi' }),
          chatMessage({ role: Role.ROLE_ASSISTANT, toolCalls: [{ id, name: 'f', arguments: 'a'.repeat(50_000) }] }),
          chatMessage({ role: Role.ROLE_TOOL, content: '1', toolCallId: id }),
        ],
      }),
    );
    expect(response.model).toBe('gpt-4o-mini');
  });
});
