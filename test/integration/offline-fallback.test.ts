import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CacheMode, ResponseFormatType } from '../../src/gen/orchestrator/v1/chat.js';
import { RoutingProfile } from '../../src/gen/orchestrator/v1/common.js';
import type { StreamChatResponse } from '../../src/gen/orchestrator/v1/chat.js';
import { callUnary, collectStream, streamRequest, unaryError } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('CACHE_OFFLINE_FALLBACK=on', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { CACHE_TTL_SECONDS: '1', CACHE_OFFLINE_FALLBACK: 'on' } });
  });
  afterAll(async () => h.close());
  beforeEach(() => h.upstream.clearFaults());
  const chat = () => h.clients.chat.chat.bind(h.clients.chat);

  it('serves an expired answer, marked stale, when the upstream fails, without the request asking', async () => {
    const request = { model: 'gpt-4o-mini', prompt: 'offline by policy', messages: [], temperature: 0 };
    const fresh = await callUnary(chat(), request);
    expect(fresh.response.cache).toMatchObject({ hit: false });
    await sleep(1_100);
    h.upstream.injectFault({ kind: 'http_error', status: 503, model: 'gpt-4o-mini' });
    const offline = await callUnary(chat(), request);
    expect(offline.response.cache).toMatchObject({ hit: true, stale: true });
    expect(offline.response.content).toBe(fresh.response.content);
    expect(offline.response.attempts.length).toBeGreaterThan(0);
    expect(offline.response.attempts[0]?.reason).toBe('UPSTREAM_ERROR');
  });

  it('lets a request refuse the stale answer and get the upstream error', async () => {
    const request = { model: 'gpt-4o-mini', prompt: 'offline refused', messages: [], temperature: 0 };
    await callUnary(chat(), request);
    await sleep(1_100);
    h.upstream.injectFault({ kind: 'http_error', status: 503, model: 'gpt-4o-mini' });
    const refused = await unaryError(chat(), {
      ...request,
      cache: { mode: CacheMode.CACHE_MODE_UNSPECIFIED, allowStale: false, refuseStale: true },
    });
    expect(refused.code).toBe(grpc.status.UNAVAILABLE);
  });

  it('answers a Race whose racers all fail upstream with the last winner, marked stale; refuse_stale gets the error', async () => {
    const race = h.clients.chat.race.bind(h.clients.chat);
    const request = { model: '', prompt: 'race offline', messages: [], temperature: 0, models: ['gpt-4o', 'gpt-4o-mini'] };
    const won = await callUnary(race, request);
    expect(won.response.cache).toBeUndefined();
    h.upstream.injectFault({ kind: 'http_error', status: 500 });
    const offline = await callUnary(race, request);
    expect(offline.response.cache).toMatchObject({ hit: true, stale: true });
    expect(offline.response.content).toBe(won.response.content);
    expect(offline.response.model).toBe(won.response.model);
    expect(offline.response.attempts.every((a) => a.reason === 'UPSTREAM_ERROR')).toBe(true);
    const refused = await unaryError(race, { ...request, refuseStale: true });
    expect(refused.code).toBe(grpc.status.UNAVAILABLE);
  });

  it('answers a Fallback whose chain all fails upstream with a cached answer rather than the default message', async () => {
    const fallback = h.clients.chat.fallback.bind(h.clients.chat);
    const request = {
      model: '',
      prompt: 'fallback offline',
      messages: [],
      temperature: 0,
      models: ['gpt-4o', 'gpt-4o-mini'],
      disableDefaultMessage: false,
    };
    const answered = await callUnary(fallback, request);
    expect(answered.response.isDefaultMessage).toBe(false);
    h.upstream.injectFault({ kind: 'http_error', status: 500 });
    const offline = await callUnary(fallback, request);
    expect(offline.response.isDefaultMessage).toBe(false);
    expect(offline.response.cache).toMatchObject({ hit: true, stale: true });
    expect(offline.response.content).toBe(answered.response.content);
    const refused = await callUnary(fallback, { ...request, refuseStale: true });
    expect(refused.response.isDefaultMessage).toBe(true);
    expect(refused.response.cache).toBeUndefined();
  });

  it('stores no sampled Race or Fallback answer, so none answers for them when every model fails', async () => {
    const race = h.clients.chat.race.bind(h.clients.chat);
    const fallback = h.clients.chat.fallback.bind(h.clients.chat);
    const request = { model: '', prompt: 'sampled offline', messages: [], temperature: 0.7, models: ['gpt-4.1', 'gpt-4.1-nano'] };
    await callUnary(race, request);
    await callUnary(fallback, { ...request, disableDefaultMessage: true });
    h.upstream.injectFault({ kind: 'http_error', status: 500 });
    expect((await unaryError(race, request)).code).toBe(grpc.status.UNAVAILABLE);
    expect((await unaryError(fallback, { ...request, disableDefaultMessage: true })).code).toBe(grpc.status.UNAVAILABLE);
  });

  it('does not store the expired answer a Fallback served as fresh: once the model is back, it answers afresh', async () => {
    const fallback = h.clients.chat.fallback.bind(h.clients.chat);
    // A model no other test here fails, so its breaker is closed.
    const request = { model: '', prompt: 'stale not refreshed', messages: [], temperature: 0, models: ['gpt-3.5-turbo'] };
    await callUnary(fallback, { ...request, disableDefaultMessage: false });
    await sleep(1_100);
    h.upstream.injectFault({ kind: 'http_error', status: 500 });
    const offline = await callUnary(fallback, { ...request, disableDefaultMessage: false });
    expect(offline.response.cache).toMatchObject({ hit: true, stale: true });
    h.upstream.clearFaults();
    const back = await callUnary(chat(), { model: 'gpt-3.5-turbo', prompt: request.prompt, messages: [], temperature: 0 });
    expect(back.response.cache).toMatchObject({ hit: false });
  });

  it('counts a Fallback answered with a cached answer as fallen back, not as served the default message', async () => {
    const fallback = h.clients.chat.fallback.bind(h.clients.chat);
    const stats = async () => (await callUnary(h.clients.stats.getStats.bind(h.clients.stats), {})).response;
    const request = {
      model: '',
      prompt: 'fallback offline counted',
      messages: [],
      temperature: 0,
      models: ['gpt-4o', 'gpt-4o-mini'],
      disableDefaultMessage: false,
    };
    await callUnary(fallback, request);
    h.upstream.injectFault({ kind: 'http_error', status: 500 });
    const metric = async () => {
      const text = await (await fetch(h.app.metricsServer?.url ?? '')).text();
      return Number(/^llm_orchestrator_fallback_calls_total\{result="default_message"\} (\d+)/m.exec(text)?.[1] ?? 0);
    };
    const before = await stats();
    const metricBefore = await metric();
    const offline = await callUnary(fallback, request);
    expect(offline.response).toMatchObject({ isDefaultMessage: false, fallbackTriggered: true, cache: { stale: true } });
    const afterStale = await stats();
    expect(afterStale.defaultMessagesServed - before.defaultMessagesServed).toBe(0);
    expect(afterStale.fallbacksTriggered - before.fallbacksTriggered).toBe(1);
    expect(afterStale.cacheStaleServed - before.cacheStaleServed).toBe(1);
    expect((await metric()) - metricBefore).toBe(0);

    const refused = await callUnary(fallback, { ...request, refuseStale: true });
    expect(refused.response.isDefaultMessage).toBe(true);
    expect((await stats()).defaultMessagesServed - afterStale.defaultMessagesServed).toBe(1);
  });

  it('charges a Fallback served a cached answer for its failed attempts, with or without the default message', async () => {
    const fallback = h.clients.chat.fallback.bind(h.clients.chat);
    const request = {
      model: '',
      prompt: 'fallback offline cost',
      messages: [],
      temperature: 0,
      models: ['gpt-4o', 'gpt-4o-mini'],
      disableDefaultMessage: true,
    };
    await callUnary(fallback, request);
    // Attempts cut by their time budget are charged for their prompts (an estimate).
    h.upstream.injectFault({ kind: 'hang' });
    for (const disableDefaultMessage of [true, false]) {
      const { response } = await callUnary(fallback, { ...request, attemptTimeoutMs: 150, disableDefaultMessage });
      expect(response.cache).toMatchObject({ hit: true, stale: true });
      const charged = response.attempts.reduce((usd, a) => usd + a.costUsd, 0);
      expect(charged).toBeGreaterThan(0);
      expect(response.costUsd).toBeCloseTo(charged, 12);
    }
  });

  it('replays a cached answer as a StreamChat, marked stale in started, when every model fails before its first token', async () => {
    const request = { model: 'gpt-4o', prompt: 'stream offline', messages: [], temperature: 0 };
    const fresh = await callUnary(chat(), request);
    h.upstream.injectFault({ kind: 'http_error', status: 500 });
    const stream = () => h.clients.chat.streamChat(streamRequest({ ...request }));
    const { messages, error } = await collectStream<StreamChatResponse>(stream());
    expect(error).toBeUndefined();
    const started = messages[0]?.event;
    expect(started?.$case).toBe('started');
    if (started?.$case === 'started') expect(started.started.cache).toMatchObject({ hit: true, stale: true });
    const text = messages.map((m) => (m.event?.$case === 'delta' ? m.event.delta.content : '')).join('');
    expect(text).toBe(fresh.response.content);
    const last = messages.at(-1)?.event;
    expect(last?.$case).toBe('completed');
    if (last?.$case === 'completed') expect(last.completed.attempts.length).toBeGreaterThan(0);

    const refused = await collectStream<StreamChatResponse>(h.clients.chat.streamChat(streamRequest({ ...request, refuseStale: true })));
    expect(refused.error?.code).toBe(grpc.status.UNAVAILABLE);
    expect(refused.messages).toHaveLength(0);
  });

  it('answers no routed call from the cache, streamed as unary: the route picks its model, no entry stands for it', async () => {
    const request = { model: 'gpt-4.1-mini', prompt: 'routed offline', messages: [], temperature: 0 };
    const fresh = await callUnary(chat(), request);
    expect(fresh.response.cache).toMatchObject({ hit: false });
    await sleep(1_100);
    h.upstream.injectFault({ kind: 'http_error', status: 500 });
    const route = { profile: RoutingProfile.ROUTING_PROFILE_SPEED, candidates: ['gpt-4.1-mini'] };
    const unary = await unaryError(chat(), { ...request, model: '', route });
    expect(unary.code).toBe(grpc.status.UNAVAILABLE);
    const streamed = await collectStream<StreamChatResponse>(h.clients.chat.streamChat(streamRequest({ ...request, model: '', route })));
    expect(streamed.error?.code).toBe(grpc.status.UNAVAILABLE);
    expect(streamed.messages).toHaveLength(0);
    // The model named alone is answered from its entry, as above.
    expect((await callUnary(chat(), request)).response.cache).toMatchObject({ hit: true, stale: true });
  });

  it('replays a cached answer with characters outside the BMP intact, wherever the replay splits its text', async () => {
    // The simulator answers a JSON Schema with its const: an emoji across the replay's 256-unit boundary.
    const note = `${'a'.repeat(246)}😀 and ✓ done`;
    const responseFormat = {
      type: ResponseFormatType.RESPONSE_FORMAT_TYPE_JSON_SCHEMA,
      jsonSchema: { name: 'note', description: '', schema: { type: 'object', properties: { note: { const: note } } }, strict: false },
    };
    const request = { model: 'gpt-4o', prompt: 'stream offline emoji', messages: [], temperature: 0, responseFormat };
    const fresh = await callUnary(chat(), request);
    expect(fresh.response.content).toBe(JSON.stringify({ note }));
    h.upstream.injectFault({ kind: 'http_error', status: 500 });
    const { messages, error } = await collectStream<StreamChatResponse>(h.clients.chat.streamChat(streamRequest({ ...request })));
    expect(error).toBeUndefined();
    const text = messages.map((m) => (m.event?.$case === 'delta' ? m.event.delta.content : '')).join('');
    expect(text).toBe(fresh.response.content);
  });

  it('marks a stale answer of one model as no fallback, streamed or not, on the HTTP API and in the ledger', async () => {
    const body = { model: 'gpt-4.1-mini', temperature: 0, messages: [{ role: 'user', content: 'stale either way' }] };
    const post = (extra: Record<string, unknown>, id: string) =>
      fetch(`${h.app.http!.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': id },
        body: JSON.stringify({ ...body, ...extra }),
      });
    expect((await post({}, 'fresh')).status).toBe(200);
    await sleep(1_100);
    h.upstream.injectFault({ kind: 'http_error', status: 500, model: 'gpt-4.1-mini' });
    type Extra = { x_orchestrator?: { fallback_triggered?: boolean; cache?: { stale?: boolean } | null } };
    const unary = (await (await post({}, 'stale-unary')).json()) as Extra;
    const chunks = (await (await post({ stream: true }, 'stale-stream')).text())
      .split('\n')
      .filter((l) => l.startsWith('data: {'))
      .map((l) => JSON.parse(l.slice(6)) as Extra);
    const streamed = chunks.findLast((c) => c.x_orchestrator?.fallback_triggered !== undefined);
    expect([unary.x_orchestrator?.cache?.stale, streamed?.x_orchestrator?.cache?.stale]).toEqual([true, true]);
    expect([unary.x_orchestrator?.fallback_triggered, streamed?.x_orchestrator?.fallback_triggered]).toEqual([false, false]);
    await h.app.ledger.store?.flush();
    const rows = await h.app.ledger
      .database()
      ?.db.selectFrom('ledger_calls')
      .select(['request_id', 'cache_stale', 'fallback_triggered'])
      .where('request_id', 'in', ['stale-unary', 'stale-stream'])
      .orderBy('request_id')
      .execute();
    expect(rows).toEqual([
      { request_id: 'stale-stream', cache_stale: 1, fallback_triggered: 0 },
      { request_id: 'stale-unary', cache_stale: 1, fallback_triggered: 0 },
    ]);
  });

  it('gives the error when nothing was ever cached for the request', async () => {
    h.upstream.injectFault({ kind: 'http_error', status: 503, model: 'gpt-4o-mini' });
    const err = await unaryError(chat(), { model: 'gpt-4o-mini', prompt: 'never answered', messages: [], temperature: 0 });
    expect(err.code).toBe(grpc.status.UNAVAILABLE);
  });
});

describe('CACHE_OFFLINE_FALLBACK off (the default)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { CACHE_TTL_SECONDS: '1' } });
  });
  afterAll(async () => h.close());

  it('serves no stale answer unless the request allows it', async () => {
    const request = { model: 'gpt-4o-mini', prompt: 'offline off', messages: [], temperature: 0 };
    await callUnary(chat(h), request);
    await sleep(1_100);
    h.upstream.injectFault({ kind: 'http_error', status: 503, model: 'gpt-4o-mini' });
    const err = await unaryError(chat(h), request);
    expect(err.code).toBe(grpc.status.UNAVAILABLE);
  });
});

function chat(h: Harness) {
  return h.clients.chat.chat.bind(h.clients.chat);
}

describe('an entry still fresh, served because every attempt failed', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  it('is marked stale, as every answer served in place of an upstream failure is, not as a hit that made no call', async () => {
    const request = { model: 'gpt-4o-mini', prompt: 'bypassed, then down', messages: [], temperature: 0 };
    const fresh = await callUnary(chat(h), request);
    expect(fresh.response.cache).toMatchObject({ hit: false });
    h.upstream.injectFault({ kind: 'http_error', status: 503, model: 'gpt-4o-mini' });
    const before = (await callUnary(h.clients.stats.getStats.bind(h.clients.stats), {})).response;
    const served = await callUnary(chat(h), { ...request, cache: { mode: CacheMode.CACHE_MODE_BYPASS, allowStale: true } });
    expect(served.response.content).toBe(fresh.response.content);
    expect(served.response.attempts.length).toBeGreaterThan(0);
    expect(served.response.cache).toMatchObject({ hit: true, stale: true });
    const after = (await callUnary(h.clients.stats.getStats.bind(h.clients.stats), {})).response;
    expect([after.cacheHits - before.cacheHits, after.cacheStaleServed - before.cacheStaleServed]).toEqual([0, 1]);
  });
});
