import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { ChatRequest } from '../../src/gen/orchestrator/v1/chat.js';
import { ReasoningEffort, type SamplingOptions } from '../../src/gen/orchestrator/v1/common.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { writeConfigFile } from '../helpers/config-file.js';
import { callUnary, clientsFor, collectStream, streamRequest, unaryError, type Clients } from '../helpers/grpc-client.js';
import { calmestMs, fastestMs, loopHeldMs, unaryBytes } from '../helpers/loop-delay.js';
import { captureLines } from '../helpers/log-lines.js';

/** Sampling controls and request tags through the gRPC and HTTP doors, against recording upstreams. */
const { lines, sink } = captureLines();

let openai: Simulator;
let anthropic: Simulator;
let app: App;
let clients: Clients;
beforeAll(async () => {
  [openai, anthropic] = await Promise.all([startSimulator({ latencyScale: 0 }), startSimulator({ latencyScale: 0 })]);
  const file = writeConfigFile(`providers:
  - { name: alpha, kind: openai, base_url: "${openai.baseURL}", api_key_env: ALPHA_KEY }
  - { name: beta, kind: anthropic, base_url: "${anthropic.url}", api_key_env: BETA_KEY }
  - { name: gamma, kind: anthropic, base_url: "${anthropic.url}", api_key_env: BETA_KEY, anthropic_version: "2023-06-01" }
include_builtin_models: false
models:
  - { id: alpha-chat, provider: alpha, upstream_id: "alpha/chat-1", context_window: 8000, max_output_tokens: 1000, input_price_per_million: 0.1, output_price_per_million: 0.2, family: a, tier: small, quality: 0.5 }
  - { id: beta-claude, provider: beta, upstream_id: claude-test, context_window: 8000, max_output_tokens: 1000, input_price_per_million: 3, output_price_per_million: 15, family: b, tier: large, quality: 0.9 }
  - { id: gamma-claude, provider: gamma, upstream_id: claude-older, context_window: 8000, max_output_tokens: 1000, input_price_per_million: 3, output_price_per_million: 15, family: b, tier: large, quality: 0.9 }
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
  app = await startApp(config, createLogger('info', sink), { ALPHA_KEY: 'a', BETA_KEY: 'b' });
  clients = clientsFor(app.port);
});
afterAll(async () => {
  clients?.close();
  await app?.stop(100);
  await Promise.all([openai?.close(), anthropic?.close()]);
});

const chat = (req: Partial<ChatRequest>, metadata?: Record<string, string>) =>
  callUnary(clients.chat.chat.bind(clients.chat), { model: 'alpha-chat', prompt: '', messages: [], ...req }, metadata ? { metadata } : {});
const chatError = (req: Partial<ChatRequest>) =>
  unaryError(clients.chat.chat.bind(clients.chat), { model: 'alpha-chat', prompt: '', messages: [], ...req });
/** Sampling options with the fields a test does not care about at their defaults. */
const sampled = (fields: Partial<SamplingOptions>): SamplingOptions => ({ stop: [], user: '', reasoningEffort: 0, ...fields });
const lastBody = (sim: Simulator) => sim.requests.at(-1)?.body as Record<string, unknown>;
const callLines = () => lines.filter((l) => l.msg === 'call');

/** A seeded request over the HTTP API to two Anthropic models (neither takes a seed), as a chain or a race. */
const seededOverHttp = (strategy: 'fallback' | 'race'): Promise<Response> =>
  fetch(`${app.http!.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      model: 'beta-claude',
      seed: 1,
      messages: [{ role: 'user', content: 'hi' }],
      orchestrator: { strategy, models: ['gamma-claude'] },
    }),
  });

