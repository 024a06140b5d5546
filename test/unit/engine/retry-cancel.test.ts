import { describe, expect, it } from 'vitest';
import { OrchestratorError } from '../../../src/domain/errors.js';
import { context, engineFixture, input, ref } from '../../helpers/engine-fixture.js';
import { upstreamFailure } from '../../helpers/scripted-provider.js';

/**
 * A caller that goes away while a retry waits out its backoff ends the call at once: the sleep is
 * cut short and no further upstream request is made.
 */
describe('cancelling during a retry backoff', () => {
  it('ends the call at once, after one upstream call', async () => {
    const { engine, provider } = engineFixture({
      env: { RETRY_MAX_ATTEMPTS: '3', RETRY_INITIAL_BACKOFF_MS: '5000', RETRY_MAX_BACKOFF_MS: '5000' },
    });
    // The upstream asks for a 5 s wait too, so every reading of the backoff is long.
    provider.script('gpt-4o', { kind: 'fail', error: upstreamFailure('blip', 5_000) }, { kind: 'answer', content: 'too late' });
    const controller = new AbortController();
    const started = Date.now();
    const call = engine.chat({ model: ref('gpt-4o'), input: input(), ctx: context({ controller, timeoutMs: 60_000 }) });
    setTimeout(() => controller.abort(), 100);
    const error = await call.then(
      () => undefined,
      (err: unknown) => err,
    );
    const elapsed = Date.now() - started;
    // The failure that led to the wait is what the call ended on; the caller's own status is CANCELLED.
    expect(error).toBeInstanceOf(OrchestratorError);
    expect(elapsed).toBeLessThan(2_000);
    expect(provider.calls.filter((c) => c.model === 'gpt-4o')).toHaveLength(1);
  });
});
