import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AttemptOutcome, StreamStrategy } from '../../src/gen/orchestrator/v1/common.js';
import { callUnary, collectStream, streamRequest, unaryError } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';

let h: Harness;
beforeAll(async () => {
  // Real latency profiles: gpt-4o-mini answers well before gpt-4o and gpt-4-turbo.
  h = await startHarness({ latencyScale: 1 });
});
afterAll(async () => h.close());
beforeEach(() => h.upstream.clearFaults());

const race = () => h.clients.chat.race.bind(h.clients.chat);
const fallback = () => h.clients.chat.fallback.bind(h.clients.chat);

describe('an empty models list', () => {
  // Its own server: failing every model here would open breakers the other tests need closed.
  let own: Harness;
  beforeAll(async () => {
    own = await startHarness();
  });
  afterAll(async () => own.close());

  // gpt-4-turbo (family gpt-4) falls back to gpt-4o-mini and gpt-3.5-turbo: other families.
  it('is the model followed by its catalog fallbacks (ModelInfo.fallbacks), for Race, Fallback and StreamChat', async () => {
    const { response: listed } = await callUnary(own.clients.models.listModels.bind(own.clients.models), {
      provider: '',
      availableOnly: false,
    });
    const primary = listed.models.find((m) => m.id === 'gpt-4-turbo');
    const chain = ['gpt-4-turbo', ...(primary?.fallbacks ?? [])];
    expect(chain).toEqual(['gpt-4-turbo', 'gpt-4o-mini', 'gpt-3.5-turbo']);
    expect(new Set(listed.models.filter((m) => chain.includes(m.id)).map((m) => m.family)).size).toBe(3);
    own.upstream.injectFault({ kind: 'http_error', status: 500 });
    const raced = await unaryError(own.clients.chat.race.bind(own.clients.chat), {
      model: 'gpt-4-turbo',
      prompt: 'hi',
      messages: [],
      models: [],
    });
    const chained = await unaryError(own.clients.chat.fallback.bind(own.clients.chat), {
      model: 'gpt-4-turbo',
      prompt: 'hi',
      messages: [],
      models: [],
      disableDefaultMessage: true,
    });
    const streamed = await collectStream(
      own.clients.chat.streamChat(streamRequest({ model: 'gpt-4-turbo', prompt: 'hi', strategy: StreamStrategy.STREAM_STRATEGY_FALLBACK })),
    );
    for (const metadata of [
      raced.decoded.errorInfo?.metadata,
      chained.decoded.errorInfo?.metadata,
      streamed.error?.decoded.errorInfo?.metadata,
    ]) {
      expect(metadata?.attempts?.split(',').map((a) => a.split(':')[0])).toEqual(chain);
    }
  });
});

