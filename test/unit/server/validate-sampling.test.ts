import { describe, expect, it } from 'vitest';
import type { OrchestratorError } from '../../../src/domain/errors.js';
import { ReasoningEffort, type SamplingOptions } from '../../../src/gen/orchestrator/v1/common.js';
import { RequestValidator } from '../../../src/server/validate.js';

const LIMITS = { maxContentChars: 50_000, maxModelsPerCall: 5, defaultTemperature: 0.7 };
const sampled = (fields: Partial<SamplingOptions>): SamplingOptions => ({ stop: [], user: '', reasoningEffort: 0, ...fields });
const conversation = (sampling: SamplingOptions) => {
  const v = new RequestValidator(LIMITS);
  const input = v.conversation({ model: 'o3', prompt: 'hi', messages: [], sampling });
  v.check();
  return input;
};

describe('sampling.reasoning_effort on the gRPC door', () => {
  it.each([
    [ReasoningEffort.REASONING_EFFORT_NONE, 'none'],
    [ReasoningEffort.REASONING_EFFORT_MINIMAL, 'minimal'],
    [ReasoningEffort.REASONING_EFFORT_LOW, 'low'],
    [ReasoningEffort.REASONING_EFFORT_MEDIUM, 'medium'],
    [ReasoningEffort.REASONING_EFFORT_HIGH, 'high'],
    [ReasoningEffort.REASONING_EFFORT_XHIGH, 'xhigh'],
    [ReasoningEffort.REASONING_EFFORT_MAX, 'max'],
  ])('reads %s as %s', (effort, name) => {
    expect(conversation(sampled({ reasoningEffort: effort })).sampling).toEqual({ reasoningEffort: name });
  });

  it('reads UNSPECIFIED as unset', () => {
    expect(conversation(sampled({})).sampling).toBeUndefined();
    expect(conversation(sampled({ seed: 4 })).sampling).toEqual({ seed: 4 });
  });

  it('refuses a number the contract does not define, naming the field and the values', () => {
    let err: OrchestratorError | undefined;
    try {
      conversation(sampled({ reasoningEffort: 42 as ReasoningEffort }));
    } catch (e) {
      err = e as OrchestratorError;
    }
    expect(err?.fieldViolations).toEqual([
      {
        field: 'sampling.reasoning_effort',
        description: 'must be one of REASONING_EFFORT_UNSPECIFIED, NONE, MINIMAL, LOW, MEDIUM, HIGH, XHIGH, MAX (got 42)',
      },
    ]);
  });
});
