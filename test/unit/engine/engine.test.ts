import { describe, expect, it } from 'vitest';
import { OrchestratorError, Reason, cancelled } from '../../../src/domain/errors.js';
import type { EngineStreamEvent } from '../../../src/engine/index.js';
import { context, engineFixture, input, ref, eventsOf } from '../../helpers/engine-fixture.js';
import { upstreamFailure } from '../../helpers/scripted-provider.js';

const SINGLE = {
  mode: 'single' as const,
  models: [],
  hedgeDelayMs: undefined,
  restartOnFailure: false,
  firstTokenTimeoutMs: undefined,
  interTokenTimeoutMs: undefined,
};

async function failureOf(promise: Promise<unknown>): Promise<OrchestratorError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof OrchestratorError) return err;
    throw err;
  }
  throw new Error('expected a failure');
}

describe('Engine.chat', () => {
  it('uses the default model when none is given and prices the answer from the catalog', async () => {
    const { engine, provider } = engineFixture({ defaultModel: 'gpt-4o' });
    provider.script('gpt-4o', { kind: 'answer', content: 'four words right here' });
    const answer = await engine.chat({ model: ref(''), input: input(), ctx: context() });
    expect(answer).toMatchObject({ content: 'four words right here', model: 'gpt-4o', provider: 'openai', finishReason: 'stop' });
    expect(answer.usage).toEqual({ promptTokens: 10, completionTokens: 4, totalTokens: 14, cachedTokens: 0 });
    // 10 prompt tokens at $2.50/M + 4 completion tokens at $10/M
    expect(answer.costUsd).toBeCloseTo((10 * 2.5 + 4 * 10) / 1e6, 12);
    expect(answer.attempts).toHaveLength(1);
    expect(provider.calls[0]?.maxTokens).toBe(500);
  });

  it('resolves aliases case-insensitively', async () => {
    const { engine, provider } = engineFixture();
    provider.script('gpt-4o-mini', { kind: 'answer', content: 'hi' });
    const answer = await engine.chat({ model: ref('4O-Mini'), input: input(), ctx: context() });
    expect(answer.model).toBe('gpt-4o-mini');
  });

  it('rejects an unknown model with NOT_FOUND naming the field', async () => {
    const { engine } = engineFixture();
    const err = await failureOf(engine.chat({ model: ref('gpt-9000'), input: input(), ctx: context() }));
    expect(err.kind).toBe('not_found');
    expect(err.reason).toBe(Reason.MODEL_NOT_FOUND);
    expect(err.metadata).toMatchObject({ model: 'gpt-9000', field: 'model' });
  });

  it('rejects max_tokens above the model limit', async () => {
    const { engine } = engineFixture();
    const err = await failureOf(engine.chat({ model: ref('gpt-3.5-turbo'), input: input('hi', 5000), ctx: context() }));
    expect(err.kind).toBe('invalid_argument');
    expect(err.fieldViolations[0]?.field).toBe('max_tokens');
    expect(err.fieldViolations[0]?.description).toContain('4096');
  });

  it('passes an upstream failure through as a typed error with the attempt', async () => {
    const { engine, provider, stats } = engineFixture();
    provider.script('gpt-4o', { kind: 'fail', error: upstreamFailure('boom') });
    const err = await failureOf(engine.chat({ model: ref('gpt-4o'), input: input(), ctx: context() }));
    expect(err.kind).toBe('unavailable');
    expect(err.attempts).toHaveLength(1);
    expect(err.attempts[0]?.outcome).toBe('failure');
    expect(stats.snapshot().models.find((m) => m.name === 'gpt-4o')?.errors).toBe(1);
  });

  it('tries the top three eligible models of a routed request, no more', async () => {
    const { engine, provider } = engineFixture();
    const candidates = ['gpt-4o', 'gpt-4o-mini', 'gpt-4.1', 'gpt-4.1-mini', 'gpt-4.1-nano'];
    for (const model of candidates) provider.script(model, { kind: 'fail', error: upstreamFailure(model) });
    const err = await failureOf(
      engine.chat({
        model: ref(''),
        route: { profile: 'balanced', candidates: candidates.map((name) => ref(name, 'route.candidates')) },
        input: input(),
        ctx: context(),
      }),
    );
    expect(err.attempts).toHaveLength(3);
    expect(provider.calls).toHaveLength(3);
  });

  it('aborts the upstream call when the caller cancels', async () => {
    const { engine, provider } = engineFixture();
    provider.script('gpt-4o', { kind: 'hang' });
    const controller = new AbortController();
    const pending = failureOf(engine.chat({ model: ref('gpt-4o'), input: input(), ctx: context({ controller }) }));
    setTimeout(() => controller.abort(new OrchestratorError({ kind: 'cancelled', reason: Reason.CANCELLED, message: 'bye' })), 20);
    const err = await pending;
    expect(err.kind).toBe('cancelled');
    expect(provider.calls[0]?.aborted).toBe(true);
  });
});