describe('Race', () => {
  it('returns the fastest model and closes the losers upstream', async () => {
    const before = h.upstream.requests.length;
    const { response } = await callUnary(race(), { model: '', prompt: 'hi', messages: [], models: ['gpt-4-turbo', 'gpt-4o-mini'] });
    expect(response.model).toBe('gpt-4o-mini');
    expect(response.attempts.map((a) => [a.model, a.outcome])).toEqual([
      ['gpt-4-turbo', AttemptOutcome.ATTEMPT_OUTCOME_CANCELLED],
      ['gpt-4o-mini', AttemptOutcome.ATTEMPT_OUTCOME_SUCCESS],
    ]);
    await h.upstream.waitForIdle(2_000);
    const loser = h.upstream.requests.slice(before).find((r) => r.model === 'gpt-4-turbo');
    expect(loser?.outcome).toBe('client_closed');
  });

  it('lets a slower model win when the fastest fails', async () => {
    h.upstream.injectFault({ kind: 'http_error', status: 503, model: 'gpt-4o-mini' });
    const { response } = await callUnary(race(), { model: '', prompt: 'hi', messages: [], models: ['gpt-4o-mini', 'gpt-4o'] });
    expect(response.model).toBe('gpt-4o');
    expect(response.attempts[0]).toMatchObject({
      model: 'gpt-4o-mini',
      outcome: AttemptOutcome.ATTEMPT_OUTCOME_FAILURE,
      reason: 'UPSTREAM_ERROR',
    });
  });

  it('names every failure when all racers fail', async () => {
    h.upstream.injectFault({ kind: 'http_error', status: 500 });
    const err = await unaryError(race(), { model: '', prompt: 'hi', messages: [], models: ['gpt-4o', 'gpt-4o-mini'] });
    expect(err.code).toBe(grpc.status.UNAVAILABLE);
    expect(err.decoded.errorInfo?.reason).toBe('ALL_ATTEMPTS_FAILED');
    expect(err.details).toContain('gpt-4o:');
    expect(err.details).toContain('gpt-4o-mini:');
    expect(err.decoded.errorInfo?.metadata?.attempts).toContain('gpt-4o-mini');
  });

  it('lists the racers that started in attempts: one that hedging never started is not there, nor called', async () => {
    const before = h.upstream.requests.length;
    const { response } = await callUnary(race(), {
      model: '',
      prompt: 'hi',
      messages: [],
      models: ['gpt-4o-mini', 'gpt-4o'],
      hedgeDelayMs: 20_000,
    });
    expect(response.model).toBe('gpt-4o-mini');
    expect(response.attempts.map((a) => [a.model, a.outcome])).toEqual([['gpt-4o-mini', AttemptOutcome.ATTEMPT_OUTCOME_SUCCESS]]);
    expect(h.upstream.requests.slice(before).map((r) => r.model)).toEqual(['gpt-4o-mini']);
  });

  it('rejects duplicate and unknown racers', async () => {
    const dup = await unaryError(race(), { model: '', prompt: 'hi', messages: [], models: ['gpt-4o', 'GPT-4O'] });
    expect(dup.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(dup.decoded.badRequest?.fieldViolations[0]?.field).toBe('models[1]');
    const unknown = await unaryError(race(), { model: '', prompt: 'hi', messages: [], models: ['gpt-4o', 'nope'] });
    expect(unknown.code).toBe(grpc.status.NOT_FOUND);
    expect(unknown.decoded.errorInfo?.metadata).toMatchObject({ field: 'models[1]', model: 'nope' });
  });
});

describe('Fallback', () => {
  it('answers from the primary when it works', async () => {
    const { response } = await callUnary(fallback(), {
      model: 'gpt-4o-mini',
      prompt: 'hi',
      messages: [],
      models: [],
      disableDefaultMessage: false,
    });
    expect(response).toMatchObject({
      model: 'gpt-4o-mini',
      modelUsed: 'gpt-4o-mini',
      providerUsed: 'openai',
      fallbackTriggered: false,
      isDefaultMessage: false,
    });
  });

  it("falls back along the primary's catalog fallbacks when it fails", async () => {
    h.upstream.injectFault({ kind: 'http_error', status: 502, model: 'gpt-4-turbo' });
    const { response } = await callUnary(fallback(), {
      model: 'gpt-4-turbo',
      prompt: 'hi',
      messages: [],
      models: [],
      disableDefaultMessage: false,
    });
    expect(response).toMatchObject({ modelUsed: 'gpt-4o-mini', fallbackTriggered: true, isDefaultMessage: false });
    expect(response.content.length).toBeGreaterThan(0);
    expect(response.attempts.map((a) => a.model)).toEqual(['gpt-4-turbo', 'gpt-4o-mini']);
  });

  // OpenRouter answers 402 when the account's credits run out: the gateway's account, not the request, is at fault.
  it("falls back when the primary's provider answers 402 payment required", async () => {
    h.upstream.injectFault({ kind: 'http_error', status: 402, model: 'gpt-4-turbo' });
    const { response } = await callUnary(fallback(), {
      model: 'gpt-4-turbo',
      prompt: 'hi',
      messages: [],
      models: [],
      disableDefaultMessage: true,
    });
    expect(response).toMatchObject({ modelUsed: 'gpt-4o-mini', fallbackTriggered: true, isDefaultMessage: false });
    expect(response.attempts.map((a) => [a.model, a.reason])).toEqual([
      ['gpt-4-turbo', 'UPSTREAM_AUTH_FAILED'],
      ['gpt-4o-mini', ''],
    ]);
  });

  it('moves past a hanging model within its attempt timeout', async () => {
    h.upstream.injectFault({ kind: 'hang', model: 'gpt-4o' });
    const before = h.upstream.requests.length;
    const { response } = await callUnary(fallback(), {
      model: '',
      prompt: 'hi',
      messages: [],
      models: ['gpt-4o', 'gpt-4o-mini'],
      attemptTimeoutMs: 1_000,
      disableDefaultMessage: false,
    });
    expect(response.modelUsed).toBe('gpt-4o-mini');
    expect(response.attempts[0]).toMatchObject({
      model: 'gpt-4o',
      outcome: AttemptOutcome.ATTEMPT_OUTCOME_TIMEOUT,
      reason: 'UPSTREAM_TIMEOUT',
    });
    await h.upstream.waitForIdle(2_000);
    expect(h.upstream.requests.slice(before).find((r) => r.model === 'gpt-4o')?.outcome).toBe('client_closed');
  });

  it('serves the default message when the whole chain fails', async () => {
    h.upstream.injectFault({ kind: 'http_error', status: 500 });
    const { response } = await callUnary(fallback(), {
      model: 'gpt-4-turbo',
      prompt: 'hi',
      messages: [],
      models: [],
      disableDefaultMessage: false,
    });
    expect(response.isDefaultMessage).toBe(true);
    expect(response.fallbackTriggered).toBe(true);
    expect(response.content).toMatch(/try again/);
    expect(response.modelUsed).toBe('');
    expect(response.attempts.map((a) => a.model)).toEqual(['gpt-4-turbo', 'gpt-4o-mini', 'gpt-3.5-turbo']);
    const custom = await callUnary(fallback(), {
      model: 'gpt-4o-mini',
      prompt: 'hi',
      messages: [],
      models: [],
      defaultMessage: 'custom sorry',
      disableDefaultMessage: false,
    });
    expect(custom.response.content).toBe('custom sorry');
  });

  it('fails with every attempt listed when the default message is disabled', async () => {
    h.upstream.injectFault({ kind: 'http_error', status: 500 });
    const err = await unaryError(fallback(), { model: 'gpt-4o', prompt: 'hi', messages: [], models: [], disableDefaultMessage: true });
    expect(err.code).toBe(grpc.status.UNAVAILABLE);
    expect(err.decoded.errorInfo?.reason).toBe('ALL_ATTEMPTS_FAILED');
    expect(err.decoded.errorInfo?.metadata?.attempts).toMatch(/gpt-4o.*gpt-4o-mini.*gpt-3.5-turbo/);
    // The last attempt's own reason stays visible behind ALL_ATTEMPTS_FAILED.
    expect(err.decoded.errorInfo?.metadata).toMatchObject({ last_attempt_reason: 'UPSTREAM_ERROR', last_attempt_model: 'gpt-3.5-turbo' });
  });
});

describe("a fallback link cut by the caller's own time limit", () => {
  // One counted failure opens a breaker here, so a single cut link would show.
  let own: Harness;
  beforeAll(async () => {
    own = await startHarness({ env: { BREAKER_CONSECUTIVE_FAILURES: '1', BREAKER_HALF_OPEN_AFTER_MS: '60000' } });
  });
  afterAll(async () => own.close());

  it("does not count against the model's breaker: another caller's Chat still reaches it", async () => {
    own.upstream.injectFault({ kind: 'delay', delayMs: 600, model: 'gpt-4o', times: 2 });
    const ownFallback = own.clients.chat.fallback.bind(own.clients.chat);
    // attempt_timeout_ms, then a share of the deadline: both the caller's choice, not the model's health.
    const fixed = await callUnary(ownFallback, {
      model: '',
      prompt: 'hi',
      messages: [],
      models: ['gpt-4o', 'gpt-4o-mini'],
      attemptTimeoutMs: 100,
      disableDefaultMessage: true,
    });
    expect(fixed.response.attempts[0]).toMatchObject({ model: 'gpt-4o', reason: 'UPSTREAM_TIMEOUT' });
    const shared = await callUnary(
      ownFallback,
      { model: '', prompt: 'hi', messages: [], models: ['gpt-4o', 'gpt-4o-mini'], disableDefaultMessage: true },
      { deadlineMs: 400 },
    );
    expect(shared.response.attempts[0]).toMatchObject({ model: 'gpt-4o', reason: 'UPSTREAM_TIMEOUT' });
    const { response } = await callUnary(own.clients.chat.chat.bind(own.clients.chat), { model: 'gpt-4o', prompt: 'hi', messages: [] });
    expect(response.model).toBe('gpt-4o');
  });
});