describe('sampling controls on the OpenAI provider', () => {
  it('sends every field, by its Chat Completions name, in the upstream body', async () => {
    await chat({
      prompt: 'Tell me about rivers',
      sampling: sampled({ topP: 0.5, stop: ['###', 'END'], seed: 42, presencePenalty: 0.25, frequencyPenalty: -1, user: 'u-7' }),
    });
    expect(lastBody(openai)).toMatchObject({
      model: 'alpha/chat-1',
      top_p: 0.5,
      stop: ['###', 'END'],
      seed: 42,
      presence_penalty: 0.25,
      frequency_penalty: -1,
      user: 'u-7',
    });
  });

  it('sends none of them when none is set', async () => {
    await chat({ prompt: 'plain' });
    const body = lastBody(openai);
    for (const key of ['top_p', 'stop', 'seed', 'presence_penalty', 'frequency_penalty', 'user', 'metadata'])
      expect(body).not.toHaveProperty(key);
  });

  it('carries them through Race, Fallback and StreamChat too', async () => {
    const sampling = sampled({ topP: 0.3, stop: ['zz'], seed: 9 });
    await callUnary(clients.chat.race.bind(clients.chat), { model: 'alpha-chat', prompt: 'race', messages: [], models: [], sampling });
    expect(lastBody(openai)).toMatchObject({ top_p: 0.3, stop: ['zz'], seed: 9 });
    await callUnary(clients.chat.fallback.bind(clients.chat), {
      model: 'alpha-chat',
      prompt: 'fallback',
      messages: [],
      models: [],
      disableDefaultMessage: false,
      sampling: sampled({ seed: 10 }),
    });
    expect(lastBody(openai)).toMatchObject({ seed: 10 });
    const streamed = await collectStream(
      clients.chat.streamChat(streamRequest({ model: 'alpha-chat', prompt: 'stream', sampling: sampled({ seed: 11, stop: ['x'] }) })),
    );
    expect(streamed.error).toBeUndefined();
    expect(lastBody(openai)).toMatchObject({ seed: 11, stop: ['x'], stream: true });
  });
});

describe('sampling controls on the Anthropic provider', () => {
  it('maps stop to stop_sequences and user to metadata.user_id', async () => {
    await chat({ model: 'beta-claude', prompt: 'Tell me about rivers', sampling: sampled({ stop: ['###'], user: 'u-8' }) });
    expect(lastBody(anthropic)).toMatchObject({ model: 'claude-test', stop_sequences: ['###'], metadata: { user_id: 'u-8' } });
  });

  it('refuses what it cannot honour with INVALID_ARGUMENT naming the field and the provider, without calling upstream', async () => {
    const before = anthropic.requests.length;
    const err = await chatError({ model: 'beta-claude', prompt: 'hi', sampling: sampled({ seed: 1, presencePenalty: 0.5, stop: [] }) });
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    const violations = err.decoded.badRequest?.fieldViolations ?? [];
    expect(violations.map((v) => v.field)).toEqual(['sampling.seed', 'sampling.presence_penalty']);
    expect(violations[0]?.description).toContain('provider beta');
    expect(err.details).toContain('seed');
    expect(anthropic.requests.length).toBe(before);
  });

  it('refuses a stop sequence of only whitespace, which the Messages API refuses, by its field and without calling upstream', async () => {
    const before = anthropic.requests.length;
    const err = await chatError({ model: 'beta-claude', prompt: 'hi', sampling: sampled({ stop: ['END', '\n'] }) });
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    const violations = err.decoded.badRequest?.fieldViolations ?? [];
    expect(violations.map((v) => v.field)).toEqual(['sampling.stop[1]']);
    expect(violations[0]?.description).toContain('provider beta');
    expect(anthropic.requests.length).toBe(before);
  });

  it('refuses reasoning_effort on model, an Anthropic model not being an OpenAI reasoning model, without calling upstream', async () => {
    const before = anthropic.requests.length;
    const err = await chatError({
      model: 'beta-claude',
      prompt: 'hi',
      sampling: sampled({ reasoningEffort: ReasoningEffort.REASONING_EFFORT_LOW }),
    });
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.decoded.badRequest?.fieldViolations).toEqual([
      expect.objectContaining({ field: 'model', description: expect.stringContaining('beta-claude does not take reasoning_effort') }),
    ]);
    expect(anthropic.requests.length).toBe(before);
  });

  it('refuses top_p on the API version that takes no sampling parameters', async () => {
    const err = await chatError({ model: 'beta-claude', prompt: 'hi', sampling: sampled({ topP: 0.9, stop: [] }) });
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.decoded.badRequest?.fieldViolations.map((v) => v.field)).toEqual(['sampling.top_p']);
  });

  it('fails a Fallback every model of which cannot honour a field with INVALID_ARGUMENT, not the default message', async () => {
    const before = anthropic.requests.length;
    const fallback = (models: string[]) =>
      unaryError(clients.chat.fallback.bind(clients.chat), {
        model: '',
        prompt: 'hi',
        messages: [],
        models,
        disableDefaultMessage: false,
        sampling: sampled({ seed: 1 }),
      });
    const one = await fallback(['beta-claude']);
    expect(one.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(one.decoded.badRequest?.fieldViolations.map((v) => v.field)).toEqual(['sampling.seed']);
    const both = await fallback(['beta-claude', 'gamma-claude']);
    expect(both.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(both.details).toContain('cannot honour seed');
    const res = await seededOverHttp('fallback');
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain('cannot honour seed');
    expect(anthropic.requests.length).toBe(before);
    // A model that can take it still answers after one that cannot.
    const { response } = await callUnary(clients.chat.fallback.bind(clients.chat), {
      model: '',
      prompt: 'hi',
      messages: [],
      models: ['beta-claude', 'alpha-chat'],
      disableDefaultMessage: false,
      sampling: sampled({ seed: 1 }),
    });
    expect(response).toMatchObject({ modelUsed: 'alpha-chat', isDefaultMessage: false, fallbackTriggered: true });
  });

  it('names the field in BadRequest when no racer of a Race can honour it, as for one model', async () => {
    const err = await unaryError(clients.chat.race.bind(clients.chat), {
      model: '',
      prompt: 'hi',
      messages: [],
      models: ['beta-claude', 'gamma-claude'],
      sampling: sampled({ seed: 1 }),
    });
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    const violations = err.decoded.badRequest?.fieldViolations ?? [];
    expect(violations.map((v) => v.field)).toEqual(['sampling.seed', 'sampling.seed']);
    expect(violations.map((v) => v.description)).toEqual([
      expect.stringContaining('provider beta'),
      expect.stringContaining('provider gamma'),
    ]);
    const res = await seededOverHttp('race');
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { param: string | null } }).error.param).toBe('seed');
  });
});

