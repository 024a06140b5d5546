import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FaultRule } from '../../src/simulator/index.js';
import type { StreamChatResponse } from '../../src/gen/orchestrator/v1/chat.js';
import { AttemptOutcome, type Attempt } from '../../src/gen/orchestrator/v1/common.js';
import type { UpstreamStats } from '../../src/gen/orchestrator/v1/stats.js';
import { callUnary, collectStream, streamRequest, unaryError } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';

/**
 * Every upstream fault against every RPC. The fault hits gpt-4o only; Race and Fallback have
 * gpt-4o-mini to fall back on. Each cell checks what the client sees (code, ErrorInfo reason,
 * RetryInfo, events), gpt-4o's attempts one by one (reason, outcome), the difference in
 * gpt-4o's GetStats row (requests, successes, errors, cancellations, retries), and that the
 * upstream saw every request it got closed.
 */

/** What one RPC does against a fault: gpt-4o's attempts by reason ('OK' for a success). */
interface Expected {
  /** Undefined: the call succeeds. */
  readonly code?: grpc.status;
  readonly reason?: string;
  readonly attempts: readonly string[];
  /** StreamChat only: deltas relayed before the failure. */
  readonly deltas?: number;
  readonly retryAfterSeconds?: number;
}

/**
 * A fault and what each RPC makes of it; `unary` holds for Chat and, for gpt-4o's attempts, for
 * Race and Fallback too. A missing entry: the fault does not apply to that kind of call (a
 * malformed JSON body is a unary answer, a malformed SSE chunk a streamed one).
 */
interface Row {
  readonly fault: FaultRule;
  readonly unary?: Expected;
  readonly stream?: Expected;
}

const { UNAVAILABLE, DEADLINE_EXCEEDED } = grpc.status;
const twice = (reason: string) => [reason, reason];

