import OpenAI, { type APIError } from 'openai';
import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_SIM_PROFILES,
  estimateTokens,
  generateText,
  startSimulator,
  tokenize,
  type Simulator,
  type SimulatorOptions,
} from '../../../src/simulator/index.js';

const PROMPT = [{ role: 'user' as const, content: 'Name the capital of France.' }];

function clientFor(sim: Simulator, apiKey = 'x'): OpenAI {
  // logLevel off: the SDK logs every malformed SSE chunk at error level before throwing.
  return new OpenAI({ baseURL: sim.baseURL, apiKey, maxRetries: 0, logLevel: 'off' });
}

async function postChat(sim: Simulator, body: unknown): Promise<Response> {
  return fetch(`${sim.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer x' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** Collects a stream as the SDK sees it, keeping whatever arrived before an error. */
async function drain(stream: AsyncIterable<OpenAI.Chat.Completions.ChatCompletionChunk>): Promise<{
  text: string;
  contentChunks: number;
  finishReasons: string[];
  error: unknown;
}> {
  const seen = { text: '', contentChunks: 0, finishReasons: [] as string[], error: undefined as unknown };
  try {
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      if (choice?.delta.content) {
        seen.text += choice.delta.content;
        seen.contentChunks += 1;
      }
      if (choice?.finish_reason) seen.finishReasons.push(choice.finish_reason);
    }
  } catch (error) {
    seen.error = error;
  }
  return seen;
}

describe('simulator text', () => {
  it('is deterministic per (model, messages) and differs across models', () => {
    const a = generateText('gpt-4o', PROMPT);
    expect(generateText('gpt-4o', PROMPT)).toBe(a);
    expect(generateText('gpt-4o-mini', PROMPT)).not.toBe(a);
    expect(a.startsWith('Simulated gpt-4o answer on name capital:')).toBe(true);
    const words = a.split(' ').length;
    expect(words).toBeGreaterThanOrEqual(12);
    expect(words).toBeLessThanOrEqual(48);
    expect(tokenize(a).join('')).toBe(a);
  });

  it('estimates tokens as ceil(chars / 4), at least 1', () => {
    expect(estimateTokens('')).toBe(1);
    expect(estimateTokens('abcd')).toBe(1);
    expect(estimateTokens('abcde')).toBe(2);
  });
});

describe('simulator (latencyScale 0)', () => {
  let sim: Simulator;
  let client: OpenAI;

  beforeAll(async () => {
    sim = await startSimulator({ latencyScale: 0 });
    client = clientFor(sim);
  });
  afterEach(async () => {
    sim.clearFaults();
    await sim.waitForIdle(2_000);
  });
  afterAll(async () => {
    await sim.close();
  });

  it('answers a chat completion in the OpenAI shape', async () => {
    const completion = await client.chat.completions.create({ model: 'gpt-4o', messages: PROMPT });
    const text = generateText('gpt-4o', PROMPT);
    expect(completion.id).toMatch(/^chatcmpl-sim-\d+$/);
    expect(completion.object).toBe('chat.completion');
    expect(completion.model).toBe('gpt-4o');
    expect(completion.choices).toHaveLength(1);
    expect(completion.choices[0]?.message).toMatchObject({ role: 'assistant', content: text });
    expect(completion.choices[0]?.finish_reason).toBe('stop');
    const prompt = estimateTokens(PROMPT[0]!.content) + 3;
    const completionTokens = tokenize(text).length;
    expect(completion.usage).toEqual({
      prompt_tokens: prompt,
      completion_tokens: completionTokens,
      total_tokens: prompt + completionTokens,
      prompt_tokens_details: { cached_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0 },
    });
    const record = sim.requests.at(-1);
    expect(record).toMatchObject({ model: 'gpt-4o', stream: false, outcome: 'completed', tokensSent: completionTokens });
    expect(record?.endedAt).toBeGreaterThanOrEqual(record?.startedAt ?? Infinity);
  });

  it('gives the same text for the same prompt and another text for another model', async () => {
    const ask = async (model: string): Promise<string | null | undefined> =>
      (await client.chat.completions.create({ model, messages: PROMPT })).choices[0]?.message.content;
    const first = await ask('gpt-4o');
    expect(await ask('gpt-4o')).toBe(first);
    expect(await ask('gpt-5-nano')).not.toBe(first);
    expect(await ask('some-unknown-model')).toMatch(/^Simulated some-unknown-model answer/);
  });

  it('stops at max_tokens with finish_reason length', async () => {
    const completion = await client.chat.completions.create({ model: 'gpt-4o', messages: PROMPT, max_tokens: 5 });
    expect(completion.choices[0]?.finish_reason).toBe('length');
    expect(completion.usage?.completion_tokens).toBe(5);
    expect(completion.choices[0]?.message.content).toBe(tokenize(generateText('gpt-4o', PROMPT)).slice(0, 5).join(''));
    const viaNewName = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: PROMPT,
      max_completion_tokens: 4,
    });
    expect(viaNewName.usage?.completion_tokens).toBe(4);
  });

  it('stops tool calls at max_tokens too: finish_reason length, usage within the cap, the arguments cut', async () => {
    const tools = [
      {
        type: 'function' as const,
        function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
      },
    ];
    const full = await client.chat.completions.create({ model: 'gpt-4o', messages: PROMPT, tools });
    const args = full.choices[0]?.message.tool_calls?.[0];
    expect(full.usage?.completion_tokens).toBeGreaterThan(2);
    const capped = await client.chat.completions.create({ model: 'gpt-4o', messages: PROMPT, tools, max_tokens: 2 });
    expect(capped.choices[0]?.finish_reason).toBe('length');
    expect(capped.usage?.completion_tokens).toBe(2);
    const call = capped.choices[0]?.message.tool_calls?.[0];
    expect(call?.type === 'function' && args?.type === 'function' && args.function.arguments.startsWith(call.function.arguments)).toBe(
      true,
    );
    expect(call?.type === 'function' ? call.function.arguments.length : 0).toBeLessThan(
      args?.type === 'function' ? args.function.arguments.length : 0,
    );

    const stream = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: PROMPT,
      tools,
      max_tokens: 2,
      stream: true,
      stream_options: { include_usage: true },
    });
    const reasons: string[] = [];
    let usage: number | undefined;
    for await (const chunk of stream) {
      if (chunk.choices[0]?.finish_reason) reasons.push(chunk.choices[0].finish_reason);
      if (chunk.usage) usage = chunk.usage.completion_tokens;
    }
    expect(reasons).toEqual(['length']);
    expect(usage).toBe(2);
  });

  it('streams deltas that add up to the JSON answer, then finish, then usage', async () => {
    const full = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: PROMPT });
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: PROMPT,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks[0]?.choices[0]?.delta).toEqual({ role: 'assistant', content: '' });
    const text = chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('');
    expect(text).toBe(full.choices[0]?.message.content);
    const finish = chunks.at(-2);
    expect(finish?.choices[0]).toMatchObject({ delta: {}, finish_reason: 'stop' });
    const usage = chunks.at(-1);
    expect(usage?.choices).toEqual([]);
    expect(usage?.usage).toEqual(full.usage);
    expect(new Set(chunks.map((chunk) => chunk.object))).toEqual(new Set(['chat.completion.chunk']));
    expect(sim.requests.at(-1)).toMatchObject({ stream: true, outcome: 'completed' });
  });

  it('frames SSE as data lines ending with [DONE]', async () => {
    const response = await postChat(sim, { model: 'gpt-4o', messages: PROMPT, stream: true, max_tokens: 2 });
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = (await response.text()).split('\n\n').filter((event) => event.length > 0);
    expect(events.every((event) => event.startsWith('data: '))).toBe(true);
    // role, 2 tokens, finish (no usage chunk without include_usage), [DONE]
    expect(events).toHaveLength(5);
    expect(events.at(-1)).toBe('data: [DONE]');
    expect(events.at(-2)).toContain('"finish_reason":"length"');
  });

  it('refuses n other than 1 by name instead of answering one choice where n were asked', async () => {
    const two = await postChat(sim, { model: 'gpt-4o', messages: PROMPT, n: 2 });
    expect(two.status).toBe(400);
    expect(await two.json()).toMatchObject({ error: { type: 'invalid_request_error', param: 'n' } });
    expect((await postChat(sim, { model: 'gpt-4o', messages: PROMPT, n: 1 })).status).toBe(200);
    expect((await postChat(sim, { model: 'gpt-4o', messages: PROMPT, n: null })).status).toBe(200);
  });

  it('refuses json_object when no message says JSON, as the API does, and answers a JSON object when one does', async () => {
    const format = { response_format: { type: 'json_object' } };
    const silent = await postChat(sim, { model: 'gpt-4o', messages: PROMPT, ...format });
    expect(silent.status).toBe(400);
    expect(await silent.json()).toEqual({
      error: {
        message: "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.",
        type: 'invalid_request_error',
        param: 'messages',
        code: null,
      },
    });
    const asked = await postChat(sim, {
      model: 'gpt-4o',
      messages: [{ role: 'system', content: 'Answer in Json.' }, ...PROMPT],
      ...format,
    });
    expect(asked.status).toBe(200);
    const body = (await asked.json()) as { choices: { message: { content: string } }[] };
    expect(JSON.parse(body.choices[0]?.message.content ?? '')).toEqual({ answer: expect.any(String) });
  });

  it('refuses stream_options without stream: true, as the API does, and takes it with a stream', async () => {
    const options = { stream_options: { include_usage: true } };
    for (const stream of [{}, { stream: false }]) {
      const unary = await postChat(sim, { model: 'gpt-4o', messages: PROMPT, ...stream, ...options });
      expect(unary.status).toBe(400);
      expect(await unary.json()).toEqual({
        error: {
          message: "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
          type: 'invalid_request_error',
          param: 'stream_options',
          code: null,
        },
      });
    }
    expect((await postChat(sim, { model: 'gpt-4o', messages: PROMPT, stream_options: null })).status).toBe(200);
    const streamed = await postChat(sim, { model: 'gpt-4o', messages: PROMPT, stream: true, ...options });
    expect(streamed.status).toBe(200);
    await streamed.text();
  });

  it('refuses a tool_choice without tools or naming a function the tools do not define, as the API does', async () => {
    const weather = { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: {} } } };
    const named = (name: string) => ({ type: 'function', function: { name } });
    for (const tool_choice of ['auto', 'none', 'required', named('get_weather')]) {
      const bare = await postChat(sim, { model: 'gpt-4o', messages: PROMPT, tool_choice });
      expect(bare.status).toBe(400);
      expect(await bare.json()).toEqual({
        error: {
          message: "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
          type: 'invalid_request_error',
          param: 'tool_choice',
          code: null,
        },
      });
    }
    const unknown = await postChat(sim, { model: 'gpt-4o', messages: PROMPT, tools: [weather], tool_choice: named('get_time') });
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toMatchObject({
      error: { message: expect.stringContaining("'get_time'"), type: 'invalid_request_error', param: 'tool_choice' },
    });
    const forced = await postChat(sim, { model: 'gpt-4o', messages: PROMPT, tools: [weather], tool_choice: named('get_weather') });
    expect(forced.status).toBe(200);
    const body = (await forced.json()) as { choices: { message: { tool_calls: { function: { name: string } }[] } }[] };
    expect(body.choices[0]?.message.tool_calls.map((c) => c.function.name)).toEqual(['get_weather']);
  });

  it('takes null tools, tool_choice, parallel_tool_calls and response_format as unset, as the API does', async () => {
    const weather = { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: {} } } };
    const unset = { tool_choice: null, parallel_tool_calls: null, response_format: null };
    const bare = await postChat(sim, { model: 'gpt-4o', messages: PROMPT, tools: null, ...unset });
    expect(bare.status).toBe(200);
    expect(((await bare.json()) as { choices: { message: { content: string } }[] }).choices[0]?.message.content).toContain('Simulated');
    const offered = await postChat(sim, { model: 'gpt-4o', messages: PROMPT, tools: [weather], ...unset });
    expect(offered.status).toBe(200);
    const body = (await offered.json()) as { choices: { message: { tool_calls: { function: { name: string } }[] } }[] };
    expect(body.choices[0]?.message.tool_calls.map((c) => c.function.name)).toEqual(['get_weather']);
  });

  it('refuses an empty tools array, and parallel_tool_calls without tools, as the API does', async () => {
    const empty = await postChat(sim, { model: 'gpt-4o', messages: PROMPT, tools: [] });
    expect(empty.status).toBe(400);
    expect(await empty.json()).toEqual({
      error: {
        message: "Invalid 'tools': empty array. Expected an array with minimum length 1, but got an empty array instead.",
        type: 'invalid_request_error',
        param: 'tools',
        code: 'empty_array',
      },
    });
    for (const parallel_tool_calls of [true, false]) {
      const bare = await postChat(sim, { model: 'gpt-4o', messages: PROMPT, parallel_tool_calls });
      expect(bare.status).toBe(400);
      expect(await bare.json()).toEqual({
        error: {
          message: "Invalid value for 'parallel_tool_calls': 'parallel_tool_calls' is only allowed when 'tools' are specified.",
          type: 'invalid_request_error',
          param: 'parallel_tool_calls',
          code: null,
        },
      });
    }
    const weather = { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: {} } } };
    expect((await postChat(sim, { model: 'gpt-4o', messages: PROMPT, tools: [weather], parallel_tool_calls: false })).status).toBe(200);
  });

  it('refuses a temperature other than 1 on reasoning models, as the API does, and takes any on the others', async () => {
    for (const [model, temperature] of [
      ['o3', 0.2],
      ['gpt-5-mini', 0],
      ['o4-mini-2025-04-16', 1.5],
    ] as const) {
      const refused = await postChat(sim, { model, messages: PROMPT, temperature });
      expect(refused.status).toBe(400);
      expect(await refused.json()).toEqual({
        error: {
          message: `Unsupported value: 'temperature' does not support ${temperature} with this model. Only the default (1) value is supported.`,
          type: 'invalid_request_error',
          param: 'temperature',
          code: 'unsupported_value',
        },
      });
    }
    expect((await postChat(sim, { model: 'o3', messages: PROMPT, temperature: 1 })).status).toBe(200);
    expect((await postChat(sim, { model: 'gpt-5', messages: PROMPT })).status).toBe(200);
    expect((await postChat(sim, { model: 'gpt-4o', messages: PROMPT, temperature: 0.2 })).status).toBe(200);
  });

  it('refuses max_tokens on reasoning models, as the API does, and takes max_completion_tokens there', async () => {
    for (const model of ['o3', 'gpt-5-mini', 'o4-mini-2025-04-16', 'o1']) {
      const refused = await postChat(sim, { model, messages: PROMPT, max_tokens: 50 });
      expect(refused.status).toBe(400);
      expect(await refused.json()).toEqual({
        error: {
          message: "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
          type: 'invalid_request_error',
          param: 'max_tokens',
          code: 'unsupported_parameter',
        },
      });
    }
    const capped = await client.chat.completions.create({ model: 'o3', messages: PROMPT, max_completion_tokens: 3 });
    expect(capped.usage?.completion_tokens).toBe(3);
    expect((await postChat(sim, { model: 'o3', messages: PROMPT, max_tokens: null })).status).toBe(200);
    expect((await postChat(sim, { model: 'gpt-4o', messages: PROMPT, max_tokens: 50 })).status).toBe(200);
  });

  it('takes top_p and a temperature on gpt-5.1 until it is asked to reason, then refuses them', async () => {
    expect((await postChat(sim, { model: 'gpt-5.1', messages: PROMPT, top_p: 0.5, temperature: 0.2 })).status).toBe(200);
    expect((await postChat(sim, { model: 'gpt-5.1', messages: PROMPT, top_p: 0.5, reasoning_effort: 'none' })).status).toBe(200);
    const refused = await postChat(sim, { model: 'gpt-5.1', messages: PROMPT, top_p: 0.5, reasoning_effort: 'low' });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: { param: string } }).error.param).toBe('top_p');
    const warm = await postChat(sim, { model: 'gpt-5.1', messages: PROMPT, temperature: 0.2, reasoning_effort: 'high' });
    expect(((await warm.json()) as { error: { param: string } }).error.param).toBe('temperature');
  });

  it('refuses top_p and the penalties on reasoning models, as the API does, and takes seed there', async () => {
    for (const [model, param] of [
      ['o3', 'top_p'],
      ['gpt-5', 'presence_penalty'],
      ['o4-mini-2025-04-16', 'frequency_penalty'],
    ] as const) {
      const refused = await postChat(sim, { model, messages: PROMPT, [param]: 0.5 });
      expect(refused.status).toBe(400);
      expect(await refused.json()).toEqual({
        error: {
          message: `Unsupported parameter: '${param}' is not supported with this model.`,
          type: 'invalid_request_error',
          param,
          code: 'unsupported_parameter',
        },
      });
    }
    expect((await postChat(sim, { model: 'o3', messages: PROMPT, seed: 1, top_p: null })).status).toBe(200);
    expect((await postChat(sim, { model: 'gpt-4o', messages: PROMPT, top_p: 0.5, presence_penalty: 1 })).status).toBe(200);
  });

  it('refuses stop on o3, o4-mini and the GPT-5 models whatever the effort, as the API does, and takes it on o1 and o3-mini', async () => {
    for (const [model, extra] of [
      ['o3', {}],
      ['o4-mini-2025-04-16', {}],
      ['gpt-5-nano', {}],
      ['gpt-5.1', { reasoning_effort: 'none' }],
      ['openai/o3', {}],
    ] as const) {
      const refused = await postChat(sim, { model, messages: PROMPT, stop: 'END', ...extra });
      expect(refused.status, model).toBe(400);
      expect(await refused.json()).toEqual({
        error: {
          message: "Unsupported parameter: 'stop' is not supported with this model.",
          type: 'invalid_request_error',
          param: 'stop',
          code: 'unsupported_parameter',
        },
      });
    }
    for (const model of ['o1', 'o3-mini', 'o3-mini-2025-01-31', 'gpt-4o']) {
      expect((await postChat(sim, { model, messages: PROMPT, stop: ['zz'] })).status, model).toBe(200);
    }
    expect((await postChat(sim, { model: 'o3', messages: PROMPT, stop: null })).status).toBe(200);
  });

  it('takes reasoning_effort on reasoning models only, as the API does, and refuses a level it does not define', async () => {
    expect((await postChat(sim, { model: 'o3', messages: PROMPT, reasoning_effort: 'high' })).status).toBe(200);
    expect((await postChat(sim, { model: 'gpt-5', messages: PROMPT, reasoning_effort: 'minimal' })).status).toBe(200);
    expect((await postChat(sim, { model: 'gpt-4o', messages: PROMPT, reasoning_effort: null })).status).toBe(200);
    const refused = await postChat(sim, { model: 'gpt-4o', messages: PROMPT, reasoning_effort: 'low' });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toEqual({
      error: {
        message: "Unsupported parameter: 'reasoning_effort' is not supported with this model.",
        type: 'invalid_request_error',
        param: 'reasoning_effort',
        code: 'unsupported_parameter',
      },
    });
    const invalid = await postChat(sim, { model: 'o3', messages: PROMPT, reasoning_effort: 'extreme' });
    expect(invalid.status).toBe(400);
    expect(await invalid.json()).toEqual({
      error: {
        message: "Invalid value: 'extreme'. Supported values are: 'none', 'minimal', 'low', 'medium', 'high', 'xhigh', and 'max'.",
        type: 'invalid_request_error',
        param: 'reasoning_effort',
        code: 'invalid_value',
      },
    });
  });

  it('refuses a reasoning_effort level the model does not take, as the API does', async () => {
    for (const [model, effort, supported] of [
      ['o3', 'minimal', "'low', 'medium', and 'high'"],
      ['gpt-5', 'none', "'minimal', 'low', 'medium', and 'high'"],
      ['gpt-5.1', 'minimal', "'none', 'low', 'medium', and 'high'"],
      ['gpt-5-pro', 'low', "'high'"],
    ] as const) {
      const refused = await postChat(sim, { model, messages: PROMPT, reasoning_effort: effort });
      expect(refused.status).toBe(400);
      expect(await refused.json()).toEqual({
        error: {
          message: `Unsupported value: '${effort}' is not supported with the '${model}' model. Supported values are: ${supported}.`,
          type: 'invalid_request_error',
          param: 'reasoning_effort',
          code: 'unsupported_value',
        },
      });
    }
    expect((await postChat(sim, { model: 'gpt-5.2', messages: PROMPT, reasoning_effort: 'xhigh' })).status).toBe(200);
  });

  it('lists every profile under /v1/models', async () => {
    const ids: string[] = [];
    for await (const model of client.models.list()) ids.push(model.id);
    expect(ids).toEqual(DEFAULT_SIM_PROFILES.map((profile) => profile.id));
    expect(ids).toEqual(expect.arrayContaining(['gpt-4o', 'gpt-4o-mini', 'gpt-4-turbo', 'gpt-3.5-turbo', 'o3', 'gpt-5']));
  });

  it('rejects bad requests the OpenAI way', async () => {
    const recorded = sim.requests.length;
    const invalidJson = await postChat(sim, '{"model":');
    expect(invalidJson.status).toBe(400);
    expect(await invalidJson.json()).toEqual({
      error: { message: expect.any(String), type: 'invalid_request_error', param: null, code: null },
    });
    const noMessages = await postChat(sim, { model: 'gpt-4o' });
    expect(noMessages.status).toBe(400);
    expect(await noMessages.json()).toMatchObject({ error: { type: 'invalid_request_error', param: 'messages' } });
    const noModel = await postChat(sim, { messages: PROMPT });
    expect(noModel.status).toBe(400);
    const unknown = await fetch(`${sim.url}/v2/nothing`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { message: expect.any(String) } });
    // /_sim/requests lists accepted requests only, as docs/calling.md says.
    expect(sim.requests.length).toBe(recorded);
  });

  it('http_error: the SDK sees the status; Retry-After passes through', async () => {
    sim.injectFault({ kind: 'http_error', status: 503, retryAfter: '7', times: 1 });
    const error = await client.chat.completions.create({ model: 'gpt-4o', messages: PROMPT }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.InternalServerError);
    expect((error as APIError).status).toBe(503);
    expect((error as APIError).headers?.get('retry-after')).toBe('7');
    expect(sim.requests.at(-1)).toMatchObject({ outcome: 'fault', fault: 'http_error' });

    sim.injectFault({ kind: 'http_error', times: 1 });
    const raw = await postChat(sim, { model: 'gpt-4o', messages: PROMPT });
    expect(raw.status).toBe(500);
    expect(raw.headers.get('retry-after')).toBeNull();
    expect(await raw.json()).toMatchObject({ error: { type: 'server_error' } });
  });

  it('rate_limit: 429 with Retry-After and a rate_limit_exceeded body', async () => {
    sim.injectFault({ kind: 'rate_limit', times: 2 });
    const error = await client.chat.completions.create({ model: 'gpt-4o', messages: PROMPT }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect((error as APIError).code).toBe('rate_limit_exceeded');
    const raw = await postChat(sim, { model: 'gpt-4o', messages: PROMPT });
    expect(raw.status).toBe(429);
    expect(raw.headers.get('retry-after')).toBe('1');
    expect(await raw.json()).toMatchObject({ error: { type: 'rate_limit_exceeded', code: 'rate_limit_exceeded' } });
  });

  it('hang: only the client can end it, and the record says client_closed', async () => {
    sim.injectFault({ kind: 'hang', times: 1 });
    const controller = new AbortController();
    const started = new Promise<void>((resolve) => {
      const off = sim.onRequest(() => {
        off();
        resolve();
      });
    });
    const call = client.chat.completions
      .create({ model: 'gpt-4o', messages: PROMPT }, { signal: controller.signal })
      .catch((e: unknown) => e);
    await started;
    expect(sim.openRequests()).toBe(1);
    controller.abort();
    expect(await call).toBeInstanceOf(OpenAI.APIUserAbortError);
    await sim.waitForIdle(2_000);
    expect(sim.openRequests()).toBe(0);
    expect(sim.requests.at(-1)).toMatchObject({ outcome: 'client_closed', fault: 'hang' });
  });

  it('cut: the SDK stream throws after the first tokens; JSON bodies die half way', async () => {
    sim.injectFault({ kind: 'cut', afterTokens: 2, times: 1 });
    const stream = await client.chat.completions.create({ model: 'gpt-4o', messages: PROMPT, stream: true });
    const seen = await drain(stream);
    expect(seen.contentChunks).toBe(2);
    expect(seen.finishReasons).toEqual([]);
    // undici's own error, not an OpenAI.APIConnectionError: the SDK does not wrap body errors.
    expect(seen.error).toBeInstanceOf(TypeError);
    expect((seen.error as Error).message).toBe('terminated');
    expect(sim.requests.at(-1)).toMatchObject({ outcome: 'fault', fault: 'cut', tokensSent: 2 });

    sim.injectFault({ kind: 'cut', times: 1 });
    const error = await client.chat.completions.create({ model: 'gpt-4o', messages: PROMPT }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TypeError);
    expect(sim.requests.at(-1)).toMatchObject({ outcome: 'fault', fault: 'cut' });
  });

  it('truncate: a clean end without finish_reason', async () => {
    sim.injectFault({ kind: 'truncate', times: 2 });
    const stream = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: PROMPT,
      stream: true,
      stream_options: { include_usage: true },
    });
    const seen = await drain(stream);
    expect(seen.error).toBeUndefined();
    expect(seen.contentChunks).toBe(3);
    expect(seen.finishReasons).toEqual([]);
    const completion = await client.chat.completions.create({ model: 'gpt-4o', messages: PROMPT });
    expect(completion.choices[0]?.finish_reason).toBeNull();
    // The usage counts the tokens the body carries, not the answer it was cut from.
    expect(tokenize(completion.choices[0]?.message.content ?? '')).toHaveLength(3);
    expect(completion.usage?.completion_tokens).toBe(3);
    expect(sim.requests.at(-1)).toMatchObject({ outcome: 'fault', fault: 'truncate' });
  });

  it('malformed: the SDK throws SyntaxError on the body and on the bad chunk', async () => {
    sim.injectFault({ kind: 'malformed', times: 2 });
    const error = await client.chat.completions.create({ model: 'gpt-4o', messages: PROMPT }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SyntaxError);
    const stream = await client.chat.completions.create({ model: 'gpt-4o', messages: PROMPT, stream: true });
    const seen = await drain(stream);
    expect(seen.contentChunks).toBe(1);
    expect(seen.error).toBeInstanceOf(SyntaxError);
  });

  it('slow: a drip the client can walk away from, recorded as client_closed', async () => {
    sim.injectFault({ kind: 'slow', tokensPerSecond: 50, times: 1 });
    const stream = await client.chat.completions.create({ model: 'gpt-4o', messages: PROMPT, stream: true });
    let tokens = 0;
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content && ++tokens === 3) break; // break aborts the request
    }
    await sim.waitForIdle(2_000);
    const record = sim.requests.at(-1);
    expect(record).toMatchObject({ outcome: 'client_closed', fault: 'slow' });
    expect(record?.tokensSent).toBeLessThan(tokenize(generateText('gpt-4o', PROMPT)).length);
  });

  it('delay: holds the first byte for delayMs, then answers normally', async () => {
    sim.injectFault({ kind: 'delay', delayMs: 120, times: 1 });
    const started = performance.now();
    const completion = await client.chat.completions.create({ model: 'gpt-4o', messages: PROMPT });
    expect(performance.now() - started).toBeGreaterThanOrEqual(100);
    expect(completion.choices[0]?.finish_reason).toBe('stop');
    expect(sim.requests.at(-1)).toMatchObject({ outcome: 'fault', fault: 'delay' });
  });

  it('refusal: content null and message.refusal; streamed, a first chunk of content null and refusal "", then refusal pieces', async () => {
    const said = "I'm sorry, but I can't help with that request.";
    sim.injectFault({ kind: 'refusal', times: 2 });
    const completion = await client.chat.completions.create({ model: 'gpt-4o', messages: PROMPT });
    expect(completion.choices[0]).toMatchObject({ message: { role: 'assistant', content: null, refusal: said }, finish_reason: 'stop' });
    const raw = await (await postChat(sim, { model: 'gpt-4o', messages: PROMPT, stream: true })).text();
    const deltas = raw
      .split('\n\n')
      .filter((e) => e.startsWith('data: {'))
      .map((e) => (JSON.parse(e.slice(6)) as { choices: { delta: { refusal?: string } }[] }).choices[0]?.delta);
    expect(deltas[0]).toEqual({ role: 'assistant', content: null, refusal: '' });
    expect(deltas.map((d) => d?.refusal ?? '').join('')).toBe(said);
    expect(deltas.slice(1).some((d) => d && 'content' in d)).toBe(false);
    // Once the rule is spent, the model answers again.
    const after = await client.chat.completions.create({ model: 'gpt-4o', messages: PROMPT });
    expect(after.choices[0]?.message.refusal).toBeNull();
  });

  it('delay: holds the first byte for 1000 ms when delayMs is not given', async () => {
    sim.injectFault({ kind: 'delay', times: 1 });
    const started = performance.now();
    await client.chat.completions.create({ model: 'gpt-4o', messages: PROMPT });
    expect(performance.now() - started).toBeGreaterThanOrEqual(950);
  });

  it('http_error with delayMs: the error comes after the wait', async () => {
    sim.injectFault({ kind: 'http_error', status: 503, delayMs: 200, times: 1 });
    const started = performance.now();
    expect((await postChat(sim, { model: 'gpt-4o', messages: PROMPT })).status).toBe(503);
    expect(performance.now() - started).toBeGreaterThanOrEqual(180);
  });

  it('refuses a rule for no request at all (times 0) and a status HTTP does not have', async () => {
    for (const rule of [
      { kind: 'http_error', times: 0 },
      { kind: 'http_error', status: 600 },
    ]) {
      const bad = await fetch(`${sim.url}/_sim/faults`, { method: 'POST', body: JSON.stringify(rule) });
      expect(bad.status).toBe(400);
    }
    expect((await postChat(sim, { model: 'gpt-4o', messages: PROMPT })).status).toBe(200);
  });

  it('honours times and model, first matching rule first', async () => {
    sim.injectFault({ kind: 'http_error', status: 502, model: 'GPT-4O', times: 2 });
    sim.injectFault({ kind: 'http_error', status: 504, times: 1 });
    const statusOf = async (model: string): Promise<number> => (await postChat(sim, { model, messages: PROMPT })).status;
    expect(await statusOf('gpt-4o-mini')).toBe(504);
    expect(await statusOf('gpt-4o-mini')).toBe(200);
    expect(await statusOf('gpt-4o')).toBe(502);
    expect(await statusOf('gpt-4o')).toBe(502);
    expect(await statusOf('gpt-4o')).toBe(200);
  });

  it('takes faults and reports requests over HTTP for other processes', async () => {
    const add = await fetch(`${sim.url}/_sim/faults`, {
      method: 'POST',
      body: JSON.stringify({ kind: 'rate_limit', retryAfter: '3' }),
    });
    expect(add.status).toBe(200);
    expect((await postChat(sim, { model: 'o3', messages: PROMPT })).headers.get('retry-after')).toBe('3');
    expect((await fetch(`${sim.url}/_sim/faults`, { method: 'DELETE' })).status).toBe(200);
    expect((await postChat(sim, { model: 'o3', messages: PROMPT })).status).toBe(200);
    const bad = await fetch(`${sim.url}/_sim/faults`, { method: 'POST', body: JSON.stringify({ kind: 'explode' }) });
    expect(bad.status).toBe(400);
    const records = (await (await fetch(`${sim.url}/_sim/requests`)).json()) as Array<{ id: number; outcome: string }>;
    expect(records.map((record) => record.id)).toEqual(sim.requests.map((record) => record.id));
    expect(records.at(-1)).toMatchObject({ outcome: 'completed' });
  });

  it('refuses a list of rules with a bad one as a whole: none of them is added', async () => {
    const rules = [
      { kind: 'rate_limit', model: 'o3' },
      { kind: 'http_error', status: 'five hundred' },
    ];
    const bad = await fetch(`${sim.url}/_sim/faults`, { method: 'POST', body: JSON.stringify(rules) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toContain('invalid status');
    expect((await postChat(sim, { model: 'o3', messages: PROMPT })).status).toBe(200);
  });

  it('serves many concurrent streams and ends idle', async () => {
    const runs = Array.from({ length: 40 }, async (_, i) => {
      const stream = await client.chat.completions.create({
        model: DEFAULT_SIM_PROFILES[i % DEFAULT_SIM_PROFILES.length]!.id,
        messages: [{ role: 'user', content: `question ${i}` }],
        stream: true,
      });
      return drain(stream);
    });
    const results = await Promise.all(runs);
    expect(results.every((seen) => seen.error === undefined && seen.finishReasons.length === 1)).toBe(true);
    await sim.waitForIdle(2_000);
    expect(sim.openRequests()).toBe(0);
  });
});

describe('simulator options', () => {
  const started: Simulator[] = [];
  const start = async (options: SimulatorOptions): Promise<Simulator> => {
    const sim = await startSimulator(options);
    started.push(sim);
    return sim;
  };
  afterEach(async () => {
    await Promise.all(started.splice(0).map((sim) => sim.close()));
  });

  it('enforces apiKey on /v1 only', async () => {
    const sim = await start({ latencyScale: 0, apiKey: 'secret' });
    const wrong = await clientFor(sim, 'nope')
      .chat.completions.create({ model: 'gpt-4o', messages: PROMPT })
      .catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((wrong as APIError).code).toBe('invalid_api_key');
    const right = await clientFor(sim, 'secret').chat.completions.create({ model: 'gpt-4o', messages: PROMPT });
    expect(right.choices[0]?.finish_reason).toBe('stop');
    expect(sim.requests).toHaveLength(1);
    expect((await fetch(`${sim.url}/_sim/requests`)).status).toBe(200);
  });

  it('close() ends hanging requests too', async () => {
    const sim = await start({ latencyScale: 0 });
    sim.injectFault({ kind: 'hang' });
    const call = postChat(sim, { model: 'gpt-4o', messages: PROMPT }).catch((e: unknown) => e);
    await new Promise<void>((resolve) => sim.onRequest(() => resolve()));
    await sim.close();
    expect(await call).toBeInstanceOf(TypeError);
    expect(sim.openRequests()).toBe(0);
    expect(sim.requests[0]).toMatchObject({ outcome: 'client_closed', fault: 'hang' });
  });

  it('gives smaller models an earlier first token at latencyScale 1', async () => {
    const sim = await start({ latencyScale: 1 });
    const client = clientFor(sim);
    const firstToken = async (model: string): Promise<number> => {
      const begin = performance.now();
      const stream = await client.chat.completions.create({ model, messages: PROMPT, stream: true });
      for await (const chunk of stream) {
        if (chunk.choices[0]?.delta.content) break;
      }
      return performance.now() - begin;
    };
    const [mini, full] = await Promise.all([firstToken('gpt-4o-mini'), firstToken('gpt-4o')]);
    expect(mini).toBeLessThan(full);
    expect(full).toBeGreaterThanOrEqual(140);
  });

  it('latencyScale 0 answers at once, however slow the model', async () => {
    const sim = await start({ latencyScale: 0, profiles: [{ id: 'slowpoke', ttftMs: 5_000, tokensPerSecond: 1, quality: 0.5 }] });
    const client = clientFor(sim);
    const started = performance.now();
    await client.chat.completions.create({ model: 'slowpoke', messages: PROMPT });
    const stream = await client.chat.completions.create({ model: 'slowpoke', messages: PROMPT, stream: true });
    const seen = await drain(stream);
    expect(seen.finishReasons).toEqual(['stop']);
    // Unscaled, each call would take 5 s to its first token and 12 s or more to its last.
    expect(performance.now() - started).toBeLessThan(2_500);
  });

  it('refuses a negative latencyScale', async () => {
    await expect(startSimulator({ latencyScale: -1 })).rejects.toThrow(RangeError);
  });
});
