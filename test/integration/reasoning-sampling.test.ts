import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatRequest } from '../../src/gen/orchestrator/v1/chat.js';
import { ReasoningEffort, type SamplingOptions } from '../../src/gen/orchestrator/v1/common.js';
import { callUnary, collectStream, streamRequest, unaryError } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';

/**
 * OpenAI's reasoning models answer top_p, presence_penalty and frequency_penalty with a 400
 * (unsupported_parameter): the gateway treats them as models that do not take sampling
 * parameters, as it treats a model without tools, before any upstream call.
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const sampled = (fields: Partial<SamplingOptions>): SamplingOptions => ({ stop: [], user: '', reasoningEffort: 0, ...fields });
const base = { prompt: 'Tell me about rivers', messages: [] };
const callsTo = (model: string) => h.upstream.requests.filter((r) => (r.body as { model?: string } | undefined)?.model === model).length;
const BYPASS = { mode: 2, allowStale: false };
const USE = { mode: 1, allowStale: false };

describe('sampling parameters on reasoning models', () => {
  it('a Fallback chain skips the reasoning model and answers from the next, with no upstream call to the first', async () => {
    const before = callsTo('o3');
    const { response } = await callUnary(h.clients.chat.fallback.bind(h.clients.chat), {
      ...base,
      model: 'o3',
      models: ['o3', 'gpt-4o-mini'],
      disableDefaultMessage: true,
      sampling: sampled({ topP: 0.5 }),
    });
    expect(response.modelUsed).toBe('gpt-4o-mini');
    expect(response.attempts.map((a) => a.model)).toEqual(['gpt-4o-mini']);
    expect(callsTo('o3')).toBe(before);
  });

  it('Chat naming a reasoning model with top_p is INVALID_ARGUMENT naming the parameter, before any upstream call', async () => {
    const before = h.upstream.requests.length;
    const err = await unaryError(h.clients.chat.chat.bind(h.clients.chat), {
      ...base,
      model: 'o3',
      sampling: sampled({ topP: 0.5, frequencyPenalty: 0.2 }),
    } as ChatRequest);
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.decoded.badRequest?.fieldViolations).toEqual([
      expect.objectContaining({
        field: 'model',
        description: 'o3 does not take top_p, frequency_penalty, which this request uses: choose a model that does',
      }),
    ]);
    const streamed = await collectStream(
      h.clients.chat.streamChat(streamRequest({ model: 'gpt-5', prompt: 'hi', sampling: sampled({ presencePenalty: 1 }) })),
    );
    expect(streamed.error?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(h.upstream.requests.length).toBe(before);
  });

  it('the same model without those parameters answers, seed included', async () => {
    const { response } = await callUnary(h.clients.chat.chat.bind(h.clients.chat), {
      ...base,
      model: 'o3',
      sampling: sampled({ seed: 3 }),
    } as ChatRequest);
    expect(response.model).toBe('o3');
  });

  it('routing leaves reasoning models out, with the reason in the ranking', async () => {
    const { response } = await callUnary(h.clients.chat.chat.bind(h.clients.chat), {
      ...base,
      model: '',
      route: { profile: 1, candidates: ['gpt-5', 'o3', 'gpt-4o-mini'] },
      sampling: sampled({ topP: 0.9 }),
      cache: BYPASS,
    } as ChatRequest);
    expect(response.model).toBe('gpt-4o-mini');
    const gpt5 = response.routeDecision?.ranking.find((r) => r.model === 'gpt-5');
    expect(gpt5?.eligible).toBe(false);
    expect(gpt5?.excludedReason).toBe('does not take top_p');
  });

  it('the HTTP API refuses it with a 400 on the model', async () => {
    const res = await fetch(`${h.app.http!.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'o4-mini', messages: [{ role: 'user', content: 'hi' }], top_p: 0.5 }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { param: string; message: string } };
    expect(body.error.param).toBe('model');
    expect(body.error.message).toContain('o4-mini does not take top_p');
  });
});

/** OpenAI answers `stop` on o3, o4-mini and the GPT-5 models with a 400 (unsupported_parameter) too. */
describe('stop on reasoning models', () => {
  it('Chat naming one with stop is INVALID_ARGUMENT on model, before any upstream call', async () => {
    const before = h.upstream.requests.length;
    const err = await unaryError(h.clients.chat.chat.bind(h.clients.chat), {
      ...base,
      model: 'o3',
      sampling: sampled({ stop: ['END'] }),
    } as ChatRequest);
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.decoded.badRequest?.fieldViolations).toEqual([
      expect.objectContaining({
        field: 'model',
        description: 'o3 does not take stop, which this request uses: choose a model that does',
      }),
    ]);
    const streamed = await collectStream(
      h.clients.chat.streamChat(
        streamRequest({
          model: 'gpt-5-mini',
          prompt: 'hi',
          sampling: sampled({ stop: ['END'], reasoningEffort: ReasoningEffort.REASONING_EFFORT_MINIMAL }),
        }),
      ),
    );
    expect(streamed.error?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(h.upstream.requests.length).toBe(before);
  });

  it('a Fallback chain skips o3 and answers from gpt-4o-mini, which gets the stop sequences', async () => {
    const before = callsTo('o3');
    const { response } = await callUnary(h.clients.chat.fallback.bind(h.clients.chat), {
      ...base,
      model: 'o3',
      models: ['o3', 'gpt-4o-mini'],
      disableDefaultMessage: true,
      sampling: sampled({ stop: ['END'] }),
    });
    expect(response.modelUsed).toBe('gpt-4o-mini');
    expect(response.attempts.map((a) => a.model)).toEqual(['gpt-4o-mini']);
    expect(callsTo('o3')).toBe(before);
    const sent = h.upstream.requests.filter((r) => r.model === 'gpt-4o-mini').at(-1)?.body as Record<string, unknown> | undefined;
    expect(sent?.stop).toEqual(['END']);
  });

  it('a Race and routing leave them out, with the reason in the ranking', async () => {
    const before = h.upstream.requests.length;
    const raced = await callUnary(h.clients.chat.race.bind(h.clients.chat), {
      ...base,
      model: '',
      models: ['o4-mini', 'gpt-4o'],
      sampling: sampled({ stop: ['END'] }),
    });
    expect(raced.response.model).toBe('gpt-4o');
    expect(h.upstream.requests.slice(before).map((r) => r.model)).toEqual(['gpt-4o']);
    const { response } = await callUnary(h.clients.chat.chat.bind(h.clients.chat), {
      ...base,
      model: '',
      route: { profile: 1, candidates: ['gpt-5', 'o3', 'gpt-4o-mini'] },
      sampling: sampled({ stop: ['END'] }),
      cache: BYPASS,
    } as ChatRequest);
    expect(response.model).toBe('gpt-4o-mini');
    expect(response.routeDecision?.ranking.find((r) => r.model === 'gpt-5')?.excludedReason).toBe('does not take stop');
  });

  it('the HTTP API refuses it with a 400 on the model, a lone string as a list, before any upstream call', async () => {
    const before = h.upstream.requests.length;
    for (const stop of ['END', ['END', 'STOP']]) {
      const res = await fetch(`${h.app.http!.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-5', messages: [{ role: 'user', content: 'hi' }], stop }),
      });
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: { param: string; message: string } };
      expect(body.error.param).toBe('model');
      expect(body.error.message).toContain('gpt-5 does not take stop, which this request uses');
    }
    expect(h.upstream.requests.length).toBe(before);
  });
});

/** o1, o3, o3-mini and o4-mini answer parallel_tool_calls, at either value, with a 400 (unsupported_parameter); the GPT-5 models take it. */
describe('parallel_tool_calls on the o-series models', () => {
  const tooling = (parallelToolCalls: boolean) => ({
    tools: [{ name: 'get_weather', description: '', strict: false }],
    parallelToolCalls,
  });

  it('Chat naming one with it is INVALID_ARGUMENT on model, before any upstream call; a Fallback chain skips it', async () => {
    const before = h.upstream.requests.length;
    const err = await unaryError(h.clients.chat.chat.bind(h.clients.chat), {
      ...base,
      model: 'o4-mini',
      tooling: tooling(false),
    } as ChatRequest);
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.decoded.badRequest?.fieldViolations).toEqual([
      expect.objectContaining({
        field: 'model',
        description: 'o4-mini does not take parallel_tool_calls, which this request uses: choose a model that does',
      }),
    ]);
    expect(h.upstream.requests.length).toBe(before);
    const { response } = await callUnary(h.clients.chat.fallback.bind(h.clients.chat), {
      ...base,
      model: 'o3',
      models: ['o3', 'gpt-5'],
      disableDefaultMessage: true,
      tooling: tooling(true),
    });
    expect(response.modelUsed).toBe('gpt-5');
    expect(h.upstream.requests.slice(before).map((r) => r.model)).toEqual(['gpt-5']);
  });

  it('the HTTP API refuses it with a 400 on the model', async () => {
    const res = await fetch(`${h.app.http!.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'o3',
        messages: [{ role: 'user', content: 'hi' }],
        tools: [{ type: 'function', function: { name: 'get_weather' } }],
        parallel_tool_calls: false,
      }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { param: string; message: string } };
    expect(body.error.param).toBe('model');
    expect(body.error.message).toContain('o3 does not take parallel_tool_calls');
  });
});

describe('reasoning_effort', () => {
  const lastBodyFor = (model: string) =>
    h.upstream.requests.filter((r) => (r.body as { model?: string } | undefined)?.model === model).at(-1)?.body as
      | Record<string, unknown>
      | undefined;
  const post = (body: unknown) =>
    fetch(`${h.app.http!.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it('reaches the reasoning model upstream from Chat and StreamChat', async () => {
    const { response } = await callUnary(h.clients.chat.chat.bind(h.clients.chat), {
      ...base,
      model: 'o3',
      sampling: sampled({ reasoningEffort: ReasoningEffort.REASONING_EFFORT_LOW }),
      cache: BYPASS,
    } as ChatRequest);
    expect(response.model).toBe('o3');
    expect(lastBodyFor('o3')).toMatchObject({ reasoning_effort: 'low' });
    const streamed = await collectStream(
      h.clients.chat.streamChat(
        streamRequest({ model: 'gpt-5', prompt: 'hi', sampling: sampled({ reasoningEffort: ReasoningEffort.REASONING_EFFORT_MINIMAL }) }),
      ),
    );
    expect(streamed.error).toBeUndefined();
    expect(lastBodyFor('gpt-5')).toMatchObject({ reasoning_effort: 'minimal', stream: true });
  });

  it('reaches it from the HTTP API, streamed or not', async () => {
    for (const stream of [false, true]) {
      const res = await post({ model: 'o4-mini', messages: [{ role: 'user', content: 'hi' }], reasoning_effort: 'high', stream });
      expect(res.status).toBe(200);
      await res.text();
      expect(lastBodyFor('o4-mini')).toMatchObject({ reasoning_effort: 'high', stream });
    }
  });

  it('a Fallback chain skips the model that is not a reasoning model, with no upstream call to it', async () => {
    const before = callsTo('gpt-4o-mini');
    const { response } = await callUnary(h.clients.chat.fallback.bind(h.clients.chat), {
      ...base,
      model: 'gpt-4o-mini',
      models: ['gpt-4o-mini', 'o3'],
      disableDefaultMessage: true,
      sampling: sampled({ reasoningEffort: ReasoningEffort.REASONING_EFFORT_HIGH }),
    });
    expect(response.modelUsed).toBe('o3');
    expect(response.attempts.map((a) => a.model)).toEqual(['o3']);
    expect(callsTo('gpt-4o-mini')).toBe(before);
    expect(lastBodyFor('o3')).toMatchObject({ reasoning_effort: 'high' });
  });

  it('a Race leaves out the model that is not a reasoning model, calling only the others', async () => {
    const before = h.upstream.requests.length;
    const { response } = await callUnary(h.clients.chat.race.bind(h.clients.chat), {
      ...base,
      model: '',
      models: ['gpt-4o', 'o4-mini'],
      sampling: sampled({ reasoningEffort: ReasoningEffort.REASONING_EFFORT_LOW }),
    });
    expect(response.model).toBe('o4-mini');
    expect(h.upstream.requests.slice(before).map((r) => r.model)).toEqual(['o4-mini']);
  });

  it('the HTTP API skips it in a fallback list too', async () => {
    const res = await post({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'hi' }],
      reasoning_effort: 'low',
      orchestrator: { strategy: 'fallback', models: ['o4-mini'] },
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { model: string }).model).toBe('o4-mini');
  });

  it('Chat naming a model that is not a reasoning model is INVALID_ARGUMENT on model, before any upstream call', async () => {
    const before = h.upstream.requests.length;
    const err = await unaryError(h.clients.chat.chat.bind(h.clients.chat), {
      ...base,
      model: 'gpt-4o-mini',
      sampling: sampled({ reasoningEffort: ReasoningEffort.REASONING_EFFORT_LOW }),
    } as ChatRequest);
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.decoded.badRequest?.fieldViolations).toEqual([
      expect.objectContaining({
        field: 'model',
        description: 'gpt-4o-mini does not take reasoning_effort, which this request uses: choose a model that does',
      }),
    ]);
    const res = await post({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], reasoning_effort: 'low' });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { param: string; message: string } };
    expect(body.error.param).toBe('model');
    expect(body.error.message).toContain('gpt-4o does not take reasoning_effort');
    expect(h.upstream.requests.length).toBe(before);
  });

  it('a wrong value is refused by both doors, naming the field and the values', async () => {
    const err = await unaryError(h.clients.chat.chat.bind(h.clients.chat), {
      ...base,
      model: 'o3',
      sampling: sampled({ reasoningEffort: 42 as ReasoningEffort }),
    } as ChatRequest);
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.decoded.badRequest?.fieldViolations.map((v) => v.field)).toEqual(['sampling.reasoning_effort']);
    const res = await post({ model: 'o3', messages: [{ role: 'user', content: 'hi' }], reasoning_effort: 'extreme' });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { param: string; message: string } };
    expect(body.error.param).toBe('reasoning_effort');
    expect(body.error.message).toContain('none, minimal, low, medium, high, xhigh, max');
  });

  it('routing leaves out the models that are not reasoning models, with the reason in the ranking', async () => {
    const { response } = await callUnary(h.clients.chat.chat.bind(h.clients.chat), {
      ...base,
      model: '',
      route: { profile: 1, candidates: ['gpt-4o-mini', 'o4-mini'] },
      sampling: sampled({ reasoningEffort: ReasoningEffort.REASONING_EFFORT_MEDIUM }),
      cache: BYPASS,
    } as ChatRequest);
    expect(response.model).toBe('o4-mini');
    const mini = response.routeDecision?.ranking.find((r) => r.model === 'gpt-4o-mini');
    expect(mini?.eligible).toBe(false);
    expect(mini?.excludedReason).toBe('does not take reasoning_effort');
  });

  it('keys the response cache: another effort is another answer', async () => {
    const ask = (reasoningEffort: ReasoningEffort) =>
      callUnary(h.clients.chat.chat.bind(h.clients.chat), {
        ...base,
        prompt: 'cache the effort',
        model: 'o3',
        temperature: 0,
        sampling: sampled({ reasoningEffort }),
        cache: USE,
      } as ChatRequest);
    expect((await ask(ReasoningEffort.REASONING_EFFORT_LOW)).response.cache?.hit).toBe(false);
    expect((await ask(ReasoningEffort.REASONING_EFFORT_LOW)).response.cache?.hit).toBe(true);
    const before = callsTo('o3');
    expect((await ask(ReasoningEffort.REASONING_EFFORT_HIGH)).response.cache?.hit).toBe(false);
    expect(callsTo('o3')).toBe(before + 1);
    expect(lastBodyFor('o3')).toMatchObject({ reasoning_effort: 'high' });
  });
});

describe('reasoning_effort levels', () => {
  const post = (body: unknown) =>
    fetch(`${h.app.http!.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it('Chat at a level the model does not take is INVALID_ARGUMENT on model, naming the levels it takes, before any upstream call', async () => {
    const before = h.upstream.requests.length;
    const err = await unaryError(h.clients.chat.chat.bind(h.clients.chat), {
      ...base,
      model: 'o3',
      sampling: sampled({ reasoningEffort: ReasoningEffort.REASONING_EFFORT_MINIMAL }),
    } as ChatRequest);
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.decoded.badRequest?.fieldViolations).toEqual([
      expect.objectContaining({
        field: 'model',
        description:
          'o3 does not take reasoning_effort minimal (it takes low, medium, high), which this request uses: choose a model that does',
      }),
    ]);
    expect(h.upstream.requests.length).toBe(before);
  });

  it('the HTTP API refuses it with a 400 on the model, before any upstream call', async () => {
    const before = h.upstream.requests.length;
    const res = await post({ model: 'gpt-5', messages: [{ role: 'user', content: 'hi' }], reasoning_effort: 'none' });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { param: string; message: string } };
    expect(body.error.param).toBe('model');
    expect(body.error.message).toContain('gpt-5 does not take reasoning_effort none (it takes minimal, low, medium, high)');
    expect(h.upstream.requests.length).toBe(before);
  });

  it('a Fallback chain skips the model that does not take the level, with no upstream call to it', async () => {
    const before = callsTo('o3');
    const { response } = await callUnary(h.clients.chat.fallback.bind(h.clients.chat), {
      ...base,
      model: 'o3',
      models: ['o3', 'gpt-5-mini'],
      disableDefaultMessage: true,
      sampling: sampled({ reasoningEffort: ReasoningEffort.REASONING_EFFORT_MINIMAL }),
    });
    expect(response.modelUsed).toBe('gpt-5-mini');
    expect(response.attempts.map((a) => a.model)).toEqual(['gpt-5-mini']);
    expect(callsTo('o3')).toBe(before);
  });

  it('routing leaves it out, with the reason in the ranking', async () => {
    const { response } = await callUnary(h.clients.chat.chat.bind(h.clients.chat), {
      ...base,
      model: '',
      route: { profile: 1, candidates: ['o4-mini', 'gpt-5-nano'] },
      sampling: sampled({ reasoningEffort: ReasoningEffort.REASONING_EFFORT_MINIMAL }),
      cache: BYPASS,
    } as ChatRequest);
    expect(response.model).toBe('gpt-5-nano');
    const o4 = response.routeDecision?.ranking.find((r) => r.model === 'o4-mini');
    expect(o4?.eligible).toBe(false);
    expect(o4?.excludedReason).toBe('does not take reasoning_effort minimal (it takes low, medium, high)');
  });
});

describe('the default cache mode and models that take no temperature', () => {
  const chat = (model: string, prompt: string, extra: Partial<ChatRequest> = {}) =>
    callUnary(h.clients.chat.chat.bind(h.clients.chat), { ...base, model, prompt, temperature: 0, ...extra } as ChatRequest);

  it('does not cache a reasoning model at temperature 0: it is never sent the temperature, so its answers vary', async () => {
    const before = callsTo('o3');
    const first = await chat('o3', 'not deterministic');
    const again = await chat('o3', 'not deterministic');
    expect(first.response.cache).toBeUndefined();
    expect(again.response.cache).toBeUndefined();
    expect(callsTo('o3')).toBe(before + 2);
  });

  it('still caches a plain model at temperature 0, and a reasoning model when the caller asks', async () => {
    expect((await chat('gpt-4o-mini', 'deterministic')).response.cache?.hit).toBe(false);
    expect((await chat('gpt-4o-mini', 'deterministic')).response.cache?.hit).toBe(true);
    expect((await chat('o3', 'asked to cache', { cache: USE })).response.cache?.hit).toBe(false);
    expect((await chat('o3', 'asked to cache', { cache: USE })).response.cache?.hit).toBe(true);
  });

  it('does not store a Fallback answer from a reasoning model at temperature 0 under its key', async () => {
    const fallback = h.clients.chat.fallback.bind(h.clients.chat);
    const prompt = 'fallback not deterministic';
    const { response } = await callUnary(fallback, {
      ...base,
      prompt,
      model: 'o3',
      models: ['o3'],
      temperature: 0,
      disableDefaultMessage: true,
    });
    expect(response.modelUsed).toBe('o3');
    expect((await chat('o3', prompt, { cache: USE })).response.cache?.hit).toBe(false);
  });
});
