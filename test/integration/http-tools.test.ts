import OpenAI from 'openai';
import type { ChatCompletionMessageFunctionToolCall, ChatCompletionTool } from 'openai/resources/chat/completions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.js';

/** Tools, structured output and images through the OpenAI-compatible HTTP API, with the openai SDK. */
let h: Harness;
let client: OpenAI;
beforeAll(async () => {
  h = await startHarness({ env: { IMAGE_MAX_BYTES: '32' } });
  client = new OpenAI({ baseURL: `${h.app.http!.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});
afterAll(async () => h.close());

const TOOLS: ChatCompletionTool[] = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'Current weather',
      parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    },
  },
];
const ask = [{ role: 'user' as const, content: 'Weather in Lima?' }];
const NO_CACHE = { orchestrator: { cache: { mode: 'bypass' } } } as Record<string, unknown>;
const sent = () => h.upstream.requests.at(-1)?.body as Record<string, unknown>;

describe('tools over HTTP', () => {
  it('answers tool_calls with finish_reason tool_calls and content null, and passes the tools upstream', async () => {
    const data = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: ask,
      tools: TOOLS,
      tool_choice: 'required',
      ...NO_CACHE,
    });
    const choice = data.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBeNull();
    const call = choice.message.tool_calls?.[0] as ChatCompletionMessageFunctionToolCall;
    expect(call.type).toBe('function');
    expect(call.function.name).toBe('get_weather');
    expect(typeof (JSON.parse(call.function.arguments) as { city: unknown }).city).toBe('string');
    expect(sent()).toMatchObject({ tools: TOOLS, tool_choice: 'required' });
  });

  it('streams tool-call deltas that the SDK assembles into the unary answer', async () => {
    const unary = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: ask, tools: TOOLS, ...NO_CACHE });
    const stream = client.chat.completions.stream({ model: 'gpt-4o-mini', messages: ask, tools: TOOLS, ...NO_CACHE });
    let pieces = 0;
    stream.on('chunk', (chunk) => {
      pieces += chunk.choices[0]?.delta.tool_calls?.length ?? 0;
    });
    const final = await stream.finalChatCompletion();
    expect(pieces).toBeGreaterThan(1);
    expect(final.choices[0]?.finish_reason).toBe('tool_calls');
    expect(final.choices[0]?.message.tool_calls).toEqual(unary.choices[0]?.message.tool_calls);
  });

  it('opens a streamed answer with content null when it calls tools, as OpenAI does, and with "" when it writes text', async () => {
    const firstDelta = async (body: object) => {
      const res = await fetch(`${h.app.http!.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: ask, stream: true, ...NO_CACHE, ...body }),
      });
      const first = (await res.text()).split('\n').find((l) => l.startsWith('data: {'));
      return (JSON.parse(first!.slice(6)) as { choices: { delta: object }[] }).choices[0]?.delta;
    };
    // A client that accumulates the deltas (the Python SDK's stream helpers) keeps what the first one says.
    expect(await firstDelta({ tools: TOOLS, tool_choice: 'required' })).toEqual({ role: 'assistant', content: null });
    expect(await firstDelta({})).toEqual({ role: 'assistant', content: '' });
  });

  it('runs a tool loop: assistant tool_calls and tool results go upstream, the model answers in text', async () => {
    const first = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: ask, tools: TOOLS, ...NO_CACHE });
    const calls = first.choices[0]!.message.tool_calls!;
    const second = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [
        ...ask,
        { role: 'assistant', content: null, tool_calls: calls },
        ...calls.map((c) => ({ role: 'tool' as const, tool_call_id: c.id, content: '{"temp_c": 19}' })),
      ],
      tools: TOOLS,
      ...NO_CACHE,
    });
    expect(second.choices[0]?.finish_reason).toBe('stop');
    expect(second.choices[0]?.message.content?.length).toBeGreaterThan(0);
    expect((sent().messages as unknown[]).slice(1)).toEqual([
      { role: 'assistant', content: null, tool_calls: calls },
      ...calls.map((c) => ({ role: 'tool', tool_call_id: c.id, content: '{"temp_c": 19}' })),
    ]);
  });
});

