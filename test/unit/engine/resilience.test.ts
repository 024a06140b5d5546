import { afterEach, describe, expect, it, vi } from 'vitest';
import { OrchestratorError, Reason, cancelled } from '../../../src/domain/errors.js';
import { parseRetryAfter } from '../../../src/providers/upstream-errors.js';
import type { EngineStreamEvent, FallbackCall, StreamTarget } from '../../../src/engine/index.js';
import { context, engineFixture, input, ref, eventsOf } from '../../helpers/engine-fixture.js';
import { upstreamFailure } from '../../helpers/scripted-provider.js';

const RETRIES = { RETRY_MAX_ATTEMPTS: '3' };

async function failureOf(promise: Promise<unknown>): Promise<OrchestratorError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof OrchestratorError) return err;
    throw err;
  }
  throw new Error('expected a failure');
}

async function collect(stream: AsyncIterable<EngineStreamEvent>): Promise<{ events: EngineStreamEvent[]; error?: OrchestratorError }> {
  const events: EngineStreamEvent[] = [];
  try {
    for await (const event of stream) events.push(event);
    return { events };
  } catch (err) {
    if (err instanceof OrchestratorError) return { events, error: err };
    throw err;
  }
}

function target(mode: StreamTarget['mode'], models: string[], extra: Partial<StreamTarget> = {}): StreamTarget {
  return {
    mode,
    models: models.map((name, i) => ref(name, `models[${i}]`)),
    hedgeDelayMs: undefined,
    restartOnFailure: false,
    firstTokenTimeoutMs: undefined,
    interTokenTimeoutMs: undefined,
    ...extra,
  };
}

/** A Fallback from `model`, then down `chain`, that fails rather than ending on the default message. */
function fallbackCall(model: string, chain: string[] = []): FallbackCall {
  return {
    model: ref(model),
    chain: chain.map((name) => ref(name)),
    attemptTimeoutMs: undefined,
    defaultMessage: undefined,
    disableDefaultMessage: true,
    input: input(),
    ctx: context(),
  };
}

const rejected = new OrchestratorError({ kind: 'invalid_argument', reason: Reason.UPSTREAM_REJECTED_REQUEST, message: 'HTTP 400' });

