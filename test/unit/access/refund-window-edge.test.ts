import { RateLimiterMemory } from 'rate-limiter-flexible';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RateLimits } from '../../../src/access/limits.js';
import { limitOutcome, limitSpec } from '../../helpers/limit-outcome.js';

describe('a refused call giving back what it took', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    vi.useRealTimers();
  });

  it('gives nothing to a window that began after it took: a refusal at the end of a minute adds no request to the next', async () => {
    vi.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') });
    const limits = new RateLimits({ redis: undefined, failurePolicy: 'local' }, limitSpec(), [
      { name: 'k', spec: { limits: limitSpec(2) } },
    ]);
    // k's minute runs from 0 s; the global tokens' from 30 s, used up at once.
    expect(await limitOutcome(limits, 'k', 1)).toBe('OK');
    vi.advanceTimersByTime(30_000);
    limits.setGlobal(limitSpec(undefined, 100));
    expect(await limitOutcome(limits, undefined, 100)).toBe('OK');
    vi.advanceTimersByTime(29_900);
    // k's request is taken in its first minute; the global tokens refuse, and k's minute ends
    // before the request is given back (a round trip to Redis, a busy event loop).
    const reward = RateLimiterMemory.prototype.reward;
    vi.spyOn(RateLimiterMemory.prototype, 'reward').mockImplementation(function (this: RateLimiterMemory, key, points, options) {
      vi.advanceTimersByTime(200);
      return reward.call(this, key, points, options);
    });
    expect(await limitOutcome(limits, 'k', 1)).toBe('global: 100 tokens per minute');
    vi.restoreAllMocks();
    // Past the global minute, k has its 2 requests in its new minute, not 3.
    vi.advanceTimersByTime(30_000);
    const outcomes = [];
    for (let i = 0; i < 3; i++) outcomes.push(await limitOutcome(limits, 'k', 1));
    expect(outcomes).toEqual(['OK', 'OK', 'key:k: 2 requests per minute']);
  });
});