describe('Engine.race', () => {
  it('returns the first success and aborts the losers', async () => {
    const { engine, provider, stats } = engineFixture();
    provider.script('gpt-4o', { kind: 'answer', content: 'slow', delayMs: 500 });
    provider.script('gpt-4o-mini', { kind: 'answer', content: 'fast', delayMs: 5 });
    const answer = await engine.race({
      model: ref(''),
      racers: [ref('gpt-4o', 'models[0]'), ref('gpt-4o-mini', 'models[1]')],
      hedgeDelayMs: 0,
      input: input(),
      ctx: context(),
    });
    expect(answer.content).toBe('fast');
    expect(answer.model).toBe('gpt-4o-mini');
    expect(answer.attempts.map((a) => [a.model, a.outcome])).toEqual([
      ['gpt-4o', 'cancelled'],
      ['gpt-4o-mini', 'success'],
    ]);
    expect(provider.calls.find((c) => c.model === 'gpt-4o')?.aborted).toBe(true);
    expect(answer.latencyMs).toBeLessThan(400);
    expect(stats.snapshot().raceWins).toBe(1);
    expect(stats.snapshot().models.find((m) => m.name === 'gpt-4o-mini')?.raceWins).toBe(1);
  });

  it('keeps racing past a fast failure', async () => {
    const { engine, provider } = engineFixture();
    provider.script('gpt-4o-mini', { kind: 'fail', error: upstreamFailure('down') });
    provider.script('gpt-4o', { kind: 'answer', content: 'made it', delayMs: 20 });
    const answer = await engine.race({
      model: ref(''),
      racers: [ref('gpt-4o-mini'), ref('gpt-4o')],
      hedgeDelayMs: 0,
      input: input(),
      ctx: context(),
    });
    expect(answer.model).toBe('gpt-4o');
    expect(answer.attempts.map((a) => a.outcome)).toEqual(['failure', 'success']);
  });

  it('fails with every failure named when all racers fail', async () => {
    const { engine, provider } = engineFixture();
    provider.script('gpt-4o', { kind: 'fail', error: upstreamFailure('first') });
    provider.script('gpt-4o-mini', { kind: 'fail', error: upstreamFailure('second', 1500) });
    const err = await failureOf(
      engine.race({ model: ref(''), racers: [ref('gpt-4o'), ref('gpt-4o-mini')], hedgeDelayMs: 0, input: input(), ctx: context() }),
    );
    expect(err.reason).toBe(Reason.ALL_ATTEMPTS_FAILED);
    expect(err.message).toContain('gpt-4o: scripted failure: first');
    expect(err.message).toContain('gpt-4o-mini: scripted failure: second');
    expect(err.attempts).toHaveLength(2);
    expect(err.retryAfterMs).toBe(1500);
  });

  it('races the model and its family when no racers are listed', async () => {
    const { engine, provider } = engineFixture();
    provider.script('gpt-4o', { kind: 'answer', content: 'a', delayMs: 50 });
    provider.script('gpt-4o-mini', { kind: 'answer', content: 'b', delayMs: 50 });
    provider.script('gpt-3.5-turbo', { kind: 'answer', content: 'c', delayMs: 1 });
    const answer = await engine.race({ model: ref('gpt-4o'), racers: [], hedgeDelayMs: 0, input: input(), ctx: context() });
    expect(answer.attempts.map((a) => a.model)).toEqual(['gpt-4o', 'gpt-4o-mini', 'gpt-3.5-turbo']);
    expect(answer.model).toBe('gpt-3.5-turbo');
  });

  it('rejects the same model listed twice under different names', async () => {
    const { engine } = engineFixture();
    const err = await failureOf(
      engine.race({
        model: ref(''),
        racers: [ref('gpt-4o', 'models[0]'), ref('4o', 'models[1]')],
        hedgeDelayMs: 0,
        input: input(),
        ctx: context(),
      }),
    );
    expect(err.kind).toBe('invalid_argument');
    expect(err.fieldViolations[0]?.field).toBe('models[1]');
  });
});

