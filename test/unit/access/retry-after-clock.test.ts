import { afterEach, describe, expect, it, vi } from 'vitest';
import { RateLimits } from '../../../src/access/limits.js';
import { OrchestratorError } from '../../../src/domain/errors.js';

describe('the time to retry at of a rate limit refusal', () => {
  afterEach(() => vi.useRealTimers());

  it('is never longer than the window, even after the wall clock was set back', async () => {
    vi.useFakeTimers({ now: new Date('2026-01-01T12:00:00Z') });
    const limits = new RateLimits({ redis: undefined, failurePolicy: 'local' }, { requestsPerMinute: 1, tokensPerMinute: undefined }, []);
    await limits.admit(undefined, 1);
    // NTP stepping the clock back an hour (a VM resumed, a clock fixed by hand).
    vi.setSystemTime(new Date('2026-01-01T11:00:00Z'));
    const refused = await Promise.resolve(limits.admit(undefined, 1)).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(refused).toBeInstanceOf(OrchestratorError);
    const retryAfterMs = (refused as OrchestratorError).retryAfterMs ?? Number.NaN;
    expect(retryAfterMs).toBeGreaterThan(0);
    expect(retryAfterMs).toBeLessThanOrEqual(60_000);
  });
});