describe('the default cache mode and an Anthropic provider', () => {
  const twice = async (req: Partial<ChatRequest>) => {
    const before = anthropic.requests.length;
    const first = await chat({ temperature: 0, ...req });
    const again = await chat({ temperature: 0, ...req });
    return { hits: [first.response.cache?.hit, again.response.cache?.hit], calls: anthropic.requests.length - before };
  };

  it('does not cache a model on the API version that is sent no temperature: its answers vary at temperature 0', async () => {
    expect(await twice({ model: 'beta-claude', prompt: 'cache me, version without sampling' })).toEqual({
      hits: [undefined, undefined],
      calls: 2,
    });
    expect(lastBody(anthropic)).not.toHaveProperty('temperature');
  });

  it('caches one on an API version that is sent the temperature, but not when top_p takes its place', async () => {
    expect(await twice({ model: 'gamma-claude', prompt: 'cache me, older version' })).toEqual({ hits: [false, true], calls: 1 });
    expect(lastBody(anthropic)).toMatchObject({ temperature: 0 });
    expect(await twice({ model: 'gamma-claude', prompt: 'cache me, with top_p', sampling: sampled({ topP: 1 }) })).toEqual({
      hits: [undefined, undefined],
      calls: 2,
    });
    expect(lastBody(anthropic)).not.toHaveProperty('temperature');
  });
});

describe('the simulator honours stop', () => {
  it('cuts the answer before the stop sequence, finish reason STOP, unary and streamed', async () => {
    const full = await chat({ prompt: 'Explain the water cycle', cache: { mode: 2, allowStale: false } });
    const words = full.response.content.split(' ');
    const cut = words[3]!;
    const expected = full.response.content.slice(0, full.response.content.indexOf(cut)).trimEnd();
    const stopped = await chat({ prompt: 'Explain the water cycle', sampling: sampled({ stop: [cut] }) });
    expect(stopped.response.content.trimEnd()).toBe(expected);
    expect(stopped.response.finishReason).toBe(1);
    const streamed = await collectStream(
      clients.chat.streamChat(
        streamRequest({ model: 'alpha-chat', prompt: 'Explain the water cycle', sampling: sampled({ stop: [cut] }) }),
      ),
    );
    const text = streamed.messages.map((m) => (m.event?.$case === 'delta' ? m.event.delta.content : '')).join('');
    expect(text.trimEnd()).toBe(expected);
    const completed = streamed.messages.at(-1)?.event;
    expect(completed?.$case === 'completed' && completed.completed.finishReason).toBe(1);
  });
});

