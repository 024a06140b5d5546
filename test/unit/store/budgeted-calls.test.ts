import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ApiKeyStore } from '../../../src/access/keys.js';
import type { ApiKeySpec } from '../../../src/config/file.js';
import { budgetedCallsFrom } from '../../../src/store/access-wiring.js';

const key = (name: string, usdPerMonth: number | undefined): ApiKeySpec => ({
  name,
  sha256: createHash('sha256').update(`secret-${name}`).digest('hex'),
  allowedModels: ['*'],
  limits: { requestsPerMinute: undefined, tokensPerMinute: undefined },
  budgets: { usdPerDay: 1, usdPerMonth },
});

describe('the calls retention keeps for budgets read from the ledger', () => {
  it('are the current UTC month’s while a key has a monthly budget, runtime keys included', () => {
    const keys = new ApiKeyStore([key('daily-only', undefined)]);
    const keepFrom = budgetedCallsFrom(keys);
    const now = Date.UTC(2026, 0, 1, 0, 30);
    expect(keepFrom(now)).toBeUndefined();
    keys.setRuntimeKeys([key('monthly', 20)]);
    expect(keepFrom(now)).toBe(Date.UTC(2026, 0, 1));
    expect(keepFrom(Date.UTC(2028, 1, 29, 23, 59))).toBe(Date.UTC(2028, 1, 1));
    keys.setRuntimeKeys([], true);
    expect(keepFrom(now)).toBeUndefined();
  });

  it('are the current month’s while the runtime keys are not read yet, which may hold a monthly budget', () => {
    const keys = new ApiKeyStore([key('daily-only', undefined)]);
    const keepFrom = budgetedCallsFrom(keys);
    const now = Date.UTC(2026, 4, 17, 0, 17);
    // A database that was not reachable at start-up: its keys are unknown until the next read.
    keys.awaitRuntimeKeys();
    expect(keepFrom(now)).toBe(Date.UTC(2026, 4, 1));
    keys.setRuntimeKeys([key('daily-too', undefined)]);
    expect(keepFrom(now)).toBeUndefined();
  });
});
