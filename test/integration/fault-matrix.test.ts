import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FaultRule } from '../../src/providers/simulator/index.js';
import type { StreamChatResponse } from '../../src/gen/orchestrator/v1/chat.js';
import { AttemptOutcome, type Attempt } from '../../src/gen/orchestrator/v1/common.js';
import { callUnary, collectStream, streamRequest, unaryError } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';

/**
 * Every upstream fault against every RPC. The fault hits gpt-4o only; Race and Fallback have
 * gpt-4o-mini to fall back on. Each cell checks what the client sees (code, ErrorInfo reason,
 * RetryInfo, events), the attempts listed, the stats recorded, and that the upstream saw every
 * request it got closed.
 */
const FAULTS: Record<string, FaultRule> = {
  'rate limit (429, Retry-After 30 s)': { kind: 'rate_limit', retryAfter: '30', model: 'gpt-4o' },
  'HTTP 500': { kind: 'http_error', status: 500, model: 'gpt-4o' },
  'HTTP 503': { kind: 'http_error', status: 503, model: 'gpt-4o' },
  hang: { kind: 'hang', model: 'gpt-4o' },
  'mid-stream cut': { kind: 'cut', afterTokens: 3, model: 'gpt-4o' },
  'malformed JSON / SSE chunk': { kind: 'malformed', afterTokens: 1, model: 'gpt-4o' },
  'slow drip (2 tokens/s)': { kind: 'slow', tokensPerSecond: 2, model: 'gpt-4o' },
};

interface Failure {
  code: grpc.status;
  reason: string;
  /** Calls to gpt-4o: 2 when retried (RETRY_MAX_ATTEMPTS=2), 1 when not retryable. */
  calls: number;
  /** StreamChat only: deltas relayed before the failure. */
  deltas?: number;
  retryAfterSeconds?: number;
}

const CHAT: Record<string, Failure> = {
  'rate limit (429, Retry-After 30 s)': { code: grpc.status.UNAVAILABLE, reason: 'UPSTREAM_RATE_LIMITED', calls: 1, retryAfterSeconds: 30 },
  'HTTP 500': { code: grpc.status.UNAVAILABLE, reason: 'UPSTREAM_ERROR', calls: 2 },
  'HTTP 503': { code: grpc.status.UNAVAILABLE, reason: 'UPSTREAM_ERROR', calls: 2 },
  hang: { code: grpc.status.DEADLINE_EXCEEDED, reason: 'UPSTREAM_TIMEOUT', calls: 2 },
  'mid-stream cut': { code: grpc.status.UNAVAILABLE, reason: 'STREAM_TRUNCATED', calls: 2 },
  'malformed JSON / SSE chunk': { code: grpc.status.UNAVAILABLE, reason: 'UPSTREAM_MALFORMED_RESPONSE', calls: 2 },
  'slow drip (2 tokens/s)': { code: grpc.status.DEADLINE_EXCEEDED, reason: 'UPSTREAM_TIMEOUT', calls: 2 },
};

const STREAM: Record<string, Failure> = {
  'rate limit (429, Retry-After 30 s)': { code: grpc.status.UNAVAILABLE, reason: 'UPSTREAM_RATE_LIMITED', calls: 1, deltas: 0, retryAfterSeconds: 30 },
  'HTTP 500': { code: grpc.status.UNAVAILABLE, reason: 'UPSTREAM_ERROR', calls: 2, deltas: 0 },
  'HTTP 503': { code: grpc.status.UNAVAILABLE, reason: 'UPSTREAM_ERROR', calls: 2, deltas: 0 },
  hang: { code: grpc.status.UNAVAILABLE, reason: 'STREAM_STALLED', calls: 2, deltas: 0 },
  // After the first token nothing is retried.
  'mid-stream cut': { code: grpc.status.UNAVAILABLE, reason: 'STREAM_TRUNCATED', calls: 1, deltas: 3 },
  'malformed JSON / SSE chunk': { code: grpc.status.UNAVAILABLE, reason: 'UPSTREAM_MALFORMED_RESPONSE', calls: 1, deltas: 1 },
  'slow drip (2 tokens/s)': { code: grpc.status.UNAVAILABLE, reason: 'STREAM_STALLED', calls: 1, deltas: 1 },
};

let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    env: {
      RETRY_MAX_ATTEMPTS: '2',
      ATTEMPT_TIMEOUT_MS: '300',
      STREAM_FIRST_TOKEN_TIMEOUT_MS: '1000',
      STREAM_INTER_TOKEN_TIMEOUT_MS: '300',
      // Cells are independent: no breaker or retry budget carried from one to the next.
      BREAKER_CONSECUTIVE_FAILURES: '1000',
      BREAKER_FAILURE_RATE: '1',
      RETRY_BUDGET_MAX_TOKENS: '1000',
    },
  });
});
afterAll(async () => h.close());
beforeEach(() => h.upstream.clearFaults());

const DEADLINE_MS = 5_000;