const ROWS: Record<string, Row> = {
  'rate limit (429, Retry-After 30 s)': {
    fault: { kind: 'rate_limit', retryAfter: '30', model: 'gpt-4o' },
    // Retry-After does not fit in the 5 s deadline: no retry, RetryInfo instead.
    unary: { code: UNAVAILABLE, reason: 'UPSTREAM_RATE_LIMITED', attempts: ['UPSTREAM_RATE_LIMITED'], retryAfterSeconds: 30 },
    stream: { code: UNAVAILABLE, reason: 'UPSTREAM_RATE_LIMITED', attempts: ['UPSTREAM_RATE_LIMITED'], deltas: 0, retryAfterSeconds: 30 },
  },
  'HTTP 500': {
    fault: { kind: 'http_error', status: 500, model: 'gpt-4o' },
    unary: { code: UNAVAILABLE, reason: 'UPSTREAM_ERROR', attempts: twice('UPSTREAM_ERROR') },
    stream: { code: UNAVAILABLE, reason: 'UPSTREAM_ERROR', attempts: twice('UPSTREAM_ERROR'), deltas: 0 },
  },
  'HTTP 503': {
    fault: { kind: 'http_error', status: 503, model: 'gpt-4o' },
    unary: { code: UNAVAILABLE, reason: 'UPSTREAM_ERROR', attempts: twice('UPSTREAM_ERROR') },
    stream: { code: UNAVAILABLE, reason: 'UPSTREAM_ERROR', attempts: twice('UPSTREAM_ERROR'), deltas: 0 },
  },
  hang: {
    fault: { kind: 'hang', model: 'gpt-4o' },
    unary: { code: DEADLINE_EXCEEDED, reason: 'UPSTREAM_TIMEOUT', attempts: twice('UPSTREAM_TIMEOUT') },
    stream: { code: UNAVAILABLE, reason: 'STREAM_STALLED', attempts: twice('STREAM_STALLED'), deltas: 0 },
  },
  'mid-stream cut': {
    fault: { kind: 'cut', afterTokens: 3, model: 'gpt-4o' },
    unary: { code: UNAVAILABLE, reason: 'STREAM_TRUNCATED', attempts: twice('STREAM_TRUNCATED') },
    // After the first token nothing is retried.
    stream: { code: UNAVAILABLE, reason: 'STREAM_TRUNCATED', attempts: ['STREAM_TRUNCATED'], deltas: 3 },
  },
  'malformed JSON body': {
    fault: { kind: 'malformed', model: 'gpt-4o' },
    unary: { code: UNAVAILABLE, reason: 'UPSTREAM_MALFORMED_RESPONSE', attempts: twice('UPSTREAM_MALFORMED_RESPONSE') },
  },
  'malformed SSE chunk after the first token': {
    fault: { kind: 'malformed', afterTokens: 1, model: 'gpt-4o' },
    stream: { code: UNAVAILABLE, reason: 'UPSTREAM_MALFORMED_RESPONSE', attempts: ['UPSTREAM_MALFORMED_RESPONSE'], deltas: 1 },
  },
  'malformed SSE chunk before the first token (once)': {
    fault: { kind: 'malformed', afterTokens: 0, model: 'gpt-4o', times: 1 },
    // Retried before anything reached the client: the client sees a clean stream.
    stream: { attempts: ['UPSTREAM_MALFORMED_RESPONSE', 'OK'] },
  },
  'slow drip (2 tokens/s)': {
    fault: { kind: 'slow', tokensPerSecond: 2, model: 'gpt-4o' },
    unary: { code: DEADLINE_EXCEEDED, reason: 'UPSTREAM_TIMEOUT', attempts: twice('UPSTREAM_TIMEOUT') },
    stream: { code: UNAVAILABLE, reason: 'STREAM_STALLED', attempts: ['STREAM_STALLED'], deltas: 1 },
  },
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
/** Race cells with a hedge delay this long start gpt-4o-mini only once gpt-4o has failed. */
const HEDGE_AFTER_FAILURE_MS = 3_000;

const isTimeout = (reason: string) => reason === 'UPSTREAM_TIMEOUT' || reason === 'STREAM_STALLED';
const outcomeOf = (reason: string) => {
  if (reason === 'OK') return AttemptOutcome.ATTEMPT_OUTCOME_SUCCESS;
  if (reason === 'CANCELLED') return AttemptOutcome.ATTEMPT_OUTCOME_CANCELLED;
  return isTimeout(reason) ? AttemptOutcome.ATTEMPT_OUTCOME_TIMEOUT : AttemptOutcome.ATTEMPT_OUTCOME_FAILURE;
};
/** ErrorInfo metadata `attempts`, as src/server/errors.ts summarizes them. */
const summaryOf = (reason: string) =>
  reason === 'OK' ? 'gpt-4o:OK' : `gpt-4o:${reason === 'UPSTREAM_TIMEOUT' ? 'DEADLINE_EXCEEDED' : 'UNAVAILABLE'}:${reason}`;

type Counters = Pick<UpstreamStats, 'requests' | 'successes' | 'errors' | 'cancelled' | 'retries'>;

async function gpt4oStats(): Promise<Counters> {
  const { response } = await callUnary(h.clients.stats.getStats.bind(h.clients.stats), {});
  const row = response.models.find((m) => m.name === 'gpt-4o');
  return {
    requests: row?.requests ?? 0,
    successes: row?.successes ?? 0,
    errors: row?.errors ?? 0,
    cancelled: row?.cancelled ?? 0,
    retries: row?.retries ?? 0,
  };
}

/** What gpt-4o's stats row must gain from its attempts (by reason): one request each, the first not a retry. */
function statsDiffOf(attempts: readonly string[]): Counters {
  const count = (wanted: (r: string) => boolean) => attempts.filter(wanted).length;
  return {
    requests: attempts.length,
    successes: count((r) => r === 'OK'),
    errors: count((r) => r !== 'OK' && r !== 'CANCELLED'),
    cancelled: count((r) => r === 'CANCELLED'),
    retries: attempts.length - 1,
  };
}

/**
 * Runs one cell: injects the fault, runs the call (which checks what the client saw and returns
 * gpt-4o's attempts by reason), then checks what every cell must hold: each upstream request
 * closed, one per attempt, and gpt-4o's stats row grown by exactly those attempts.
 */
async function cell(fault: FaultRule, run: () => Promise<readonly string[]>): Promise<void> {
  const before = await gpt4oStats();
  const upstreamBefore = h.upstream.requests.length;
  h.upstream.injectFault(fault);
  const attempts = await run();
  await h.upstream.waitForIdle(3_000);
  const seen = h.upstream.requests.slice(upstreamBefore);
  expect(seen.every((r) => r.outcome !== 'open')).toBe(true);
  expect(seen.filter((r) => r.model === 'gpt-4o')).toHaveLength(attempts.length);
  const after = await gpt4oStats();
  const diff = Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - before[k as keyof Counters]]));
  expect(diff).toEqual(statsDiffOf(attempts));
}

/** gpt-4o's attempts by reason ('OK' for a success), each checked against its outcome. */
function gpt4oAttempts(attempts: readonly Attempt[]): string[] {
  const faulty = attempts.filter((a) => a.model === 'gpt-4o');
  for (const a of faulty) expect(a.outcome).toBe(outcomeOf(a.reason || 'OK'));
  return faulty.map((a) => a.reason || 'OK');
}

const metadataAttempts = (summary: string | undefined) => (summary ?? '').split(',').filter(Boolean);
const cases = (messages: StreamChatResponse[]) => messages.map((m) => m.event?.$case);

