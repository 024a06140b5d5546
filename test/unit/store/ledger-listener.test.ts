import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { toCallRecord, type ObservedCall } from '../../../src/store/ledger-listener.js';

const answer = {
  content: 'the answer',
  model: 'gpt-4o-mini',
  provider: 'openai',
  usage: { promptTokens: 3, completionTokens: 4, totalTokens: 7, cachedTokens: 0 },
  costUsd: 0.0001,
  latencyMs: 12,
  requestId: 'r1',
  attempts: [],
  finishReason: 1,
  routeDecision: undefined,
  cache: { hit: true, stale: false, ageSeconds: 3 },
};

const call = (over: Partial<ObservedCall> = {}): ObservedCall => ({
  path: '/orchestrator.v1.ChatService/Chat',
  startedAt: 1_700_000_000_000,
  latencyMs: 12,
  requestId: 'r1',
  keyName: 'alice',
  code: 'OK',
  errorInfo: undefined,
  request: { model: 'gpt-4o-mini', prompt: 'secret question', messages: [] },
  responses: [answer],
  ...over,
});

describe('what the ledger keeps of a call', () => {
  const priceOf = () => 0.0002;

  it('keeps no message content by default', () => {
    const r = toCallRecord(call(), { content: 'none', priceOf });
    expect([r.prompt, r.answer, r.promptSha256]).toEqual([undefined, undefined, undefined]);
  });

  it('LEDGER_CONTENT=hash keeps only the SHA-256 of the prompt', () => {
    const r = toCallRecord(call(), { content: 'hash', priceOf });
    expect(r.promptSha256).toBe(createHash('sha256').update('secret question').digest('hex'));
    expect([r.prompt, r.answer]).toEqual([undefined, undefined]);
  });

  it('LEDGER_CONTENT=full keeps prompt and answer', () => {
    const r = toCallRecord(call(), { content: 'full', priceOf });
    expect([r.prompt, r.answer]).toEqual(['secret question', 'the answer']);
  });

  it("prices what a cache hit saved at the answering model's prices", () => {
    expect(toCallRecord(call(), { content: 'none', priceOf }).costSavedUsd).toBe(0.0002);
    expect(toCallRecord(call({ responses: [{ ...answer, cache: undefined }] }), { content: 'none', priceOf }).costSavedUsd).toBe(0);
  });

  it("reads a failed call's attempts and partial usage from its ErrorInfo", () => {
    const r = toCallRecord(
      call({
        code: 'UNAVAILABLE',
        responses: [],
        errorInfo: {
          reason: 'ALL_ATTEMPTS_FAILED',
          metadata: {
            attempts: 'gpt-4o:UNAVAILABLE:UPSTREAM_ERROR,gpt-4o-mini:DEADLINE_EXCEEDED:UPSTREAM_TIMEOUT',
            prompt_tokens: '9',
            completion_tokens: '2',
            cost_usd: '0.00003',
          },
        },
      }),
      { content: 'none', priceOf },
    );
    expect(r).toMatchObject({
      outcome: 'error',
      reason: 'ALL_ATTEMPTS_FAILED',
      costUsd: 0.00003,
      usage: { promptTokens: 9, completionTokens: 2, totalTokens: 11 },
    });
    expect(r.attempts.map((a) => [a.model, a.outcome, a.code, a.reason])).toEqual([
      ['gpt-4o', 'failure', 'UNAVAILABLE', 'UPSTREAM_ERROR'],
      ['gpt-4o-mini', 'timeout', 'DEADLINE_EXCEEDED', 'UPSTREAM_TIMEOUT'],
    ]);
  });
});