async function gpt4oRequests(): Promise<number> {
  const { response } = await callUnary(h.clients.stats.getStats.bind(h.clients.stats), {});
  return response.models.find((m) => m.name === 'gpt-4o')?.requests ?? 0;
}

/** Runs one cell: injects the fault, runs the call, then checks what every cell must hold. */
async function cell(fault: FaultRule, run: () => Promise<number>): Promise<void> {
  const statsBefore = await gpt4oRequests();
  const upstreamBefore = h.upstream.requests.length;
  h.upstream.injectFault(fault);
  const gpt4oAttempts = await run();
  await h.upstream.waitForIdle(3_000);
  const seen = h.upstream.requests.slice(upstreamBefore);
  expect(seen.every((r) => r.outcome !== 'open')).toBe(true);
  expect(seen.filter((r) => r.model === 'gpt-4o')).toHaveLength(gpt4oAttempts);
  expect((await gpt4oRequests()) - statsBefore).toBe(gpt4oAttempts);
}

function attemptsOf(summary: string | undefined): string[] {
  return (summary ?? '').split(',').filter(Boolean);
}

const isGpt4o = (a: Attempt) => a.model === 'gpt-4o';

describe.each(Object.entries(FAULTS))('upstream fault: %s', (name, fault) => {
  it('Chat fails with the mapped code, reason and attempts', async () => {
    const expected = CHAT[name]!;
    await cell(fault, async () => {
      const err = await unaryError(h.clients.chat.chat.bind(h.clients.chat), { model: 'gpt-4o', prompt: 'matrix', messages: [] }, { deadlineMs: DEADLINE_MS });
      expect(err.code).toBe(expected.code);
      expect(err.decoded.errorInfo?.reason).toBe(expected.reason);
      const attempts = attemptsOf(err.decoded.errorInfo?.metadata['attempts']);
      expect(attempts).toHaveLength(expected.calls);
      expect(attempts.every((a) => a.startsWith('gpt-4o:'))).toBe(true);
      if (expected.retryAfterSeconds) expect(err.decoded.retryInfo?.retryDelay?.seconds).toBe(expected.retryAfterSeconds);
      return expected.calls;
    });
  });

  it('StreamChat fails after the deltas it could relay, never with a completed event', async () => {
    const expected = STREAM[name]!;
    await cell(fault, async () => {
      const { messages, error } = await collectStream(
        h.clients.chat.streamChat(streamRequest({ model: 'gpt-4o', prompt: 'matrix' }), { deadline: Date.now() + DEADLINE_MS }),
      );
      expect(error?.code).toBe(expected.code);
      expect(error?.decoded.errorInfo?.reason).toBe(expected.reason);
      expect(messages.filter((m: StreamChatResponse) => m.event?.$case === 'delta')).toHaveLength(expected.deltas ?? 0);
      expect(messages.some((m: StreamChatResponse) => m.event?.$case === 'completed')).toBe(false);
      expect(attemptsOf(error?.decoded.errorInfo?.metadata['attempts'])).toHaveLength(expected.calls);
      if (expected.deltas) expect(Number(error?.decoded.errorInfo?.metadata['completion_tokens'])).toBeGreaterThan(0);
      if (expected.retryAfterSeconds) expect(error?.decoded.retryInfo?.retryDelay?.seconds).toBe(expected.retryAfterSeconds);
      return expected.calls;
    });
  });

  it('Race is won by the healthy model and the faulty one is closed', async () => {
    await cell(fault, async () => {
      const { response } = await callUnary(
        h.clients.chat.race.bind(h.clients.chat),
        { model: '', prompt: 'matrix', messages: [], models: ['gpt-4o', 'gpt-4o-mini'] },
        { deadlineMs: DEADLINE_MS },
      );
      expect(response.model).toBe('gpt-4o-mini');
      const faulty = response.attempts.filter(isGpt4o);
      expect(faulty.length).toBeGreaterThan(0);
      expect(faulty.every((a) => a.outcome !== AttemptOutcome.ATTEMPT_OUTCOME_SUCCESS)).toBe(true);
      return faulty.length;
    });
  });

  it('Fallback answers from the next model and lists the failed calls first', async () => {
    await cell(fault, async () => {
      const { response } = await callUnary(
        h.clients.chat.fallback.bind(h.clients.chat),
        { model: '', prompt: 'matrix', messages: [], models: ['gpt-4o', 'gpt-4o-mini'], disableDefaultMessage: true, attemptTimeoutMs: 1_500 },
        { deadlineMs: DEADLINE_MS },
      );
      expect(response).toMatchObject({ modelUsed: 'gpt-4o-mini', fallbackTriggered: true, isDefaultMessage: false });
      const faulty = response.attempts.filter(isGpt4o);
      expect(faulty.length).toBe(CHAT[name]!.calls);
      expect(response.attempts.at(-1)).toMatchObject({ model: 'gpt-4o-mini', outcome: AttemptOutcome.ATTEMPT_OUTCOME_SUCCESS });
      return faulty.length;
    });
  });
});