describe.each(Object.entries(ROWS))('upstream fault: %s', (_name, row) => {
  const { fault, unary, stream } = row;

  if (unary)
    it('Chat fails with the mapped code, reason and attempts', async () => {
      const expected = unary!;
      await cell(fault, async () => {
        const err = await unaryError(
          h.clients.chat.chat.bind(h.clients.chat),
          { model: 'gpt-4o', prompt: 'matrix', messages: [] },
          { deadlineMs: DEADLINE_MS },
        );
        expect(err.code).toBe(expected.code);
        expect(err.decoded.errorInfo?.reason).toBe(expected.reason);
        expect(metadataAttempts(err.decoded.errorInfo?.metadata['attempts'])).toEqual(expected.attempts.map(summaryOf));
        if (expected.retryAfterSeconds) expect(err.decoded.retryInfo?.retryDelay?.seconds).toBe(expected.retryAfterSeconds);
        // An answer cut off after it began was processed upstream: its prompt is charged.
        if (expected.reason === 'STREAM_TRUNCATED') expect(Number(err.decoded.errorInfo?.metadata['prompt_tokens'])).toBeGreaterThan(0);
        return expected.attempts;
      });
    });

  if (stream)
    it('StreamChat relays what it can, and never completes after a failure', async () => {
      const expected = stream!;
      await cell(fault, async () => {
        const { messages, error } = await collectStream(
          h.clients.chat.streamChat(streamRequest({ model: 'gpt-4o', prompt: 'matrix' }), { deadline: Date.now() + DEADLINE_MS }),
        );
        if (expected.code === undefined) {
          // Invisible: one started, the deltas of the retried call, completed; no restart.
          expect(error).toBeUndefined();
          expect(cases(messages).filter((c) => c !== 'delta')).toEqual(['started', 'completed']);
          const completed = messages.at(-1)?.event;
          if (completed?.$case !== 'completed') throw new Error('no completed event');
          expect(gpt4oAttempts(completed.completed.attempts)).toEqual(expected.attempts);
          return expected.attempts;
        }
        expect(error?.code).toBe(expected.code);
        expect(error?.decoded.errorInfo?.reason).toBe(expected.reason);
        expect(cases(messages).filter((c) => c === 'delta')).toHaveLength(expected.deltas ?? 0);
        expect(cases(messages)).not.toContain('completed');
        expect(metadataAttempts(error?.decoded.errorInfo?.metadata['attempts'])).toEqual(expected.attempts.map(summaryOf));
        if (expected.deltas) expect(Number(error?.decoded.errorInfo?.metadata['completion_tokens'])).toBeGreaterThan(0);
        if (expected.retryAfterSeconds) expect(error?.decoded.retryInfo?.retryDelay?.seconds).toBe(expected.retryAfterSeconds);
        return expected.attempts;
      });
    });

  const race = (hedgeDelayMs: number) =>
    callUnary(
      h.clients.chat.race.bind(h.clients.chat),
      { model: '', prompt: 'matrix', messages: [], models: ['gpt-4o', 'gpt-4o-mini'], hedgeDelayMs },
      { deadlineMs: DEADLINE_MS },
    );

  if (unary)
    it('Race (all at once) is won by the healthy model; the faulty one failed as in Chat or lost', async () => {
      const expected = unary!;
      await cell(fault, async () => {
        const { response } = await race(0);
        expect(response.model).toBe('gpt-4o-mini');
        const seen = gpt4oAttempts(response.attempts);
        // Which of the two comes first is a matter of timing: gpt-4o either failed as in Chat
        // (all its attempts, or the first ones) or was still trying and was cancelled.
        const lost = seen.at(-1) === 'CANCELLED';
        const failed = lost ? seen.slice(0, -1) : seen;
        expect(failed).toEqual(expected.attempts.slice(0, failed.length));
        expect(lost ? failed.length < expected.attempts.length : failed.length >= 1).toBe(true);
        return seen;
      });
    });

  if (unary)
    it('Race (hedged) starts the healthy model when the faulty one failed exactly as in Chat', async () => {
      const expected = unary!;
      await cell(fault, async () => {
        const { response } = await race(HEDGE_AFTER_FAILURE_MS);
        expect(response.model).toBe('gpt-4o-mini');
        expect(gpt4oAttempts(response.attempts)).toEqual(expected.attempts);
        expect(response.attempts.at(-1)).toMatchObject({ model: 'gpt-4o-mini', outcome: AttemptOutcome.ATTEMPT_OUTCOME_SUCCESS });
        return expected.attempts;
      });
    });

  if (unary)
    it('Fallback answers from the next model and lists the failed calls first', async () => {
      const expected = unary!;
      await cell(fault, async () => {
        const { response } = await callUnary(
          h.clients.chat.fallback.bind(h.clients.chat),
          {
            model: '',
            prompt: 'matrix',
            messages: [],
            models: ['gpt-4o', 'gpt-4o-mini'],
            disableDefaultMessage: true,
            attemptTimeoutMs: 1_500,
          },
          { deadlineMs: DEADLINE_MS },
        );
        expect(response).toMatchObject({ modelUsed: 'gpt-4o-mini', fallbackTriggered: true, isDefaultMessage: false });
        expect(gpt4oAttempts(response.attempts)).toEqual(expected.attempts);
        expect(response.attempts.at(-1)).toMatchObject({ model: 'gpt-4o-mini', outcome: AttemptOutcome.ATTEMPT_OUTCOME_SUCCESS });
        return expected.attempts;
      });
    });
});
