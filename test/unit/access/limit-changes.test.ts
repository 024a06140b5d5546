import { describe, expect, it } from 'vitest';
import { RateLimits } from '../../../src/access/limits.js';
import { limitOutcome, limitSpec } from '../../helpers/limit-outcome.js';

const memory = { redis: undefined, failurePolicy: 'local' } as const;

describe('a change to one of the limits of a key or of global (SIGHUP, UpdateApiKey)', () => {
  it("leaves a key's other limit with what it counted: raising its tokens per minute is no fresh minute of requests", async () => {
    const limits = new RateLimits(memory, limitSpec(), [{ name: 'k', spec: { limits: limitSpec(2, 1000) } }]);
    expect([await limitOutcome(limits, 'k'), await limitOutcome(limits, 'k')]).toEqual(['OK', 'OK']);
    limits.setKeys([{ name: 'k', spec: { limits: limitSpec(2, 2000) } }]);
    expect(await limitOutcome(limits, 'k')).toBe('key:k: 2 requests per minute');
  });

  it("leaves global's other limit with what it counted", async () => {
    const limits = new RateLimits(memory, limitSpec(undefined, 100), []);
    expect(await limitOutcome(limits, undefined, 100)).toBe('OK');
    limits.setGlobal(limitSpec(50, 100));
    expect(await limitOutcome(limits, undefined, 1)).toBe('global: 100 tokens per minute');
  });
});
