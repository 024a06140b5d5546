import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { StreamChatResponse } from '../../src/gen/orchestrator/v1/chat.js';
import { AttemptOutcome, CircuitState, StreamStrategy } from '../../src/gen/orchestrator/v1/common.js';
import { callUnary, collectStream, streamRequest, unaryError } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';

describe('retries over the wire', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      env: { RETRY_MAX_ATTEMPTS: '3', RETRY_BUDGET_MAX_TOKENS: '6', BREAKER_CONSECUTIVE_FAILURES: '1000', BREAKER_FAILURE_RATE: '1' },
    });
  });
  afterAll(async () => h.close());
  beforeEach(() => h.upstream.clearFaults());

  it('waits for Retry-After before retrying a 429, then answers', async () => {
    h.upstream.injectFault({ kind: 'rate_limit', retryAfter: '1', times: 1 });
    const started = Date.now();
    const { response } = await callUnary(
      h.clients.chat.chat.bind(h.clients.chat),
      { model: 'gpt-4o', prompt: 'patience', messages: [] },
      { deadlineMs: 5_000 },
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    expect(response.attempts.map((a) => [a.outcome, a.reason, a.retry])).toEqual([
      [AttemptOutcome.ATTEMPT_OUTCOME_FAILURE, 'UPSTREAM_RATE_LIMITED', 0],
      [AttemptOutcome.ATTEMPT_OUTCOME_SUCCESS, '', 1],
    ]);
    expect(response.attempts[1]?.backoffMs).toBeGreaterThanOrEqual(1_000);
  });

  it('does not sleep past the deadline: fails at once with RetryInfo', async () => {
    h.upstream.injectFault({ kind: 'rate_limit', retryAfter: '2', times: 1 });
    const started = Date.now();
    const err = await unaryError(
      h.clients.chat.chat.bind(h.clients.chat),
      { model: 'gpt-4o', prompt: 'hurry', messages: [] },
      { deadlineMs: 1_000 },
    );
    // Well under the 1 s a sleep to the deadline would take, with room for a loaded machine.
    expect(Date.now() - started).toBeLessThan(850);
    expect(err.code).toBe(grpc.status.UNAVAILABLE);
    expect(err.decoded.retryInfo?.retryDelay?.seconds).toBe(2);
  });

  it('reads a Retry-After given as an HTTP date: too far for the deadline, it fails at once with RetryInfo', async () => {
    const in30s = new Date(Date.now() + 30_000).toUTCString();
    h.upstream.injectFault({ kind: 'rate_limit', retryAfter: in30s, model: 'gpt-4o', times: 1 });
    const before = h.upstream.requests.length;
    const started = Date.now();
    const err = await unaryError(
      h.clients.chat.chat.bind(h.clients.chat),
      { model: 'gpt-4o', prompt: 'a date', messages: [] },
      { deadlineMs: 5_000 },
    );
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(err.code).toBe(grpc.status.UNAVAILABLE);
    expect(err.decoded.errorInfo?.reason).toBe('UPSTREAM_RATE_LIMITED');
    // The date has whole seconds: 29 to 30 s left when it was read.
    const seconds = Number(err.decoded.retryInfo?.retryDelay?.seconds);
    expect(seconds).toBeGreaterThanOrEqual(27);
    expect(seconds).toBeLessThanOrEqual(30);
    expect(h.upstream.requests.length - before).toBe(1);
  });

  it('answers an absurd Retry-After with RetryInfo at the longest wait a timer holds, and keeps serving', async () => {
    h.upstream.injectFault({ kind: 'rate_limit', retryAfter: '1e20', model: 'gpt-4o', times: 1 });
    const started = Date.now();
    const err = await unaryError(
      h.clients.chat.chat.bind(h.clients.chat),
      { model: 'gpt-4o', prompt: 'forever', messages: [] },
      { deadlineMs: 5_000 },
    );
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(err.code).toBe(grpc.status.UNAVAILABLE);
    expect(err.decoded.errorInfo?.reason).toBe('UPSTREAM_RATE_LIMITED');
    // 2^31 - 1 ms, about 24.8 days.
    expect(Number(err.decoded.retryInfo?.retryDelay?.seconds)).toBe(2_147_483);
    // Longer than a call should wait: retry policies stop rather than sit it out.
    expect(err.metadata.get('grpc-retry-pushback-ms')).toEqual(['-1']);
    const { response } = await callUnary(h.clients.chat.chat.bind(h.clients.chat), { model: 'gpt-4o', prompt: 'still here', messages: [] });
    expect(response.model).toBe('gpt-4o');
  });

  it('stops a retry storm against a dead upstream (retry budget)', async () => {
    h.upstream.injectFault({ kind: 'http_error', status: 503 });
    const before = h.upstream.requests.length;
    for (let i = 0; i < 10; i++) {
      await unaryError(h.clients.chat.chat.bind(h.clients.chat), { model: 'gpt-4o-mini', prompt: `storm ${i}`, messages: [] });
    }
    const calls = h.upstream.requests.length - before;
    // 10 calls x 3 attempts would be 30; the budget (6 tokens, retry above 3) allows a few retries only.
    expect(calls).toBeLessThanOrEqual(13);
    expect(calls).toBeGreaterThanOrEqual(10);
    const { response } = await callUnary(h.clients.stats.getStats.bind(h.clients.stats), {});
    expect(response.retriesThrottled).toBeGreaterThan(0);
  });
});

