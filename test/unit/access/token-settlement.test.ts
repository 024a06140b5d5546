import { afterEach, describe, expect, it, vi } from 'vitest';
import { RateLimits } from '../../../src/access/limits.js';

/** tokens_per_minute of 400 for key k, in this process. */
const limitsOf = () =>
  new RateLimits({ redis: undefined, failurePolicy: 'local' }, { requestsPerMinute: undefined, tokensPerMinute: undefined }, [
    { name: 'k', spec: { limits: { requestsPerMinute: undefined, tokensPerMinute: 400 } } },
  ]);
const admits = (limits: RateLimits, tokens: number) =>
  Promise.resolve(limits.admit('k', tokens)).then(
    () => true,
    () => false,
  );

describe('settling a call estimated tokens', () => {
  afterEach(() => vi.useRealTimers());

  it('gives back what a call did not use to the window that took it', async () => {
    vi.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') });
    const limits = limitsOf();
    const admittedAt = Date.now();
    expect(await admits(limits, 400)).toBe(true);
    vi.advanceTimersByTime(5_000);
    await limits.settleTokens('k', 10 - 400, admittedAt);
    expect(await admits(limits, 380)).toBe(true);
    expect(await admits(limits, 20)).toBe(false);
  });

  it('gives nothing to a later window: a call admitted in one minute and ended in the next cannot lift the next above its limit', async () => {
    vi.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') });
    const limits = limitsOf();
    const admittedAt = Date.now();
    expect(await admits(limits, 400)).toBe(true);
    vi.advanceTimersByTime(61_000);
    await limits.settleTokens('k', 10 - 400, admittedAt);
    expect(await admits(limits, 400)).toBe(true);
    expect(await admits(limits, 380)).toBe(false);
  });
});