describe('tool results named as LangChain names them', () => {
  // langchain-openai sends a message's name on every role, and LangGraph names each tool result after its function.
  it('takes a tool message naming the function of the call it answers, and refuses one naming another', async () => {
    const first = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: ask, tools: TOOLS, ...NO_CACHE });
    const calls = first.choices[0]!.message.tool_calls as ChatCompletionMessageFunctionToolCall[];
    const history = (name: string) => [
      ...ask,
      { role: 'assistant' as const, content: null, tool_calls: calls },
      ...calls.map((c) => ({ role: 'tool' as const, tool_call_id: c.id, content: '{"temp_c": 19}', name })),
    ];
    const second = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: history('get_weather'),
      tools: TOOLS,
      ...NO_CACHE,
    });
    expect(second.choices[0]?.finish_reason).toBe('stop');
    // The call already names the function: nothing is lost by not sending it again.
    expect((sent().messages as unknown[]).slice(2)).toEqual(
      calls.map((c) => ({ role: 'tool', tool_call_id: c.id, content: '{"temp_c": 19}' })),
    );
    const err = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: history('get_time'), tools: TOOLS, ...NO_CACHE })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('messages[2].name');
  });
});

describe('tool validation over HTTP', () => {
  it('refuses a tool_choice naming a function the tools do not define, by its field, before any upstream call', async () => {
    const before = h.upstream.requests.length;
    const err = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: ask, tools: TOOLS, tool_choice: { type: 'function', function: { name: 'get_time' } } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('tool_choice');
    expect((err as Error).message).toMatch(/get_time/);
    expect(h.upstream.requests.length).toBe(before);
  });

  it('answers tool_choice auto or none with no tools, which OpenAI refuses, by leaving it out upstream', async () => {
    for (const tool_choice of ['auto', 'none'] as const) {
      const data = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: ask, tool_choice, ...NO_CACHE });
      expect(data.choices[0]?.finish_reason).toBe('stop');
      expect(sent()).not.toHaveProperty('tool_choice');
    }
  });

  it('names a bad function name by its field in the OpenAI request: tools[i].function.name, tool_calls[j].function.name', async () => {
    const err = await client.chat.completions
      .create({
        model: 'gpt-4o-mini',
        messages: [
          ...ask,
          {
            role: 'assistant',
            content: null,
            tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get weather', arguments: '{}' } }],
          },
          { role: 'tool', tool_call_id: 'call_1', content: '{}' },
        ],
        tools: [{ type: 'function', function: { name: 'get weather', parameters: { type: 'string' } } }],
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    const body = (err as InstanceType<typeof OpenAI.BadRequestError>).error as { field_violations: { field: string }[] };
    expect(body.field_violations.map((v) => v.field).sort()).toEqual([
      'messages[1].tool_calls[0].function.name',
      'tools[0].function.name',
      'tools[0].function.parameters',
    ]);
  });
});

describe('nulls in tool definitions and formats over HTTP', () => {
  // SDKs built on pydantic or LangChain send unset optional fields as null; OpenAI reads them as absent.
  it('reads null optional fields of a function tool and a json_schema format as absent', async () => {
    const answer = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: ask,
      tools: [
        { type: 'function', function: { name: 'get_weather', description: null, parameters: null, strict: null } },
      ] as unknown as ChatCompletionTool[],
      response_format: { type: 'json_schema', json_schema: { name: 'reply', description: null, schema: { type: 'object' }, strict: null } },
      ...NO_CACHE,
    } as never);
    expect(answer.choices).toHaveLength(1);
    expect(sent().tools).toEqual([{ type: 'function', function: { name: 'get_weather' } }]);
    expect(sent().response_format).toEqual({ type: 'json_schema', json_schema: { name: 'reply', schema: { type: 'object' } } });
  });

  it('reads a null tool_choice and parallel_tool_calls as unset: the model chooses, nothing of them is sent', async () => {
    const answer = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: ask,
      tools: TOOLS,
      tool_choice: null,
      parallel_tool_calls: null,
      ...NO_CACHE,
    } as never);
    expect((answer as OpenAI.ChatCompletion).choices[0]?.finish_reason).toBe('tool_calls');
    expect(sent()).not.toHaveProperty('tool_choice');
    expect(sent()).not.toHaveProperty('parallel_tool_calls');
  });
});