describe('circuit breaker over the wire', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { BREAKER_CONSECUTIVE_FAILURES: '3', BREAKER_HALF_OPEN_AFTER_MS: '300', BREAKER_FAILURE_RATE: '1' } });
  });
  afterAll(async () => h.close());

  const breakerOf = async (model: string) => {
    const { response } = await callUnary(h.clients.models.listModels.bind(h.clients.models), { provider: '', availableOnly: false });
    return response.models.find((m) => m.id === model)?.breakerState;
  };

  it('opens, skips the model in Fallback, half-opens after the cool-down and closes on success', async () => {
    expect(await breakerOf('gpt-4o')).toBe(CircuitState.CIRCUIT_STATE_CLOSED);
    h.upstream.injectFault({ kind: 'http_error', status: 500, model: 'gpt-4o' });
    for (let i = 0; i < 3; i++) await unaryError(h.clients.chat.chat.bind(h.clients.chat), { model: 'gpt-4o', prompt: 'x', messages: [] });
    expect(await breakerOf('gpt-4o')).toBe(CircuitState.CIRCUIT_STATE_OPEN);

    const before = h.upstream.requests.length;
    const { response } = await callUnary(h.clients.chat.fallback.bind(h.clients.chat), {
      model: '',
      prompt: 'x',
      messages: [],
      models: ['gpt-4o', 'gpt-4o-mini'],
      disableDefaultMessage: true,
    });
    expect(response.modelUsed).toBe('gpt-4o-mini');
    expect(response.attempts[0]).toMatchObject({
      model: 'gpt-4o',
      outcome: AttemptOutcome.ATTEMPT_OUTCOME_SKIPPED,
      reason: 'CIRCUIT_OPEN',
    });
    expect(h.upstream.requests.slice(before).map((r) => r.model)).toEqual(['gpt-4o-mini']);

    const { response: stats } = await callUnary(h.clients.stats.getStats.bind(h.clients.stats), {});
    expect(stats.models.find((m) => m.name === 'gpt-4o')).toMatchObject({ skipped: 1, breakerState: CircuitState.CIRCUIT_STATE_OPEN });
    // A provider row sums the skips of its models.
    expect(stats.providers.find((p) => p.name === 'openai')?.skipped).toBe(1);

    h.upstream.clearFaults();
    await new Promise((r) => setTimeout(r, 350));
    const healed = await callUnary(h.clients.chat.chat.bind(h.clients.chat), { model: 'gpt-4o', prompt: 'probe', messages: [] });
    expect(healed.response.model).toBe('gpt-4o');
    expect(await breakerOf('gpt-4o')).toBe(CircuitState.CIRCUIT_STATE_CLOSED);
  });
});