describe('validation', () => {
  it('names every out-of-range field by its path', async () => {
    const err = await chatError({
      prompt: 'hi',
      sampling: sampled({ topP: 1.5, stop: ['a', '', 'c', 'd', 'e'], presencePenalty: -3, frequencyPenalty: 2.5 }),
      metadata: { tags: { ['k'.repeat(65)]: 'v', team: 'x'.repeat(513) } },
    });
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.decoded.badRequest?.fieldViolations.map((v) => v.field).sort()).toEqual(
      [
        'metadata.tags',
        'metadata.tags[team]',
        'sampling.frequency_penalty',
        'sampling.presence_penalty',
        'sampling.stop',
        'sampling.stop[1]',
        'sampling.top_p',
      ].sort(),
    );
  });

  it('bounds the number of tags', async () => {
    const tags = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v']));
    const err = await chatError({ prompt: 'hi', metadata: { tags } });
    expect(err.decoded.badRequest?.fieldViolations).toEqual([
      expect.objectContaining({ field: 'metadata.tags', description: 'at most 16 keys (got 17)' }),
    ]);
  });
});

// A list far over its limit was checked entry by entry (a violation for each empty stop
// sequence, a copy of every tag) before the count refused it: seconds of the event loop, during
// which every other call waited. The count is now checked first, so refusing costs little more
// than decoding the request did.
describe('a stop list or tags far over their limits', () => {
  const stops = Array.from({ length: 1_000_000 }, () => '');
  const tags = Object.fromEntries(Array.from({ length: 200_000 }, (_, i) => [`k${i}`, 'v']));

  it.each([
    ['stop sequences', { sampling: sampled({ stop: stops }) }, 'sampling.stop', 'at most 4 sequences (got 1000000)'],
    ['tags', { metadata: { tags } }, 'metadata.tags', 'at most 16 keys (got 200000)'],
  ] as const)(
    'gRPC: refuses a million %s by their count, holding the loop little longer than decoding them',
    async (_name, fields, field, why) => {
      const request: ChatRequest = { model: 'alpha-chat', prompt: 'hi', messages: [], ...fields };
      const bytes = ChatRequest.encode(request).finish();
      const decodeMs = fastestMs(() => ChatRequest.decode(bytes));
      let err: grpc.ServiceError | undefined;
      const bound = 3 * decodeMs + 150;
      const held = await calmestMs(
        () =>
          loopHeldMs(async () => {
            err = await unaryBytes(app.port, '/orchestrator.v1.ChatService/Chat', bytes);
          }),
        bound,
      );
      expect(err && grpc.status[err.code]).toBe('INVALID_ARGUMENT');
      expect(err?.details.startsWith(`invalid request: ${field}: ${why}`)).toBe(true);
      expect(held).toBeLessThan(bound);
    },
  );

  it.each([
    ['stop sequences', { stop: stops }, 'stop', 'at most 4 sequences (got 1000000)'],
    ['tags', { metadata: tags }, 'metadata', 'at most 16 keys (got 200000)'],
  ])('HTTP: refuses a million %s by their count, holding the loop little longer than parsing them', async (_name, fields, field, why) => {
    const text = JSON.stringify({ model: 'alpha-chat', messages: [{ role: 'user', content: 'hi' }], ...fields });
    const parseMs = fastestMs(() => JSON.parse(text));
    let answer: { status: number; body: { error: { message: string } } } | undefined;
    const bound = 3 * parseMs + 150;
    const held = await calmestMs(
      () =>
        loopHeldMs(async () => {
          const res = await fetch(`${app.http!.url}/v1/chat/completions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: text,
          });
          answer = { status: res.status, body: (await res.json()) as { error: { message: string } } };
        }),
      bound,
    );
    expect(answer?.status).toBe(400);
    expect(answer?.body.error.message.startsWith(`invalid request: ${field}: ${why}`)).toBe(true);
    expect(held).toBeLessThan(bound);
  });
});

describe('the response cache', () => {
  it('keys on the sampling fields: a different stop is a different answer', async () => {
    const first = await chat({ prompt: 'cache me please', temperature: 0, sampling: sampled({ stop: ['zzz'] }) });
    const again = await chat({ prompt: 'cache me please', temperature: 0, sampling: sampled({ stop: ['zzz'] }) });
    const other = await chat({ prompt: 'cache me please', temperature: 0, sampling: sampled({ stop: ['yyy'] }) });
    expect(first.response.cache?.hit).toBe(false);
    expect(again.response.cache?.hit).toBe(true);
    expect(other.response.cache?.hit).toBe(false);
  });

  it('keys on every sampling field: each one changed alone is a different answer', async () => {
    const base = { topP: 0.5, seed: 7, presencePenalty: 0.1, frequencyPenalty: 0.2, user: 'u-1' };
    const ask = (fields: Partial<SamplingOptions>) =>
      chat({ prompt: 'each field keys the cache', temperature: 0, sampling: sampled({ ...base, ...fields }) });
    await ask({});
    expect((await ask({})).response.cache?.hit).toBe(true);
    for (const changed of [{ topP: 0.6 }, { seed: 8 }, { presencePenalty: 0.3 }, { frequencyPenalty: 0.4 }, { user: 'u-2' }]) {
      expect({ changed, hit: (await ask(changed)).response.cache?.hit }).toEqual({ changed, hit: false });
    }
  });
});

describe('request tags', () => {
  it('ride on the call log line, not upstream', async () => {
    const before = callLines().length;
    const { response } = await chat({ prompt: 'tag me', metadata: { tags: { team: 'search', feature: 'autocomplete' } } });
    await new Promise((r) => setTimeout(r, 20));
    const line = callLines()
      .slice(before)
      .find((l) => l.requestId === response.requestId);
    expect(line?.tags).toEqual({ team: 'search', feature: 'autocomplete' });
    expect(lastBody(openai)).not.toHaveProperty('metadata');
  });

  it("merge a Batch's items into one set of at most 16 tags on its log line, whatever the items carry", async () => {
    const before = callLines().length;
    const items = Array.from({ length: 100 }, (_, i) => ({
      requestId: `tagged-${i}`,
      request: {
        model: 'alpha-chat',
        prompt: 'tag me',
        messages: [],
        metadata: { tags: Object.fromEntries(Array.from({ length: 16 }, (_, k) => [`item${i}-${k}`, 'v'.repeat(512)])) },
      },
    }));
    const { error } = await collectStream(clients.chat.batch({ items, concurrency: 1 }));
    expect(error).toBeUndefined();
    await new Promise((r) => setTimeout(r, 20));
    const line = callLines()
      .slice(before)
      .find((l) => String(l.method).endsWith('/Batch'));
    const tags = line?.tags as Record<string, string> | undefined;
    expect(Object.keys(tags ?? {})).toHaveLength(16);
    // The first item's tags: those a Batch's line keeps when its items name more than 16.
    expect(tags?.['item0-0']).toBe('v'.repeat(512));
  });
});

describe('the HTTP API', () => {
  const post = (body: unknown) =>
    fetch(`${app.http!.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it('maps the OpenAI sampling fields and metadata through', async () => {
    const before = callLines().length;
    const res = await post({
      model: 'alpha-chat',
      messages: [{ role: 'user', content: 'Explain the water cycle' }],
      top_p: 0.4,
      stop: 'NEVER-THERE',
      seed: 3,
      presence_penalty: 1,
      frequency_penalty: 0.5,
      user: 'u-9',
      metadata: { team: 'billing' },
    });
    expect(res.status).toBe(200);
    expect(lastBody(openai)).toMatchObject({
      top_p: 0.4,
      stop: ['NEVER-THERE'],
      seed: 3,
      presence_penalty: 1,
      frequency_penalty: 0.5,
      user: 'u-9',
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(
      callLines()
        .slice(before)
        .map((l) => l.tags),
    ).toContainEqual({ team: 'billing' });
  });

  it('refuses out-of-range values with 400 naming the field', async () => {
    const res = await post({ model: 'alpha-chat', messages: [{ role: 'user', content: 'hi' }], top_p: 2, stop: ['a', 'b', 'c', 'd', 'e'] });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { message: string } };
    expect(body.error.message).toContain('top_p');
  });

  it('gives the Anthropic refusal as a 400 naming the field as the OpenAI request spells it', async () => {
    const res = await post({
      model: 'beta-claude',
      messages: [{ role: 'user', content: 'hi' }],
      frequency_penalty: 1,
      stop: ['END', '\n'],
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { message: string; param: string; field_violations: { field: string }[] } };
    expect(body.error.message).toContain('frequency_penalty');
    expect(body.error.param).toBe('frequency_penalty');
    expect(body.error.field_violations.map((v) => v.field)).toEqual(['frequency_penalty', 'stop[1]']);
  });

  it('names a lone stop string as stop, the field the request sent, not stop[0]', async () => {
    const res = await post({ model: 'beta-claude', messages: [{ role: 'user', content: 'hi' }], stop: '\n' });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { message: string; param: string; field_violations: { field: string }[] } };
    expect(body.error.param).toBe('stop');
    expect(body.error.message).toMatch(/^invalid request: stop: provider beta/);
    expect(body.error.field_violations.map((v) => v.field)).toEqual(['stop']);
  });
});
