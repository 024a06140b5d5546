import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { OrchestratorError } from '../../../src/domain/errors.js';
import type { AttemptRecord } from '../../../src/domain/chat.js';
import { toCallRecord, type DetailedCall } from '../../../src/store/ledger-listener.js';

const answer = {
  content: 'the answer',
  model: 'gpt-4o-mini',
  provider: 'openai',
  usage: { promptTokens: 3, completionTokens: 4, totalTokens: 7, cachedTokens: 0 },
  costUsd: 0.0001,
  attempts: [],
  cache: { hit: true, stale: false },
};

const call = (over: Partial<DetailedCall['detail']> = {}, code = 'OK'): DetailedCall => ({
  path: '/orchestrator.v1.ChatService/Chat',
  protocol: 'grpc',
  kind: 'unary',
  code,
  latencyMs: 12,
  upstreamMs: 10,
  upstreamRequests: 1,
  detail: {
    requestId: 'r1',
    keyName: 'alice',
    startedAtMs: 1_700_000_000_000,
    request: { model: 'gpt-4o-mini', prompt: 'secret question', raced: false },
    answers: [answer],
    error: undefined,
    ...over,
  },
});

const failedAttempt = (model: string, outcome: AttemptRecord['outcome'], error: OrchestratorError, cost: number): AttemptRecord => ({
  model,
  provider: 'openai',
  outcome,
  error,
  latencyMs: 5,
  usage: { promptTokens: model === 'gpt-4o' ? 9 : 0, completionTokens: model === 'gpt-4o' ? 2 : 0, totalTokens: 0, cachedTokens: 0 },
  costUsd: cost,
  retry: 0,
  backoffMs: 0,
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
    expect(toCallRecord(call({ answers: [{ ...answer, cache: undefined }] }), { content: 'none', priceOf }).costSavedUsd).toBe(0);
  });

  it("keeps a failed call's attempts and the usage and cost they ran up", () => {
    const upstream = new OrchestratorError({ kind: 'unavailable', reason: 'UPSTREAM_ERROR', message: 'boom' });
    const timeout = new OrchestratorError({ kind: 'deadline_exceeded', reason: 'UPSTREAM_TIMEOUT', message: 'slow' });
    const error = new OrchestratorError({
      kind: 'unavailable',
      reason: 'ALL_ATTEMPTS_FAILED',
      message: 'all failed',
      attempts: [failedAttempt('gpt-4o', 'failure', upstream, 0.00003), failedAttempt('gpt-4o-mini', 'timeout', timeout, 0)],
    });
    const r = toCallRecord(call({ answers: [], error }, 'UNAVAILABLE'), { content: 'none', priceOf });
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

  it('keeps what the answered items of a Batch cost when the Batch as a whole failed (the client cancelled it)', () => {
    const paid: AttemptRecord = {
      ...failedAttempt('gpt-4o', 'success', new OrchestratorError({ kind: 'cancelled', reason: 'CANCELLED', message: 'x' }), 0.00011),
      error: undefined,
    };
    const batch = {
      ...call(
        {
          answers: [{ ...answer, cache: undefined, attempts: [paid], costUsd: 0.00011 }],
          error: new OrchestratorError({ kind: 'cancelled', reason: 'CANCELLED', message: 'the client cancelled the call' }),
        },
        'CANCELLED',
      ),
      path: '/orchestrator.v1.ChatService/Batch',
    };
    const r = toCallRecord(batch, { content: 'none', priceOf });
    expect(r).toMatchObject({
      outcome: 'error',
      code: 'CANCELLED',
      costUsd: 0.00011,
      usage: { promptTokens: 9, completionTokens: 2, totalTokens: 11 },
    });
    expect(r.attempts.map((a) => [a.model, a.costUsd])).toEqual([['gpt-4o', 0.00011]]);
    expect(r.model).toBeUndefined();
  });

  it("keeps each attempt's cached, cache-write and reasoning tokens, and adds them up for the call as it does the others", () => {
    const attempt = (usage: AttemptRecord['usage']): AttemptRecord => ({
      model: 'o3',
      provider: 'openai',
      outcome: 'success',
      latencyMs: 5,
      usage,
      costUsd: 0.001,
      retry: 0,
      backoffMs: 0,
    });
    // A retry after a cut: the first attempt read the prompt from the cache and thought a while before it was cut.
    const first = attempt({ promptTokens: 400, completionTokens: 30, totalTokens: 430, cachedTokens: 300, reasoningTokens: 30 });
    const second = attempt({
      promptTokens: 400,
      completionTokens: 50,
      totalTokens: 450,
      cachedTokens: 100,
      cacheWriteTokens: 250,
      reasoningTokens: 20,
    });
    const r = toCallRecord(call({ answers: [{ ...answer, cache: undefined, attempts: [first, second] }] }), { content: 'none', priceOf });
    expect(r.attempts.map((a) => a.usage)).toEqual([
      { promptTokens: 400, completionTokens: 30, totalTokens: 430, cachedTokens: 300, cacheWriteTokens: 0, reasoningTokens: 30 },
      { promptTokens: 400, completionTokens: 50, totalTokens: 450, cachedTokens: 100, cacheWriteTokens: 250, reasoningTokens: 20 },
    ]);
    expect(r.usage).toEqual({
      promptTokens: 800,
      completionTokens: 80,
      totalTokens: 880,
      cachedTokens: 400,
      cacheWriteTokens: 250,
      reasoningTokens: 50,
    });
  });

  it('records the door the call came through', () => {
    expect(toCallRecord({ ...call(), protocol: 'http' }, { content: 'none', priceOf }).protocol).toBe('http');
  });
});