describe('retries', () => {
  it('retries a transient failure and lists both calls', async () => {
    const { engine, provider, stats } = engineFixture({ env: RETRIES });
    provider.script('gpt-4o', { kind: 'fail', error: upstreamFailure('blip') }, { kind: 'answer', content: 'second time lucky' });
    const answer = await engine.chat({ model: ref('gpt-4o'), input: input(), ctx: context() });
    expect(answer.content).toBe('second time lucky');
    expect(answer.attempts.map((a) => [a.outcome, a.retry])).toEqual([
      ['failure', 0],
      ['success', 1],
    ]);
    expect(answer.attempts[1]?.backoffMs).toBeGreaterThanOrEqual(0);
    expect(stats.snapshot().retries).toBe(1);
  });

  it('gives up after RETRY_MAX_ATTEMPTS with the last error', async () => {
    const { engine, provider } = engineFixture({ env: RETRIES });
    provider.script('gpt-4o', { kind: 'fail', error: upstreamFailure('down') });
    const err = await failureOf(engine.chat({ model: ref('gpt-4o'), input: input(), ctx: context() }));
    expect(provider.calls).toHaveLength(3);
    expect(err.reason).toBe(Reason.UPSTREAM_ERROR);
    expect(err.attempts.map((a) => a.retry)).toEqual([0, 1, 2]);
  });

  it('does not retry what the upstream rejected', async () => {
    const { engine, provider } = engineFixture({ env: RETRIES });
    provider.script('gpt-4o', { kind: 'fail', error: rejected });
    const err = await failureOf(engine.chat({ model: ref('gpt-4o'), input: input(), ctx: context() }));
    expect(provider.calls).toHaveLength(1);
    expect(err.kind).toBe('invalid_argument');
  });

  it('waits for the upstream Retry-After when it fits in the deadline', async () => {
    const { engine, provider } = engineFixture({ env: RETRIES });
    provider.script('gpt-4o', { kind: 'fail', error: upstreamFailure('429', 150) }, { kind: 'answer', content: 'ok' });
    const started = Date.now();
    const answer = await engine.chat({ model: ref('gpt-4o'), input: input(), ctx: context({ timeoutMs: 2_000 }) });
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(answer.attempts[1]?.backoffMs).toBeGreaterThanOrEqual(149);
  });

  it('fails at once, with the Retry-After, when it would outlast the deadline', async () => {
    const { engine, provider } = engineFixture({ env: RETRIES });
    provider.script('gpt-4o', { kind: 'fail', error: upstreamFailure('429', 5_000) });
    const started = Date.now();
    const err = await failureOf(engine.chat({ model: ref('gpt-4o'), input: input(), ctx: context({ timeoutMs: 1_000 }) }));
    expect(Date.now() - started).toBeLessThan(200);
    expect(provider.calls).toHaveLength(1);
    expect(err.retryAfterMs).toBe(5_000);
  });

  it('holds Race and StreamChat retries to the deadline as Chat: a Retry-After past it fails at once', async () => {
    const { engine, provider } = engineFixture({ env: RETRIES });
    provider.script('gpt-4o', { kind: 'fail', error: upstreamFailure('429', 5_000) });
    provider.script('gpt-4o-mini', { kind: 'fail', error: upstreamFailure('429', 5_000) });
    const started = Date.now();
    const raced = await failureOf(
      engine.race({
        model: ref(''),
        racers: [ref('gpt-4o'), ref('gpt-4o-mini')],
        hedgeDelayMs: undefined,
        input: input(),
        ctx: context({ timeoutMs: 1_000 }),
      }),
    );
    expect(raced.attempts.map((a) => a.outcome)).toEqual(['failure', 'failure']);
    const streamed = await collect(
      eventsOf(engine.stream({ model: ref('gpt-4o'), target: target('single', []), input: input(), ctx: context({ timeoutMs: 1_000 }) })),
    );
    expect(streamed.error?.retryAfterMs).toBe(5_000);
    expect(Date.now() - started).toBeLessThan(500);
    expect(provider.calls).toHaveLength(3);
  });

  describe('a jittered backoff against the deadline', () => {
    const SLOW_BACKOFF = { ...RETRIES, RETRY_INITIAL_BACKOFF_MS: '5000', RETRY_MAX_BACKOFF_MS: '5000' };
    afterEach(() => vi.restoreAllMocks());

    it('fails at once with the upstream error when the planned wait outlasts the deadline', async () => {
      // Full jitter draws Math.random() x 5 s: 0.99 plans a 4.95 s wait, the deadline is 1 s away.
      vi.spyOn(Math, 'random').mockReturnValue(0.99);
      const { engine, provider } = engineFixture({ env: SLOW_BACKOFF });
      provider.script('gpt-4o', { kind: 'fail', error: upstreamFailure('down') }, { kind: 'answer', content: 'too late' });
      const started = Date.now();
      const err = await failureOf(engine.chat({ model: ref('gpt-4o'), input: input(), ctx: context({ timeoutMs: 1_000 }) }));
      expect(Date.now() - started).toBeLessThan(500);
      expect(provider.calls).toHaveLength(1);
      expect(err.kind).toBe('unavailable');
      expect(err.reason).toBe(Reason.UPSTREAM_ERROR);
    });

    it('sleeps exactly the planned wait when it fits', async () => {
      vi.spyOn(Math, 'random').mockReturnValue(0.01);
      const { engine, provider } = engineFixture({ env: SLOW_BACKOFF });
      provider.script('gpt-4o', { kind: 'fail', error: upstreamFailure('blip') }, { kind: 'answer', content: 'ok' });
      const answer = await engine.chat({ model: ref('gpt-4o'), input: input(), ctx: context({ timeoutMs: 5_000 }) });
      expect(answer.content).toBe('ok');
      expect(answer.attempts[1]?.backoffMs).toBe(50);
    });

    it('doubles the wait at each retry, up to RETRY_MAX_BACKOFF_MS', async () => {
      // Full jitter at 0.99 of the ceiling: 100 ms, then 200 ms capped at 150 ms.
      vi.spyOn(Math, 'random').mockReturnValue(0.99);
      const { engine, provider } = engineFixture({ env: { ...RETRIES, RETRY_INITIAL_BACKOFF_MS: '100', RETRY_MAX_BACKOFF_MS: '150' } });
      provider.script(
        'gpt-4o',
        { kind: 'fail', error: upstreamFailure('a') },
        { kind: 'fail', error: upstreamFailure('b') },
        { kind: 'answer', content: 'ok' },
      );
      const answer = await engine.chat({ model: ref('gpt-4o'), input: input(), ctx: context() });
      expect(answer.attempts.map((a) => a.backoffMs)).toEqual([0, 99, 148]);
    });
  });

  it('stops retrying when the retry budget runs low (gRFC A6 throttling)', async () => {
    const { engine, provider, stats } = engineFixture({
      env: { ...RETRIES, RETRY_BUDGET_MAX_TOKENS: '4', BREAKER_CONSECUTIVE_FAILURES: '1000' },
    });
    provider.script('gpt-4o', { kind: 'fail', error: upstreamFailure('down') });
    for (let i = 0; i < 5; i++) await failureOf(engine.chat({ model: ref('gpt-4o'), input: input(), ctx: context() }));
    // Without the budget: 5 calls x 3 attempts = 15. With 4 tokens: 2 + 1 + 1 + 1 + 1.
    expect(provider.calls).toHaveLength(6);
    expect(stats.snapshot().retriesThrottled).toBe(5);
  });

  it('retries again once successes, of Chat calls and streams alike, refill the retry budget', async () => {
    const { engine, provider } = engineFixture({
      env: { ...RETRIES, RETRY_BUDGET_MAX_TOKENS: '4', RETRY_BUDGET_TOKEN_RATIO: '1', BREAKER_CONSECUTIVE_FAILURES: '1000' },
    });
    const down = { kind: 'fail', error: upstreamFailure('down') } as const;
    const ok = { kind: 'answer', content: 'ok' } as const;
    provider.script('gpt-4o', down, down, ok, ok, down, ok);
    // Two failures leave 2 of 4 tokens: the retry is refused.
    expect((await failureOf(engine.chat({ model: ref('gpt-4o'), input: input(), ctx: context() }))).attempts).toHaveLength(2);
    await engine.chat({ model: ref('gpt-4o'), input: input(), ctx: context() });
    const streamed = await collect(
      eventsOf(engine.stream({ model: ref('gpt-4o'), target: target('single', []), input: input(), ctx: context() })),
    );
    expect(streamed.error).toBeUndefined();
    // A Chat and a stream that succeeded gave the tokens back: the next failure is retried.
    const answer = await engine.chat({ model: ref('gpt-4o'), input: input(), ctx: context() });
    expect(answer.attempts.map((a) => a.outcome)).toEqual(['failure', 'success']);
  });

  it('throttles the retries of streams that fail before their first token as it does unary calls', async () => {
    const { engine, provider, stats } = engineFixture({
      env: { ...RETRIES, RETRY_BUDGET_MAX_TOKENS: '4', BREAKER_CONSECUTIVE_FAILURES: '1000' },
    });
    provider.script('gpt-4o', { kind: 'fail', error: upstreamFailure('down') });
    for (let i = 0; i < 5; i++) {
      const { error } = await collect(
        eventsOf(engine.stream({ model: ref('gpt-4o'), target: target('single', []), input: input(), ctx: context() })),
      );
      expect(error?.reason).toBe(Reason.UPSTREAM_ERROR);
    }
    // As for Chat: 2 + 1 + 1 + 1 + 1 upstream calls, not 5 x 3.
    expect(provider.calls).toHaveLength(6);
    expect(stats.snapshot().retriesThrottled).toBe(5);
  });

  it('counts no throttled retry for a call that had no retry left to refuse', async () => {
    const { engine, provider, stats } = engineFixture({
      env: { RETRY_MAX_ATTEMPTS: '1', RETRY_BUDGET_MAX_TOKENS: '4', BREAKER_CONSECUTIVE_FAILURES: '1000' },
    });
    provider.script('gpt-4o', { kind: 'fail', error: upstreamFailure('down') });
    for (let i = 0; i < 5; i++) await failureOf(engine.chat({ model: ref('gpt-4o'), input: input(), ctx: context() }));
    expect(provider.calls).toHaveLength(5);
    // Retries are off: the budget, however low, refused none.
    expect(stats.snapshot().retriesThrottled).toBe(0);
    expect(stats.snapshot().retries).toBe(0);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2025-03-01T12:00:00Z');
  const parse = (fields: Record<string, string>) => parseRetryAfter(new Headers(fields), now);

  it('reads an HTTP date in the future as the time left until it', () => {
    expect(parse({ 'retry-after': 'Sat, 01 Mar 2025 12:00:42 GMT' })).toBe(42_000);
  });

  it('reads an HTTP date in the past as no wait', () => {
    expect(parse({ 'retry-after': 'Sat, 01 Mar 2025 11:59:00 GMT' })).toBe(0);
  });

  it('ignores garbage', () => {
    expect(parse({ 'retry-after': 'soon, maybe' })).toBeUndefined();
    expect(parse({ 'retry-after': '' })).toBeUndefined();
    expect(parse({})).toBeUndefined();
  });

  it('reads a wait longer than a timer holds (about 24.8 days) as that longest wait', () => {
    expect(parse({ 'retry-after': '1e20' })).toBe(2 ** 31 - 1);
    expect(parse({ 'retry-after-ms': '99999999999999999999' })).toBe(2 ** 31 - 1);
    expect(parse({ 'retry-after': 'Fri, 31 Dec 9999 23:59:59 GMT' })).toBe(2 ** 31 - 1);
    expect(parse({ 'retry-after': '86400' })).toBe(86_400_000);
  });

  it('reads seconds, and prefers retry-after-ms', () => {
    expect(parse({ 'retry-after': '3' })).toBe(3_000);
    expect(parse({ 'retry-after': '3', 'retry-after-ms': '250' })).toBe(250);
  });
});

describe('circuit breaker', () => {
  const env = { BREAKER_CONSECUTIVE_FAILURES: '3', BREAKER_HALF_OPEN_AFTER_MS: '150', BREAKER_FAILURE_RATE: '1' };

  it('opens after consecutive failures, skips at once, half-opens, and closes on success', async () => {
    const { engine, provider, stats } = engineFixture({ env });
    provider.script(
      'gpt-4o',
      { kind: 'fail', error: upstreamFailure('a') },
      { kind: 'fail', error: upstreamFailure('b') },
      { kind: 'fail', error: upstreamFailure('c') },
      { kind: 'answer', content: 'healed' },
    );
    for (let i = 0; i < 3; i++) await failureOf(engine.chat({ model: ref('gpt-4o'), input: input(), ctx: context() }));
    expect(engine.breakerState('gpt-4o')).toBe('open');

    const skipped = await failureOf(engine.chat({ model: ref('gpt-4o'), input: input(), ctx: context() }));
    expect(skipped.reason).toBe(Reason.CIRCUIT_OPEN);
    expect(skipped.attempts[0]?.outcome).toBe('skipped');
    expect(provider.calls).toHaveLength(3);
    expect(stats.snapshot().models.find((m) => m.name === 'gpt-4o')?.skipped).toBe(1);

    await new Promise((r) => setTimeout(r, 200));
    const answer = await engine.chat({ model: ref('gpt-4o'), input: input(), ctx: context() });
    expect(answer.content).toBe('healed');
    expect(engine.breakerState('gpt-4o')).toBe('closed');
  });

  it('counts attempt timeouts (ATTEMPT_TIMEOUT_MS) against the model: a hanging model opens its breaker', async () => {
    const { engine, provider } = engineFixture({ env: { ...env, ATTEMPT_TIMEOUT_MS: '30' } });
    provider.script('gpt-4o', { kind: 'hang' });
    for (let i = 0; i < 3; i++) {
      expect((await failureOf(engine.chat({ model: ref('gpt-4o'), input: input(), ctx: context() }))).reason).toBe(Reason.UPSTREAM_TIMEOUT);
    }
    expect(engine.breakerState('gpt-4o')).toBe('open');
    expect((await failureOf(engine.chat({ model: ref('gpt-4o'), input: input(), ctx: context() }))).reason).toBe(Reason.CIRCUIT_OPEN);
    expect(provider.calls).toHaveLength(3);
  });

  it('does not count a rejected request or a cancel against the model', async () => {
    const { engine, provider } = engineFixture({ env });
    provider.script('gpt-4o', { kind: 'fail', error: rejected });
    for (let i = 0; i < 4; i++) await failureOf(engine.chat({ model: ref('gpt-4o'), input: input(), ctx: context() }));
    expect(engine.breakerState('gpt-4o')).toBe('closed');
  });

  it('counts a stream cut after its first token as a failure: such streams open the breaker', async () => {
    const { engine, provider } = engineFixture({ env });
    provider.script('gpt-4o', { kind: 'cut', afterTokens: 1 });
    for (let i = 0; i < 3; i++) {
      const { error } = await collect(
        eventsOf(engine.stream({ model: ref('gpt-4o'), target: target('single', []), input: input(), ctx: context() })),
      );
      expect(error?.reason).toBe(Reason.UPSTREAM_ERROR);
    }
    expect(engine.breakerState('gpt-4o')).toBe('open');
    const { events, error } = await collect(
      eventsOf(engine.stream({ model: ref('gpt-4o'), target: target('single', []), input: input(), ctx: context() })),
    );
    expect(events).toEqual([]);
    expect(error?.reason).toBe(Reason.CIRCUIT_OPEN);
    expect(provider.calls).toHaveLength(3);
  });

  it('judges a half-open stream probe when it ends, not at its first token, and skips callers meanwhile', async () => {
    const { engine, provider } = engineFixture({ env });
    provider.script(
      'gpt-4o',
      { kind: 'fail', error: upstreamFailure('a') },
      { kind: 'fail', error: upstreamFailure('b') },
      { kind: 'fail', error: upstreamFailure('c') },
      { kind: 'cut', afterTokens: 2 },
    );
    for (let i = 0; i < 3; i++) await failureOf(engine.chat({ model: ref('gpt-4o'), input: input(), ctx: context() }));
    expect(engine.breakerState('gpt-4o')).toBe('open');
    await new Promise((r) => setTimeout(r, 200));
    expect(engine.breakerState('gpt-4o')).toBe('half_open');

    const probe = eventsOf(engine.stream({ model: ref('gpt-4o'), target: target('single', []), input: input(), ctx: context() }))[
      Symbol.asyncIterator
    ]();
    expect((await probe.next()).value).toMatchObject({ type: 'started', model: 'gpt-4o' });
    expect((await probe.next()).value).toMatchObject({ type: 'delta' });
    // Tokens are flowing, but the probe has not ended: still half-open, and nobody else gets in.
    expect(engine.breakerState('gpt-4o')).toBe('half_open');
    const meanwhile = await failureOf(engine.chat({ model: ref('gpt-4o'), input: input(), ctx: context() }));
    expect(meanwhile.reason).toBe(Reason.CIRCUIT_OPEN);
    const streamedMeanwhile = await collect(
      eventsOf(engine.stream({ model: ref('gpt-4o'), target: target('single', []), input: input(), ctx: context() })),
    );
    expect(streamedMeanwhile.error?.reason).toBe(Reason.CIRCUIT_OPEN);
    expect(provider.calls).toHaveLength(4);

    const rest = await collect({ [Symbol.asyncIterator]: () => probe });
    expect(rest.error?.reason).toBe(Reason.UPSTREAM_ERROR);
    expect(engine.breakerState('gpt-4o')).toBe('open');
  });

  it('reopens when the half-open probe fails', async () => {
    const { engine, provider } = engineFixture({ env });
    provider.script('gpt-4o', { kind: 'fail', error: upstreamFailure('still down') });
    for (let i = 0; i < 3; i++) await failureOf(engine.chat({ model: ref('gpt-4o'), input: input(), ctx: context() }));
    await new Promise((r) => setTimeout(r, 200));
    expect(engine.breakerState('gpt-4o')).toBe('half_open');
    const probe = await failureOf(engine.chat({ model: ref('gpt-4o'), input: input(), ctx: context() }));
    expect(probe.reason).toBe(Reason.UPSTREAM_ERROR);
    expect(engine.breakerState('gpt-4o')).toBe('open');
    const skipped = await failureOf(engine.chat({ model: ref('gpt-4o'), input: input(), ctx: context() }));
    expect(skipped.reason).toBe(Reason.CIRCUIT_OPEN);
    expect(provider.calls).toHaveLength(4);
  });

  /**
   * A model whose breaker only its failure rate opens (a 10 s window; `minRps` sets how many calls
   * it needs), after four calls that answer, fail, answer, fail: its state after each of them, and
   * the next call, which fails.
   */
  async function afterAlternatingCalls(minRps: string) {
    const { engine, provider } = engineFixture({
      env: {
        BREAKER_CONSECUTIVE_FAILURES: '1000',
        BREAKER_FAILURE_RATE: '0.5',
        BREAKER_SAMPLING_WINDOW_MS: '10000',
        BREAKER_MIN_RPS: minRps,
      },
    });
    const ok = { kind: 'answer', content: 'fine' } as const;
    const bad = { kind: 'fail', error: upstreamFailure('flaky') } as const;
    provider.script('gpt-4o', ok, bad, ok, bad, bad);
    const chat = () => engine.chat({ model: ref('gpt-4o'), input: input(), ctx: context() });
    const states: string[] = [];
    for (const step of [ok, bad, ok, bad]) {
      if (step.kind === 'fail') await failureOf(chat());
      else await chat();
      states.push(engine.breakerState('gpt-4o'));
    }
    return { engine, states, chat };
  }

  it('opens on the failure rate alone (BREAKER_FAILURE_RATE below 1)', async () => {
    // The window needs 10 s x 0.5 rps = 5 calls before the rate counts; never two failures in a row before the last.
    const { engine, states, chat } = await afterAlternatingCalls('0.5');
    expect(states).toEqual(['closed', 'closed', 'closed', 'closed']);
    await failureOf(chat());
    // 3 failures out of 5 > 50 %.
    expect(engine.breakerState('gpt-4o')).toBe('open');
    expect((await failureOf(chat())).reason).toBe(Reason.CIRCUIT_OPEN);
  });

  it('does not open at exactly BREAKER_FAILURE_RATE: the rate must go over it', async () => {
    // The window needs 10 s x 0.4 rps = 4 calls: 2 failures out of 4 is the rate, not over it.
    const { engine, states, chat } = await afterAlternatingCalls('0.4');
    expect(states.at(-1)).toBe('closed');
    await failureOf(chat());
    expect(engine.breakerState('gpt-4o')).toBe('open');
  });

  it('does not wait for a retry the breaker will refuse: the failure that opened it moves Fallback on at once', async () => {
    const { engine, provider } = engineFixture({
      env: { ...env, ...RETRIES, BREAKER_CONSECUTIVE_FAILURES: '2', BREAKER_HALF_OPEN_AFTER_MS: '10000' },
    });
    provider.script('gpt-4o', { kind: 'fail', error: upstreamFailure('429', 50) }, { kind: 'fail', error: upstreamFailure('429', 1_500) });
    provider.script('gpt-4o-mini', { kind: 'answer', content: 'mini' });
    const started = Date.now();
    const answer = await engine.fallback(fallbackCall('gpt-4o'));
    expect(answer.model).toBe('gpt-4o-mini');
    // The second failure opened the breaker: no 1.5 s Retry-After slept only to be skipped.
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(answer.attempts.map((a) => [a.model, a.outcome])).toEqual([
      ['gpt-4o', 'failure'],
      ['gpt-4o', 'failure'],
      ['gpt-4o-mini', 'success'],
    ]);
  });

  it('ends a Chat whose failure opened the breaker with that failure, not a skip after the wait', async () => {
    const { engine, provider } = engineFixture({
      env: { ...env, ...RETRIES, BREAKER_CONSECUTIVE_FAILURES: '1', BREAKER_HALF_OPEN_AFTER_MS: '10000' },
    });
    provider.script('gpt-4o', { kind: 'fail', error: upstreamFailure('503', 1_500) });
    const started = Date.now();
    const err = await failureOf(engine.chat({ model: ref('gpt-4o'), input: input(), ctx: context() }));
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(err.reason).toBe(Reason.UPSTREAM_ERROR);
    expect(err.retryAfterMs).toBe(1_500);
    expect(err.attempts.map((a) => a.outcome)).toEqual(['failure']);
    expect(engine.breakerState('gpt-4o')).toBe('open');
  });

  it('still retries when the wait outlasts the cool-down: the retry is the half-open probe', async () => {
    const { engine, provider } = engineFixture({
      env: { ...env, ...RETRIES, BREAKER_CONSECUTIVE_FAILURES: '1', BREAKER_HALF_OPEN_AFTER_MS: '100' },
    });
    provider.script('gpt-4o', { kind: 'fail', error: upstreamFailure('503', 300) }, { kind: 'answer', content: 'probe answered' });
    const answer = await engine.chat({ model: ref('gpt-4o'), input: input(), ctx: context() });
    expect(answer.content).toBe('probe answered');
    expect(answer.attempts.map((a) => [a.outcome, a.retry])).toEqual([
      ['failure', 0],
      ['success', 1],
    ]);
    expect(engine.breakerState('gpt-4o')).toBe('closed');
  });

  it('lets fallback skip an open model without waiting', async () => {
    const { engine, provider } = engineFixture({ env });
    provider.script('gpt-4o', { kind: 'fail', error: upstreamFailure('down') });
    provider.script('gpt-4o-mini', { kind: 'answer', content: 'mini' });
    for (let i = 0; i < 3; i++) await failureOf(engine.chat({ model: ref('gpt-4o'), input: input(), ctx: context() }));
    const answer = await engine.fallback(fallbackCall('gpt-4o'));
    expect(answer.model).toBe('gpt-4o-mini');
    expect(answer.attempts[0]).toMatchObject({ model: 'gpt-4o', outcome: 'skipped' });
    expect(provider.calls.filter((c) => c.model === 'gpt-4o')).toHaveLength(3);
  });
});

describe('the retry budget', () => {
  it("is per model: a failing model does not use up the retries of its provider's other models", async () => {
    const { engine, provider } = engineFixture({ env: RETRIES });
    provider.script('gpt-4o', { kind: 'fail', error: upstreamFailure('HTTP 500') });
    provider.script('gpt-4o-mini', { kind: 'fail', error: upstreamFailure('HTTP 503') }, { kind: 'answer', content: 'healthy' });
    for (let i = 0; i < 3; i++) await failureOf(engine.chat({ model: ref('gpt-4o'), input: input(), ctx: context() }));
    // Three attempts, two (the bucket is then at half), then its breaker opens.
    expect(provider.calls.filter((c) => c.model === 'gpt-4o')).toHaveLength(5);
    const answer = await engine.chat({ model: ref('gpt-4o-mini'), input: input(), ctx: context() });
    expect(answer.content).toBe('healthy');
    expect(answer.attempts.map((a) => a.outcome)).toEqual(['failure', 'success']);
  });

  it("is not spent by Fallback links cut by their caller's own time limit: another caller's Chat is still retried", async () => {
    const { engine, provider, stats } = engineFixture({ env: { ...RETRIES, RETRY_BUDGET_MAX_TOKENS: '4' } });
    const hang = { kind: 'hang' } as const;
    provider.script(
      'gpt-4o',
      hang,
      hang,
      hang,
      hang,
      hang,
      { kind: 'fail', error: upstreamFailure('HTTP 503') },
      { kind: 'answer', content: 'ok' },
    );
    for (let i = 0; i < 5; i++) {
      const err = await failureOf(engine.fallback({ ...fallbackCall('gpt-4o', ['gpt-4o']), attemptTimeoutMs: 20 }));
      expect(err.metadata['limit']).toBe('attempt_timeout_ms');
    }
    const answer = await engine.chat({ model: ref('gpt-4o'), input: input(), ctx: context() });
    expect(answer.attempts.map((a) => a.outcome)).toEqual(['failure', 'success']);
    expect(stats.snapshot().retriesThrottled).toBe(0);
  });
});

describe('a stream the consumer leaves between events', () => {
  const env = { BREAKER_CONSECUTIVE_FAILURES: '3', BREAKER_HALF_OPEN_AFTER_MS: '150', BREAKER_FAILURE_RATE: '1' };

  it('left at restarted: the replacement (a half-open probe) is closed and judged, so its breaker does not stay half-open', async () => {
    const { engine, provider, stats } = engineFixture({ env });
    provider.script(
      'gpt-4o',
      { kind: 'fail', error: upstreamFailure('a') },
      { kind: 'fail', error: upstreamFailure('b') },
      { kind: 'fail', error: upstreamFailure('c') },
      { kind: 'answer', content: 'one two three four' },
      { kind: 'answer', content: 'healed' },
    );
    provider.script('gpt-4o-mini', { kind: 'cut', afterTokens: 1 });
    for (let i = 0; i < 3; i++) await failureOf(engine.chat({ model: ref('gpt-4o'), input: input(), ctx: context() }));
    await new Promise((r) => setTimeout(r, 200));
    expect(engine.breakerState('gpt-4o')).toBe('half_open');

    const events = eventsOf(
      engine.stream({
        model: ref('gpt-4o-mini'),
        target: target('fallback', ['gpt-4o-mini', 'gpt-4o'], { restartOnFailure: true }),
        input: input(),
        ctx: context(),
      }),
    )[Symbol.asyncIterator]();
    for (let next = await events.next(); !next.done && next.value.type !== 'restarted'; next = await events.next());
    await events.return(undefined);

    // The probe was recorded (cancelled) rather than left open, and the breaker moved on.
    expect(stats.snapshot().models.find((m) => m.name === 'gpt-4o')?.cancelled).toBe(1);
    expect(engine.breakerState('gpt-4o')).not.toBe('half_open');
    await new Promise((r) => setTimeout(r, 200));
    expect((await engine.chat({ model: ref('gpt-4o'), input: input(), ctx: context() })).content).toBe('healed');
  });

  it('left at started: the stream is closed and recorded', async () => {
    const { engine, provider, stats } = engineFixture({ env });
    provider.script('gpt-4o', { kind: 'answer', content: 'one two three' });
    const events = eventsOf(engine.stream({ model: ref('gpt-4o'), target: target('single', []), input: input(), ctx: context() }))[
      Symbol.asyncIterator
    ]();
    expect((await events.next()).value).toMatchObject({ type: 'started', model: 'gpt-4o' });
    await events.return(undefined);
    expect(stats.snapshot().models.find((m) => m.name === 'gpt-4o')).toMatchObject({ requests: 1, cancelled: 1 });
  });
});

describe('several models failing', () => {
  it('says ALL_ATTEMPTS_FAILED and keeps the last attempt reason and model in the metadata', async () => {
    const { engine, provider } = engineFixture();
    provider.script('gpt-4o', { kind: 'fail', error: rejected });
    provider.script('gpt-4o-mini', { kind: 'fail', error: upstreamFailure('429', 30_000) });
    const err = await failureOf(engine.fallback(fallbackCall('', ['gpt-4o', 'gpt-4o-mini'])));
    expect(err.reason).toBe(Reason.ALL_ATTEMPTS_FAILED);
    expect(err.metadata).toEqual({ last_attempt_reason: Reason.UPSTREAM_ERROR, last_attempt_model: 'gpt-4o-mini' });
    expect(err.attempts.map((a) => a.error?.reason)).toEqual([Reason.UPSTREAM_REJECTED_REQUEST, Reason.UPSTREAM_ERROR]);
  });
});

describe('hedged race', () => {
  it('never starts the second model when the first answers within the hedge delay', async () => {
    const { engine, provider } = engineFixture();
    provider.script('gpt-4o', { kind: 'answer', content: 'quick', delayMs: 20 });
    provider.script('gpt-4o-mini', { kind: 'answer', content: 'unused' });
    const answer = await engine.race({
      model: ref(''),
      racers: [ref('gpt-4o'), ref('gpt-4o-mini')],
      hedgeDelayMs: 200,
      input: input(),
      ctx: context(),
    });
    expect(answer.content).toBe('quick');
    expect(provider.calls.map((c) => c.model)).toEqual(['gpt-4o']);
  });

  it('starts the next model after the delay, and the faster answer wins', async () => {
    const { engine, provider } = engineFixture();
    provider.script('gpt-4o', { kind: 'answer', content: 'slow', delayMs: 500 });
    provider.script('gpt-4o-mini', { kind: 'answer', content: 'hedge', delayMs: 10 });
    const started = Date.now();
    const answer = await engine.race({
      model: ref(''),
      racers: [ref('gpt-4o'), ref('gpt-4o-mini')],
      hedgeDelayMs: 100,
      input: input(),
      ctx: context(),
    });
    const elapsed = Date.now() - started;
    expect(answer.content).toBe('hedge');
    expect(elapsed).toBeGreaterThanOrEqual(100);
    expect(elapsed).toBeLessThan(450);
    expect(provider.calls.find((c) => c.model === 'gpt-4o')?.aborted).toBe(true);
    expect(answer.attempts.map((a) => a.outcome)).toEqual(['cancelled', 'success']);
  });

  it('starts the hedge after the delay, not later', async () => {
    const { engine, provider } = engineFixture();
    provider.script('gpt-4o', { kind: 'hang' });
    provider.script('gpt-4o-mini', { kind: 'answer', content: 'hedge' });
    const started = Date.now();
    const answer = await engine.race({
      model: ref(''),
      racers: [ref('gpt-4o'), ref('gpt-4o-mini')],
      hedgeDelayMs: 500,
      input: input(),
      ctx: context(),
    });
    const elapsed = Date.now() - started;
    expect(answer.content).toBe('hedge');
    expect(elapsed).toBeGreaterThanOrEqual(490);
    expect(elapsed).toBeLessThan(850);
  });

  it('starts the next model at once when a hedge fails while an earlier racer still runs', async () => {
    const { engine, provider } = engineFixture();
    provider.script('gpt-4o', { kind: 'hang' });
    provider.script('gpt-4o-mini', { kind: 'fail', error: upstreamFailure('x'), delayMs: 5 });
    provider.script('gpt-3.5-turbo', { kind: 'answer', content: 'third' });
    const started = Date.now();
    const answer = await engine.race({
      model: ref(''),
      racers: [ref('gpt-4o'), ref('gpt-4o-mini'), ref('gpt-3.5-turbo')],
      hedgeDelayMs: 600,
      input: input(),
      ctx: context(),
    });
    // The second racer starts after one delay and fails: the third starts then, not a delay later.
    expect(answer.content).toBe('third');
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(answer.attempts.map((a) => `${a.model}:${a.outcome}`)).toEqual([
      'gpt-4o:cancelled',
      'gpt-4o-mini:failure',
      'gpt-3.5-turbo:success',
    ]);
  });

  it('calls no model the hedge would have started next once the caller cancels', async () => {
    const { engine, provider } = engineFixture();
    for (const model of ['gpt-4o', 'gpt-4o-mini', 'gpt-3.5-turbo']) provider.script(model, { kind: 'hang' });
    const controller = new AbortController();
    setTimeout(() => controller.abort(cancelled('the caller went away')), 50);
    const err = await failureOf(
      engine.race({
        model: ref(''),
        racers: [ref('gpt-4o'), ref('gpt-4o-mini'), ref('gpt-3.5-turbo')],
        hedgeDelayMs: 1_000,
        input: input(),
        ctx: context({ controller }),
      }),
    );
    expect(err.kind).toBe('cancelled');
    // Only the model called before the cancel is listed, and charged.
    expect(provider.calls.map((c) => c.model)).toEqual(['gpt-4o']);
    expect(err.attempts.map((a) => a.model)).toEqual(['gpt-4o']);
  });

  it('starts the next model at once when the first fails', async () => {
    const { engine, provider } = engineFixture();
    provider.script('gpt-4o', { kind: 'fail', error: upstreamFailure('x'), delayMs: 5 });
    provider.script('gpt-4o-mini', { kind: 'answer', content: 'rescue' });
    const started = Date.now();
    const answer = await engine.race({
      model: ref(''),
      racers: [ref('gpt-4o'), ref('gpt-4o-mini')],
      hedgeDelayMs: 1_000,
      input: input(),
      ctx: context(),
    });
    expect(answer.content).toBe('rescue');
    expect(Date.now() - started).toBeLessThan(500);
  });
});

describe('streaming strategies', () => {
  it('falls back before the first token without the client seeing it', async () => {
    const { engine, provider } = engineFixture();
    provider.script('gpt-4o', { kind: 'fail', error: upstreamFailure('down') });
    provider.script('gpt-4o-mini', { kind: 'answer', content: 'from the mini' });
    const { events, error } = await collect(
      eventsOf(engine.stream({ model: ref(''), target: target('fallback', ['gpt-4o', 'gpt-4o-mini']), input: input(), ctx: context() })),
    );
    expect(error).toBeUndefined();
    expect(events[0]).toEqual({ type: 'started', model: 'gpt-4o-mini', provider: 'openai' });
    const completed = events.at(-1);
    if (completed?.type !== 'completed') throw new Error('not completed');
    expect(completed.fallbackTriggered).toBe(true);
    expect(completed.attempts.map((a) => `${a.model}:${a.outcome}`)).toEqual(['gpt-4o:failure', 'gpt-4o-mini:success']);
  });

  it('retries a stream that failed before its first token', async () => {
    const { engine, provider } = engineFixture({ env: RETRIES });
    provider.script('gpt-4o', { kind: 'fail', error: upstreamFailure('blip') }, { kind: 'answer', content: 'a b c' });
    const { events, error } = await collect(
      eventsOf(engine.stream({ model: ref('gpt-4o'), target: target('single', []), input: input(), ctx: context() })),
    );
    expect(error).toBeUndefined();
    expect(events.filter((e) => e.type === 'delta')).toHaveLength(3);
  });

  it('never retries after the first token: the stream ends with the partial usage', async () => {
    const { engine, provider } = engineFixture({ env: RETRIES });
    provider.script('gpt-4o', { kind: 'cut', afterTokens: 2 });
    const { events, error } = await collect(
      eventsOf(engine.stream({ model: ref('gpt-4o'), target: target('single', []), input: input(), ctx: context() })),
    );
    expect(events.map((e) => e.type)).toEqual(['started', 'delta', 'delta']);
    expect(provider.calls).toHaveLength(1);
    expect(error?.kind).toBe('unavailable');
    expect(error?.attempts[0]?.usage.completionTokens).toBeGreaterThan(0);
  });

  it('restarts on the next model with a restarted event when the caller opted in', async () => {
    const { engine, provider, stats } = engineFixture();
    provider.script('gpt-4o', { kind: 'cut', afterTokens: 2 });
    provider.script('gpt-4o-mini', { kind: 'answer', content: 'fresh start here' });
    const { events, error } = await collect(
      eventsOf(
        engine.stream({
          model: ref(''),
          target: target('fallback', ['gpt-4o', 'gpt-4o-mini'], { restartOnFailure: true }),
          input: input(),
          ctx: context(),
        }),
      ),
    );
    expect(error).toBeUndefined();
    expect(events.map((e) => e.type)).toEqual(['started', 'delta', 'delta', 'restarted', 'delta', 'delta', 'delta', 'completed']);
    const restarted = events[3];
    expect(restarted).toMatchObject({ type: 'restarted', failedModel: 'gpt-4o', nextModel: 'gpt-4o-mini', reason: 'UPSTREAM_ERROR' });
    const after = events
      .slice(4)
      .flatMap((e) => (e.type === 'delta' ? [e.content] : []))
      .join('');
    expect(after).toBe('fresh start here');
    expect(stats.snapshot().streamRestarts).toBe(1);
  });

  it('lets the first model to produce a token win a streamed race', async () => {
    const { engine, provider } = engineFixture();
    provider.script('gpt-4o', { kind: 'answer', content: 'slow one', delayMs: 300 });
    provider.script('gpt-4o-mini', { kind: 'answer', content: 'fast one', delayMs: 10 });
    const { events } = await collect(
      eventsOf(engine.stream({ model: ref(''), target: target('race', ['gpt-4o', 'gpt-4o-mini']), input: input(), ctx: context() })),
    );
    expect(events[0]).toMatchObject({ type: 'started', model: 'gpt-4o-mini' });
    expect(provider.calls.find((c) => c.model === 'gpt-4o')?.aborted).toBe(true);
    const completed = events.at(-1);
    expect(completed?.type === 'completed' && completed.attempts.map((a) => `${a.model}:${a.outcome}`).sort()).toEqual([
      'gpt-4o-mini:success',
      'gpt-4o:cancelled',
    ]);
  });

  it('starts the winner of a streamed race at once, however long a loser would take to answer', async () => {
    const { engine, provider } = engineFixture();
    provider.script('gpt-4o', { kind: 'hang' });
    provider.script('gpt-4o-mini', { kind: 'answer', content: 'fast one', delayMs: 10 });
    const started = Date.now();
    const { events, error } = await collect(
      eventsOf(
        engine.stream({
          model: ref(''),
          target: target('race', ['gpt-4o', 'gpt-4o-mini']),
          input: input(),
          ctx: context({ timeoutMs: 60_000 }),
        }),
      ),
    );
    expect(error).toBeUndefined();
    expect(events[0]).toMatchObject({ type: 'started', model: 'gpt-4o-mini' });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(provider.calls.find((c) => c.model === 'gpt-4o')?.aborted).toBe(true);
  });

  it('gives up on a model that sends no first token in time, and falls back', async () => {
    const { engine, provider } = engineFixture();
    provider.script('gpt-4o', { kind: 'hang' });
    provider.script('gpt-4o-mini', { kind: 'answer', content: 'here' });
    const { events } = await collect(
      eventsOf(
        engine.stream({
          model: ref(''),
          target: target('fallback', ['gpt-4o', 'gpt-4o-mini'], { firstTokenTimeoutMs: 50 }),
          input: input(),
          ctx: context(),
        }),
      ),
    );
    const completed = events.at(-1);
    if (completed?.type !== 'completed') throw new Error('not completed');
    expect(completed.attempts[0]).toMatchObject({ model: 'gpt-4o', outcome: 'timeout' });
    expect(completed.attempts[0]?.error?.reason).toBe(Reason.STREAM_STALLED);
    expect(provider.calls[0]?.aborted).toBe(true);
  });

  it('aborts a stream that goes silent between tokens', async () => {
    const { engine, provider } = engineFixture();
    provider.script('gpt-4o', { kind: 'answer', content: 'one two three', tokenDelayMs: 200 });
    const { events, error } = await collect(
      eventsOf(
        engine.stream({
          model: ref('gpt-4o'),
          target: target('single', [], { interTokenTimeoutMs: 60, firstTokenTimeoutMs: 1_000 }),
          input: input(),
          ctx: context(),
        }),
      ),
    );
    expect(events.some((e) => e.type === 'completed')).toBe(false);
    expect(error?.reason).toBe(Reason.STREAM_STALLED);
    expect(error?.metadata['phase']).toMatch(/token/);
    expect(provider.calls[0]?.aborted).toBe(true);
  });
});
