import type { AttemptRecord } from '../../src/domain/chat.js';

/** One successful attempt at gpt-4o through openai, as the engine reports it; fields overridable. */
export function attemptRecord(fields: Partial<AttemptRecord> = {}): AttemptRecord {
  return {
    model: 'gpt-4o',
    provider: 'openai',
    outcome: 'success',
    latencyMs: 250,
    usage: { promptTokens: 10, completionTokens: 20, totalTokens: 30, cachedTokens: 0 },
    costUsd: 0.002,
    retry: 0,
    backoffMs: 0,
    ...fields,
  };
}
