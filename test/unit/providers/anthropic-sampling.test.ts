import { describe, expect, it } from 'vitest';
import type { OrchestratorError } from '../../../src/domain/errors.js';
import { applySampling, type SamplingBody } from '../../../src/providers/anthropic/sampling.js';

describe('the Messages API and reasoning_effort', () => {
  it('is refused by field and provider, never dropped: the thinking budget is another API', () => {
    const body: SamplingBody = {};
    let err: OrchestratorError | undefined;
    try {
      applySampling(body, { reasoningEffort: 'low', user: 'u' }, { provider: 'anthropic', model: 'claude-x', takesTopP: false });
    } catch (e) {
      err = e as OrchestratorError;
    }
    expect(err?.fieldViolations).toEqual([
      {
        field: 'sampling.reasoning_effort',
        description: 'provider anthropic (model claude-x) cannot honour reasoning_effort: remove it or choose a model of another provider',
      },
    ]);
    expect(body).toEqual({});
  });
});
