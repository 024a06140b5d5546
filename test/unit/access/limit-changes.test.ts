import { describe, expect, it } from 'vitest';
import { RateLimits } from '../../../src/access/limits.js';
import type { RateLimitSpec } from '../../../src/config/file.js';
import { OrchestratorError } from '../../../src/domain/errors.js';

const spec = (requestsPerMinute?: number, tokensPerMinute?: number): RateLimitSpec => ({ requestsPerMinute, tokensPerMinute });
const memory = { redis: undefined, failurePolicy: 'local' } as const;

/** 'OK', or the limit that refused (its subject and description). */
async function outcome(limits: RateLimits, key: string | undefined, tokens = 1): Promise<string> {
  try {
    await limits.admit(key, tokens);
    return 'OK';
  } catch (err) {
    if (!(err instanceof OrchestratorError)) throw err;
    return `${err.metadata['quota_subject']}: ${err.metadata['quota_description']}`;
  }
}

describe('a change to one of the limits of a key or of global (SIGHUP, UpdateApiKey)', () => {
  it("leaves a key's other limit with what it counted: raising its tokens per minute is no fresh minute of requests", async () => {
    const limits = new RateLimits(memory, spec(), [{ name: 'k', spec: { limits: spec(2, 1000) } }]);
    expect([await outcome(limits, 'k'), await outcome(limits, 'k')]).toEqual(['OK', 'OK']);
    limits.setKeys([{ name: 'k', spec: { limits: spec(2, 2000) } }]);
    expect(await outcome(limits, 'k')).toBe('key:k: 2 requests per minute');
  });

  it("leaves global's other limit with what it counted", async () => {
    const limits = new RateLimits(memory, spec(undefined, 100), []);
    expect(await outcome(limits, undefined, 100)).toBe('OK');
    limits.setGlobal(spec(50, 100));
    expect(await outcome(limits, undefined, 1)).toBe('global: 100 tokens per minute');
  });
});