describe('structured output and images over HTTP', () => {
  it('answers JSON that follows a json_schema response_format', async () => {
    const schema = {
      type: 'object',
      properties: { answer: { type: 'string' }, confidence: { type: 'number', minimum: 0, maximum: 1 } },
      required: ['answer', 'confidence'],
    };
    const data = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: ask,
      response_format: { type: 'json_schema', json_schema: { name: 'reply', schema, strict: true } },
    });
    const parsed = JSON.parse(data.choices[0]?.message.content ?? '') as { answer: unknown; confidence: number };
    expect(typeof parsed.answer).toBe('string');
    expect(parsed.confidence).toBeGreaterThanOrEqual(0);
    expect(sent().response_format).toEqual({ type: 'json_schema', json_schema: { name: 'reply', schema, strict: true } });
  });

  it('passes image parts upstream, and refuses an image over IMAGE_MAX_BYTES by its field', async () => {
    const small = `data:image/png;base64,${Buffer.alloc(16, 1).toString('base64')}`;
    await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is this?' },
            { type: 'image_url', image_url: { url: small } },
          ],
        },
      ],
    });
    expect(sent().messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is this?' },
          { type: 'image_url', image_url: { url: small } },
        ],
      },
    ]);
    const big = `data:image/png;base64,${Buffer.alloc(33, 1).toString('base64')}`;
    const err = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: big } }] }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('messages[0].content[0].image_url.url');
  });

  it('holds a data: URL with parameters before ;base64 to the same size and type checks, and sends its bytes', async () => {
    const bytes = Buffer.alloc(16, 1).toString('base64');
    await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: `data:image/png;name=a.png;base64,${bytes}` } }] }],
      ...NO_CACHE,
    });
    expect(sent().messages).toEqual([
      { role: 'user', content: [{ type: 'image_url', image_url: { url: `data:image/png;base64,${bytes}` } }] },
    ]);
    const refused = [
      `data:image/png;foo=bar;base64,${Buffer.alloc(33, 1).toString('base64')}`,
      `data:image/svg+xml;charset=utf-8;base64,${bytes}`,
      // Not base64: the bytes cannot be checked, and no provider takes it.
      'data:image/png,%89PNG',
      'data:image/png;foo=bar,abc',
      // Damaged: a character base64 does not have.
      `data:image/png;base64,${bytes.slice(0, 8)}#${bytes.slice(8)}`,
    ];
    for (const url of refused) {
      const err = await client.chat.completions
        .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url } }] }] })
        .catch((e: unknown) => e);
      expect(err, url).toBeInstanceOf(OpenAI.BadRequestError);
      expect((err as InstanceType<typeof OpenAI.BadRequestError>).param, url).toBe('messages[0].content[0].image_url.url');
    }
  });

  it('says what is wrong with a text or image_url part of the wrong shape, under the field that has it', async () => {
    const cases: [unknown, string, string][] = [
      [{ type: 'image_url', image_url: 'https://example.com/a.png' }, 'messages[0].content[0].image_url', 'an object with a url'],
      [{ type: 'image_url', image_url: { detail: 'low' } }, 'messages[0].content[0].image_url.url', 'must be a string'],
      [{ type: 'image_url', image_url: { url: 7 } }, 'messages[0].content[0].image_url.url', 'must be a string'],
      [{ type: 'text', text: 5 }, 'messages[0].content[0].text', 'must be a string'],
      [{ type: 'input_audio', input_audio: { data: '', format: 'wav' } }, 'messages[0].content[0].type', 'only text and image_url'],
    ];
    for (const [part, param, says] of cases) {
      const res = await fetch(`${h.app.http!.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: [part] }] }),
      });
      const body = (await res.json()) as { error: { param: string; message: string } };
      expect(res.status, param).toBe(400);
      expect(body.error.param, JSON.stringify(part)).toBe(param);
      expect(body.error.message, JSON.stringify(part)).toContain(says);
      expect(body.error.message, JSON.stringify(part)).not.toContain('only text and image_url parts are supported (got "text")');
      expect(body.error.message, JSON.stringify(part)).not.toContain('(got "image_url")');
    }
  });

  it('refuses a field a part, an image, a tool or a response format does not take, by its path, before any upstream call', async () => {
    const before = h.upstream.requests.length;
    // The SDK's own explicit cache breakpoint on a text part: dropped, the prompt would silently go uncached.
    const breakpoint = await client.chat.completions
      .create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: [{ type: 'text', text: 'hi', prompt_cache_breakpoint: { mode: 'explicit' } }] }],
      })
      .catch((err: unknown) => err);
    expect(breakpoint).toBeInstanceOf(OpenAI.BadRequestError);
    expect((breakpoint as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('messages[0].content[0].prompt_cache_breakpoint');
    const image = { type: 'image_url', image_url: { url: 'https://example.com/a.png' } };
    const cases: [Record<string, unknown>, string][] = [
      [
        { messages: [{ role: 'user', content: [{ ...image, prompt_cache_breakpoint: { mode: 'explicit' } }] }] },
        'messages[0].content[0].prompt_cache_breakpoint',
      ],
      [
        { messages: [{ role: 'user', content: [{ ...image, image_url: { ...image.image_url, detial: 'low' } }] }] },
        'messages[0].content[0].image_url.detial',
      ],
      [{ tools: [{ type: 'function', function: { name: 'get_weather' }, strict: true }] }, 'tools[0].strict'],
      [
        { response_format: { type: 'json_schema', json_schema: { name: 'r', schemma: { type: 'object' } } } },
        'response_format.json_schema.schemma',
      ],
      [{ response_format: { type: 'json_object', json_schema: { name: 'r', schema: { type: 'object' } } } }, 'response_format.json_schema'],
    ];
    for (const [fields, param] of cases) {
      const res = await fetch(`${h.app.http!.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: ask, ...fields }),
      });
      expect(res.status, param).toBe(400);
      expect(((await res.json()) as { error: { param: string } }).error.param).toBe(param);
    }
    expect(h.upstream.requests.length).toBe(before);
    // A null one is absent, as everywhere in the body.
    const nulls = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'hi', prompt_cache_breakpoint: null }] }],
      response_format: { type: 'text', json_schema: null },
      ...NO_CACHE,
    } as never);
    expect((nulls as OpenAI.ChatCompletion).choices[0]?.finish_reason).toBe('stop');
  });

  it('refuses a response schema nested 10,000 levels deep with 400 naming it, not a 500', async () => {
    const depth = 10_000;
    const schema = `${'{"type":"object","x":'.repeat(depth)}1${'}'.repeat(depth)}`;
    const body = `{"model":"gpt-4o-mini","max_tokens":3,"messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":${schema}}}}`;
    const res = await fetch(`${h.app.http!.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { param: string } }).error.param).toBe('response_format.json_schema.schema');
  });

  it('takes an empty tool result, as OpenAI does', async () => {
    const answer = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      tools: TOOLS,
      messages: [
        ...ask,
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Lima"}' } }],
        },
        { role: 'tool', tool_call_id: 'call_1', content: '' },
      ],
      ...NO_CACHE,
    });
    expect(answer.choices[0]?.finish_reason).toBeTruthy();
    expect((sent().messages as unknown[]).at(-1)).toEqual({ role: 'tool', tool_call_id: 'call_1', content: '' });
  });
});

describe('routing a request with large tool definitions', () => {
  it('counts the tools toward the prompt, so a model whose window cannot hold them is not chosen', async () => {
    // About 25,000 tokens of tool definitions: more than gpt-3.5-turbo's 16,385-token window, well within gpt-4.1's.
    const manual = 'Look the city up in the atlas before answering. '.repeat(2_100);
    const tools: ChatCompletionTool[] = [
      { type: 'function', function: { name: 'get_weather', description: manual, parameters: { type: 'object', properties: {} } } },
    ];
    const body = {
      model: 'route:budget',
      messages: ask,
      tools,
      max_tokens: 100,
      orchestrator: { route: { candidates: ['gpt-3.5-turbo', 'gpt-4.1'] }, cache: { mode: 'bypass' } },
    };
    const res = await fetch(`${h.app.http!.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const data = (await res.json()) as {
      model: string;
      x_orchestrator: {
        route_decision: { prompt_tokens: number; ranking: { model: string; eligible: boolean; excluded_reason: string | null }[] };
      };
    };
    expect(res.status).toBe(200);
    expect(data.model).toBe('gpt-4.1');
    const route = data.x_orchestrator.route_decision;
    expect(route.prompt_tokens).toBeGreaterThan(16_385);
    expect(route.ranking.find((r) => r.model === 'gpt-3.5-turbo')).toMatchObject({ eligible: false });
    expect(route.ranking.find((r) => r.model === 'gpt-3.5-turbo')?.excluded_reason).toMatch(/^context window 16385 < /);
  });
});