describe('Engine.fallback', () => {
  const target = (chain: string[], extra: Partial<{ attemptTimeoutMs: number; disable: boolean }> = {}) => ({
    chain: chain.map((name, i) => ref(name, `models[${i}]`)),
    attemptTimeoutMs: extra.attemptTimeoutMs,
    defaultMessage: undefined,
    disableDefaultMessage: extra.disable ?? false,
  });

  it('answers from the primary without triggering fallback', async () => {
    const { engine, provider, stats } = engineFixture();
    provider.script('gpt-4-turbo', { kind: 'answer', content: 'primary' });
    const answer = await engine.fallback({ model: ref('gpt-4-turbo'), ...target([]), input: input(), ctx: context() });
    expect(answer).toMatchObject({ content: 'primary', model: 'gpt-4-turbo', fallbackTriggered: false, isDefaultMessage: false });
    expect(stats.snapshot().fallbacksTriggered).toBe(0);
  });

  it('follows the catalog chain gpt-4-turbo -> gpt-4o-mini -> gpt-3.5-turbo', async () => {
    const { engine, provider, stats } = engineFixture();
    provider.script('gpt-4-turbo', { kind: 'fail', error: upstreamFailure('a') });
    provider.script('gpt-4o-mini', { kind: 'fail', error: upstreamFailure('b') });
    provider.script('gpt-3.5-turbo', { kind: 'answer', content: 'third time' });
    const answer = await engine.fallback({ model: ref('gpt-4-turbo'), ...target([]), input: input(), ctx: context() });
    expect(answer.model).toBe('gpt-3.5-turbo');
    expect(answer.fallbackTriggered).toBe(true);
    expect(answer.attempts.map((a) => `${a.model}:${a.outcome}`)).toEqual([
      'gpt-4-turbo:failure',
      'gpt-4o-mini:failure',
      'gpt-3.5-turbo:success',
    ]);
    expect(stats.snapshot().fallbacksTriggered).toBe(1);
  });

  it('times out a hanging link and moves on', async () => {
    const { engine, provider } = engineFixture();
    provider.script('gpt-4o', { kind: 'hang' });
    provider.script('gpt-4o-mini', { kind: 'answer', content: 'rescued' });
    const answer = await engine.fallback({
      model: ref(''),
      ...target(['gpt-4o', 'gpt-4o-mini'], { attemptTimeoutMs: 50 }),
      input: input(),
      ctx: context(),
    });
    expect(answer.content).toBe('rescued');
    expect(answer.attempts[0]).toMatchObject({ model: 'gpt-4o', outcome: 'timeout' });
    expect(answer.attempts[0]?.error?.reason).toBe(Reason.UPSTREAM_TIMEOUT);
    expect(provider.calls[0]?.aborted).toBe(true);
  });

  it('shares the remaining deadline among the links left', async () => {
    const { engine, provider } = engineFixture();
    provider.script('gpt-4o', { kind: 'hang' });
    provider.script('gpt-4o-mini', { kind: 'hang' });
    provider.script('gpt-3.5-turbo', { kind: 'answer', content: 'last' });
    const started = Date.now();
    const answer = await engine.fallback({
      model: ref(''),
      ...target(['gpt-4o', 'gpt-4o-mini', 'gpt-3.5-turbo']),
      input: input(),
      ctx: context({ timeoutMs: 3_000 }),
    });
    expect(answer.content).toBe('last');
    const [first, second] = answer.attempts;
    // A third of the deadline each (1,000 ms), not a half (1,500): wide enough for a late timer on a busy machine.
    expect(first?.latencyMs).toBeGreaterThan(750);
    expect(first?.latencyMs).toBeLessThan(1_300);
    expect(second?.latencyMs).toBeGreaterThan(750);
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('splits the deadline among the links the same way for a unary answer and a stream', async () => {
    const shares: { shape: string; latencies: number[]; reasons: (string | undefined)[] }[] = [];
    for (const shape of ['unary', 'stream'] as const) {
      const { engine, provider } = engineFixture();
      provider.script('gpt-4o', { kind: 'hang' });
      provider.script('gpt-4o-mini', { kind: 'hang' });
      provider.script('gpt-3.5-turbo', { kind: 'answer', content: 'last' });
      const models = ['gpt-4o', 'gpt-4o-mini', 'gpt-3.5-turbo'];
      const ctx = context({ timeoutMs: 3_000 });
      let attempts: readonly { latencyMs: number; error?: { reason: string } | undefined }[] = [];
      if (shape === 'unary') {
        attempts = (await engine.fallback({ model: ref(''), ...target(models), input: input(), ctx })).attempts;
      } else {
        const stream = { ...SINGLE, mode: 'fallback' as const, models: models.map((name, i) => ref(name, `models[${i}]`)) };
        for await (const event of eventsOf(engine.stream({ model: ref(''), target: stream, input: input(), ctx }))) {
          if (event.type === 'completed') attempts = event.attempts;
        }
      }
      shares.push({ shape, latencies: attempts.map((a) => a.latencyMs), reasons: attempts.map((a) => a.error?.reason) });
    }
    for (const { latencies, reasons } of shares) {
      // 3 s over three links: the first gets a third (1,000 ms), the second half of what is left;
      // a third, not a half (1,500 ms), with room for a late timer on a busy machine.
      expect(latencies[0]).toBeGreaterThan(750);
      expect(latencies[0]).toBeLessThan(1_300);
      expect(latencies[1]).toBeGreaterThan(750);
      expect(latencies[1]).toBeLessThan(1_300);
      expect(reasons).toEqual([Reason.UPSTREAM_TIMEOUT, Reason.UPSTREAM_TIMEOUT, undefined]);
    }
  });

  it('does not retry a link past its share of the deadline: a Retry-After beyond it moves on at once', async () => {
    const { engine, provider } = engineFixture({ env: { RETRY_MAX_ATTEMPTS: '3' } });
    provider.script('gpt-4o', { kind: 'fail', error: upstreamFailure('429', 2_000) }, { kind: 'answer', content: 'too late' });
    provider.script('gpt-4o-mini', { kind: 'answer', content: 'next' });
    const started = Date.now();
    // 3 s over two links: the first has 1.5 s, its 2 s Retry-After fits the call's deadline but not its share.
    const answer = await engine.fallback({
      model: ref(''),
      ...target(['gpt-4o', 'gpt-4o-mini']),
      input: input(),
      ctx: context({ timeoutMs: 3_000 }),
    });
    expect(answer.content).toBe('next');
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(answer.attempts.map((a) => `${a.model}:${a.outcome}`)).toEqual(['gpt-4o:failure', 'gpt-4o-mini:success']);
  });

  it('serves no default message to a caller that cancelled', async () => {
    const { engine, provider, stats } = engineFixture({ fallbackMessage: 'sorry' });
    provider.script('gpt-4o', { kind: 'hang' });
    provider.script('gpt-4o-mini', { kind: 'hang' });
    const controller = new AbortController();
    setTimeout(() => controller.abort(cancelled('the caller went away')), 50);
    const err = await failureOf(
      engine.fallback({ model: ref(''), ...target(['gpt-4o', 'gpt-4o-mini']), input: input(), ctx: context({ controller }) }),
    );
    expect(err.kind).toBe('cancelled');
    expect(provider.calls.map((c) => c.model)).toEqual(['gpt-4o']);
    expect(stats.snapshot().defaultMessagesServed).toBe(0);
  });

  it('serves the default message when every link fails', async () => {
    const { engine, provider, stats } = engineFixture({ fallbackMessage: 'sorry' });
    provider.script('gpt-4o', { kind: 'fail', error: upstreamFailure('a') });
    provider.script('gpt-4o-mini', { kind: 'fail', error: upstreamFailure('b') });
    const answer = await engine.fallback({ model: ref(''), ...target(['gpt-4o', 'gpt-4o-mini']), input: input(), ctx: context() });
    expect(answer).toMatchObject({ content: 'sorry', isDefaultMessage: true, fallbackTriggered: true, model: '', provider: '' });
    expect(answer.attempts).toHaveLength(2);
    expect(stats.snapshot().defaultMessagesServed).toBe(1);
  });

  it('fails with the aggregate error when the default message is disabled', async () => {
    const { engine, provider } = engineFixture();
    provider.script('gpt-4o', { kind: 'fail', error: upstreamFailure('a') });
    provider.script('gpt-4o-mini', { kind: 'fail', error: upstreamFailure('b') });
    const err = await failureOf(
      engine.fallback({ model: ref(''), ...target(['gpt-4o', 'gpt-4o-mini'], { disable: true }), input: input(), ctx: context() }),
    );
    expect(err.reason).toBe(Reason.ALL_ATTEMPTS_FAILED);
    expect(err.attempts.map((a) => a.model)).toEqual(['gpt-4o', 'gpt-4o-mini']);
  });

  it('caps max_tokens per link instead of rejecting', async () => {
    const { engine, provider } = engineFixture();
    provider.script('gpt-4o', { kind: 'fail', error: upstreamFailure('a') });
    provider.script('gpt-3.5-turbo', { kind: 'answer', content: 'ok' });
    await engine.fallback({ model: ref(''), ...target(['gpt-4o', 'gpt-3.5-turbo']), input: input('hi', 8000), ctx: context() });
    expect(provider.calls.map((c) => c.maxTokens)).toEqual([8000, 4096]);
  });
});

describe('Engine.stream', () => {
  it('yields started, deltas in order, then completed with usage and attempts', async () => {
    const { engine, provider, stats } = engineFixture();
    provider.script('gpt-4o', { kind: 'answer', content: 'one two three' });
    const events = [];
    for await (const event of eventsOf(engine.stream({ model: ref('gpt-4o'), target: SINGLE, input: input(), ctx: context() })))
      events.push(event);
    expect(events.map((e) => e.type)).toEqual(['started', 'delta', 'delta', 'delta', 'completed']);
    const text = events.flatMap((e) => (e.type === 'delta' ? [e.content] : [])).join('');
    expect(text).toBe('one two three');
    const completed = events.at(-1);
    expect(completed?.type === 'completed' && completed.attempts[0]?.outcome).toBe('success');
    expect(completed?.type === 'completed' && completed.usage.completionTokens).toBe(3);
    expect(stats.snapshot().timeToFirstToken.count).toBe(1);
  });

  it('fails a stream cut mid-way and records the partial usage', async () => {
    const { engine, provider, stats } = engineFixture();
    provider.script('gpt-4o', { kind: 'cut', afterTokens: 2 });
    const seen: string[] = [];
    const err = await failureOf(
      (async () => {
        for await (const event of eventsOf(engine.stream({ model: ref('gpt-4o'), target: SINGLE, input: input(), ctx: context() })))
          seen.push(event.type);
      })(),
    );
    expect(seen).toEqual(['started', 'delta', 'delta']);
    expect(err.kind).toBe('unavailable');
    expect(err.attempts[0]?.outcome).toBe('failure');
    expect(stats.snapshot().models.find((m) => m.name === 'gpt-4o')?.completionTokens).toBeGreaterThan(0);
  });

  it('aborts the upstream when the consumer stops reading', async () => {
    const { engine, provider, stats } = engineFixture();
    provider.script('gpt-4o', { kind: 'answer', content: 'a b c d e f', tokenDelayMs: 5 });
    for await (const event of eventsOf(engine.stream({ model: ref('gpt-4o'), target: SINGLE, input: input(), ctx: context() }))) {
      if (event.type === 'delta') break;
    }
    expect(provider.calls[0]?.aborted).toBe(true);
    expect(stats.snapshot().models.find((m) => m.name === 'gpt-4o')?.cancelled).toBe(1);
  });
});

describe('usage reported by an upstream', () => {
  const negative = { promptTokens: -1_000_000, completionTokens: -1_000_000, totalTokens: -2_000_000, cachedTokens: 0 };
  const absurd = { promptTokens: 900_000_000, completionTokens: 3, totalTokens: 900_000_003, cachedTokens: 0 };

  it('is refused when negative or beyond what the request can hold: the attempt is charged an estimate, marked so', async () => {
    const { engine, provider, stats } = engineFixture();
    provider.script(
      'gpt-4o',
      { kind: 'answer', content: 'four words right here', usage: negative },
      { kind: 'answer', content: 'four words right here', usage: absurd },
    );
    for (let i = 0; i < 2; i++) {
      const answer = await engine.chat({ model: ref('gpt-4o'), input: input(), ctx: context() });
      expect(answer.usage.promptTokens).toBeGreaterThan(0);
      expect(answer.usage.promptTokens).toBeLessThan(20);
      expect(answer.usage.completionTokens).toBe(Math.ceil('four words right here'.length / 4));
      expect(answer.costUsd).toBeGreaterThan(0);
      expect(answer.costUsd).toBeLessThan(0.001);
      expect(answer.attempts[0]?.usageEstimated).toBe(true);
    }
    const s = stats.snapshot();
    expect(s.totalCostUsd).toBeGreaterThan(0);
    expect(s.promptTokens).toBeGreaterThan(0);
  });

  it('is refused in a stream too', async () => {
    const { engine, provider } = engineFixture();
    provider.script('gpt-4o', { kind: 'answer', content: 'one two three', usage: negative });
    let completed: Extract<EngineStreamEvent, { type: 'completed' }> | undefined;
    for await (const event of eventsOf(engine.stream({ model: ref('gpt-4o'), target: SINGLE, input: input(), ctx: context() }))) {
      if (event.type === 'completed') completed = event;
    }
    expect(completed?.usage.promptTokens).toBeGreaterThan(0);
    expect(completed?.usage.completionTokens).toBe(Math.ceil('one two three'.length / 4));
    expect(completed?.costUsd).toBeGreaterThan(0);
    expect(completed?.attempts[0]?.usageEstimated).toBe(true);
  });

  it('is kept as reported when it is believable', async () => {
    const { engine, provider } = engineFixture();
    const reported = { promptTokens: 12, completionTokens: 4, totalTokens: 16, cachedTokens: 2 };
    provider.script('gpt-4o', { kind: 'answer', content: 'four words right here', usage: reported });
    const answer = await engine.chat({ model: ref('gpt-4o'), input: input(), ctx: context() });
    expect(answer.usage).toEqual(reported);
    expect(answer.attempts[0]?.usageEstimated).toBeUndefined();
  });
});