describe('hedging and streaming strategies over the wire', () => {
  let h: Harness;
  beforeAll(async () => {
    // Real latency profiles: gpt-4o-mini's first token comes ~50 ms in, gpt-4-turbo's ~250 ms.
    h = await startHarness({ latencyScale: 1 });
  });
  afterAll(async () => h.close());
  beforeEach(() => h.upstream.clearFaults());

  it('starts the hedge only when the first model is late', async () => {
    const before = h.upstream.requests.length;
    const quick = await callUnary(h.clients.chat.race.bind(h.clients.chat), {
      model: '',
      prompt: 'hedge',
      messages: [],
      models: ['gpt-4o-mini', 'gpt-4-turbo'],
      hedgeDelayMs: 2_000,
    });
    expect(quick.response.model).toBe('gpt-4o-mini');
    expect(h.upstream.requests.slice(before).map((r) => r.model)).toEqual(['gpt-4o-mini']);

    h.upstream.injectFault({ kind: 'hang', model: 'gpt-4-turbo' });
    const started = Date.now();
    const hedged = await callUnary(h.clients.chat.race.bind(h.clients.chat), {
      model: '',
      prompt: 'hedge',
      messages: [],
      models: ['gpt-4-turbo', 'gpt-4o-mini'],
      hedgeDelayMs: 150,
    });
    expect(hedged.response.model).toBe('gpt-4o-mini');
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(hedged.response.attempts.map((a) => a.outcome)).toEqual([
      AttemptOutcome.ATTEMPT_OUTCOME_CANCELLED,
      AttemptOutcome.ATTEMPT_OUTCOME_SUCCESS,
    ]);
    await h.upstream.waitForIdle(2_000);
  });

  it('streams a race won by the first token and closes the loser', async () => {
    const before = h.upstream.requests.length;
    const { messages, error } = await collectStream(
      h.clients.chat.streamChat(
        streamRequest({ prompt: 'race me', strategy: StreamStrategy.STREAM_STRATEGY_RACE, models: ['gpt-4-turbo', 'gpt-4o-mini'] }),
      ),
    );
    expect(error).toBeUndefined();
    const first = messages[0]?.event;
    expect(first?.$case === 'started' && first.started.model).toBe('gpt-4o-mini');
    await h.upstream.waitForIdle(2_000);
    expect(h.upstream.requests.slice(before).find((r) => r.model === 'gpt-4-turbo')?.outcome).toBe('client_closed');
  });

  it('sends restarted and streams the next model from the start after a mid-stream cut', async () => {
    h.upstream.injectFault({ kind: 'cut', afterTokens: 4, model: 'gpt-4o' });
    const { messages, error } = await collectStream(
      h.clients.chat.streamChat(
        streamRequest({
          prompt: 'restart me',
          strategy: StreamStrategy.STREAM_STRATEGY_FALLBACK,
          models: ['gpt-4o', 'gpt-4o-mini'],
          restartOnFailure: true,
        }),
      ),
    );
    expect(error).toBeUndefined();
    const cases = messages.map((m: StreamChatResponse) => m.event?.$case);
    const restartAt = cases.indexOf('restarted');
    expect(cases.slice(0, restartAt)).toEqual(['started', 'delta', 'delta', 'delta', 'delta']);
    const restarted = messages[restartAt]?.event;
    expect(restarted?.$case === 'restarted' && restarted.restarted).toMatchObject({
      failedModel: 'gpt-4o',
      nextModel: 'gpt-4o-mini',
      reason: 'STREAM_TRUNCATED',
    });
    const completed = messages.at(-1)?.event;
    if (completed?.$case !== 'completed') throw new Error('no completed event');
    expect(completed.completed.model).toBe('gpt-4o-mini');
    expect(completed.completed.fallbackTriggered).toBe(true);
    // The cut attempt's usage is estimated from the four deltas it relayed; the winner's is reported.
    const [cut, won] = completed.completed.attempts;
    expect(cut).toMatchObject({ model: 'gpt-4o', usageEstimated: true });
    expect(cut?.usage?.completionTokens).toBeGreaterThan(0);
    expect(won).toMatchObject({ model: 'gpt-4o-mini', usageEstimated: false });
    const { response: stats } = await callUnary(h.clients.stats.getStats.bind(h.clients.stats), {});
    expect(stats.streamRestarts).toBe(1);
  });

  it('falls back before the first token invisibly', async () => {
    h.upstream.injectFault({ kind: 'http_error', status: 503, model: 'gpt-4o' });
    const { messages, error } = await collectStream(
      h.clients.chat.streamChat(
        streamRequest({ prompt: 'quietly', strategy: StreamStrategy.STREAM_STRATEGY_FALLBACK, models: ['gpt-4o', 'gpt-4o-mini'] }),
      ),
    );
    expect(error).toBeUndefined();
    expect(messages.map((m) => m.event?.$case).filter((c) => c !== 'delta')).toEqual(['started', 'completed']);
    const first = messages[0]?.event;
    expect(first?.$case === 'started' && first.started.model).toBe('gpt-4o-mini');
  });

  it('gives up on a silent model after the request first_token_timeout_ms and closes the upstream request', async () => {
    h.upstream.injectFault({ kind: 'hang', model: 'gpt-4o' });
    const before = h.upstream.requests.length;
    const started = Date.now();
    const { messages, error } = await collectStream(
      h.clients.chat.streamChat(streamRequest({ model: 'gpt-4o', prompt: 'anyone there', firstTokenTimeoutMs: 250 }), {
        deadline: Date.now() + 10_000,
      }),
    );
    // Well before the 10 s deadline (and the 30 s configured default).
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(messages).toEqual([]);
    expect(error?.code).toBe(grpc.status.UNAVAILABLE);
    expect(error?.decoded.errorInfo?.reason).toBe('STREAM_STALLED');
    expect(error?.decoded.errorInfo?.metadata).toMatchObject({
      phase: 'first_token',
      timeout_ms: '250',
      model: 'gpt-4o',
      attempts: 'gpt-4o:UNAVAILABLE:STREAM_STALLED',
    });
    await h.upstream.waitForIdle(2_000);
    expect(h.upstream.requests.slice(before).map((r) => [r.model, r.outcome])).toEqual([['gpt-4o', 'client_closed']]);
  });

  it('rejects strategy fields that do not fit together', async () => {
    const { error } = await collectStream(h.clients.chat.streamChat(streamRequest({ prompt: 'x', models: ['gpt-4o'], hedgeDelayMs: 5 })));
    expect(error?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(error?.decoded.badRequest?.fieldViolations.map((v) => v.field)).toEqual(['models', 'hedge_delay_ms']);
  });
});
