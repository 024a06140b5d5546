import { describe, expect, it } from 'vitest';
import type { OrchestratorError } from '../../../src/domain/errors.js';
import { parseChatRequest } from '../../../src/http/chat-request.js';

const LIMITS = { maxContentChars: 50_000, maxModelsPerCall: 5, defaultTemperature: 0.7 };
const parse = (fields: Record<string, unknown>) =>
  parseChatRequest({ model: 'o3', messages: [{ role: 'user', content: 'hi' }], ...fields }, {}, LIMITS);
const refusal = (fields: Record<string, unknown>) => {
  try {
    parse(fields);
  } catch (err) {
    return (err as OrchestratorError).fieldViolations;
  }
  throw new Error('accepted');
};

describe('reasoning_effort on the HTTP door', () => {
  it.each(['none', 'minimal', 'low', 'medium', 'high', 'xhigh', 'max'])('takes %s, as the openai SDK sends it', (effort) => {
    expect(parse({ reasoning_effort: effort }).input.sampling).toEqual({ reasoningEffort: effort });
  });

  it('reads null as absent', () => {
    expect(parse({ reasoning_effort: null }).input.sampling).toBeUndefined();
  });

  it.each(['extreme', 'LOW', '', 3, true])('refuses %j naming the field and listing the values', (effort) => {
    expect(refusal({ reasoning_effort: effort })).toEqual([
      { field: 'reasoning_effort', description: expect.stringContaining('must be one of none, minimal, low, medium, high, xhigh, max') },
    ]);
  });
});
