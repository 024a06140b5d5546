import type { RateLimits } from '../../src/access/limits.js';
import type { RateLimitSpec } from '../../src/config/file.js';
import { OrchestratorError } from '../../src/domain/errors.js';

export const limitSpec = (requestsPerMinute?: number, tokensPerMinute?: number): RateLimitSpec => ({ requestsPerMinute, tokensPerMinute });

/** 'OK', or the limit that refused (its subject and description). */
export async function limitOutcome(limits: RateLimits, key: string | undefined, tokens = 1): Promise<string> {
  try {
    await limits.admit(key, tokens);
    return 'OK';
  } catch (err) {
    if (!(err instanceof OrchestratorError)) throw err;
    return `${err.metadata['quota_subject']}: ${err.metadata['quota_description']}`;
  }
}
