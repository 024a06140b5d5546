import { performance } from 'node:perf_hooks';
import { addUsage, type AttemptRecord, type TokenUsage, usageTotal } from '../../domain/chat.js';
import { OrchestratorError, cancelled, internal } from '../../domain/errors.js';
import { roundUsd } from '../../domain/money.js';
import type { Answer } from '../answer.js';
import { type CallContext, contextWith, type UpstreamObserver } from '../context.js';
import { failedItemAnswer, type BatchItemFacts, type CallAnswer } from '../call-detail.js';
import type { BatchSlots } from '../resilience/batch-slots.js';
import type { RouteDecision } from '../routing/router.js';
import { extend } from '../../domain/extend.js';

/** One item of a batch: its answer is produced by `run`, or it was invalid from the start. */
/** `A`: what an item's run answers; the summary reads its usage and cost, the caller the rest. */
export interface BatchWork<A extends Answer = Answer> {
  readonly index: number;
  readonly requestId: string;
  readonly run: ((ctx: CallContext) => Promise<A>) | undefined;
  /** Set when the item was rejected before running (validation). */
  readonly error: OrchestratorError | undefined;
}

export type BatchEvent<A extends Answer = Answer> =
  /** `completedAt`: epoch ms when the item finished. */
  | { readonly type: 'item'; readonly index: number; readonly requestId: string; readonly completedAt: number; readonly answer: A }
  | {
      readonly type: 'item';
      readonly index: number;
      readonly requestId: string;
      readonly completedAt: number;
      readonly error: OrchestratorError;
    }
  | {
      readonly type: 'summary';
      readonly total: number;
      readonly successful: number;
      readonly failed: number;
      readonly totalLatencyMs: number;
      readonly averageLatencyMs: number;
      readonly usage: TokenUsage;
      readonly costUsd: number;
    };

/**
 * Runs a batch with `concurrency` items at a time, each also holding one of the process-wide
 * batch slots (shared by every batch, so batches together cannot crowd out interactive
 * calls, which never wait for it). Results are yielded as items finish; then a summary. One
 * item's failure is that item's result. Cancelling the call aborts every item still running.
 */
export async function* runBatch<A extends Answer>(
  items: readonly BatchWork<A>[],
  options: { concurrency: number; global: BatchSlots },
  ctx: CallContext,
): AsyncGenerator<BatchEvent<A>> {
  const done: BatchEvent<A>[] = [];
  let wake: (() => void) | undefined;
  const publish = (event: BatchEvent<A>): void => {
    done.push(event);
    wake?.();
  };
  const latencies: number[] = [];
  const usage: TokenUsage = usageTotal();
  let costUsd = 0;
  let successful = 0;

  const charge = (u: TokenUsage, cost: number): void => {
    addUsage(usage, u);
    costUsd += cost;
  };

  const runItem = async (work: BatchWork<A>): Promise<void> => {
    if (!work.run) {
      publish({ type: 'item', index: work.index, requestId: work.requestId, completedAt: Date.now(), error: work.error ?? cancelled() });
      return;
    }
    const run = work.run;
    const started = performance.now();
    const item = itemObserver(ctx.upstream);
    let began = started;
    try {
      const answer = await options.global.run(() => {
        began = performance.now();
        const requestId = work.requestId || `${ctx.requestId}/${work.index}`;
        // What the item logs (a usage report refused, a cached answer served) names the item by the
        // id its answer carries, next to the Batch's own `requestId`.
        const log = ctx.log.child({ itemRequestId: requestId });
        return run(contextWith(ctx, { startedAt: started, requestId, upstream: item?.upstream, log }));
      }, ctx.signal);
      const ended = performance.now();
      latencies.push(ended - started);
      successful += 1;
      charge(answer.usage, answer.costUsd);
      item?.ended({ index: work.index, ok: true, latencyMs: ended - began }, []);
      publish({ type: 'item', index: work.index, requestId: work.requestId, completedAt: Date.now(), answer });
    } catch (err) {
      const ended = performance.now();
      // A failed item's upstream calls were paid for too: the summary covers every item, and so
      // does the call's record (the ledger), told the item's attempts as an answer without text.
      const attempts = err instanceof OrchestratorError ? err.attempts : [];
      if (attempts.length > 0) {
        // An item refused before any upstream request (invalid, unknown model, rate-limited,
        // cancelled while queued, its every model skipped for an open breaker or no provider)
        // took next to no time: averaged in, it would pull the mean below what the items that ran took.
        if (attempts.some((a) => a.outcome !== 'skipped')) latencies.push(ended - started);
        const failed = failedItemAnswer(attempts);
        charge(failed.usage, failed.costUsd);
      }
      item?.ended({ index: work.index, ok: false, latencyMs: ended - began }, attempts);
      publish({ type: 'item', index: work.index, requestId: work.requestId, completedAt: Date.now(), error: asItemError(err, ctx.signal) });
    }
  };

  // A worker starts its next item only while the results waiting for the reader and the items
  // still running (each a result to come) are fewer than `concurrency`: a reader that stops
  // reading stops the batch (its slots, its upstream spend, the results held for it) instead of
  // every item running to a result nobody takes. Counting only the waiting results would let
  // every worker woken by one taken result start an item, close to twice as many held.
  const waitingForRoom: (() => void)[] = [];
  let closed = false;
  let running = 0;
  const makeRoom = (): void => {
    for (let resume = waitingForRoom.shift(); resume; resume = waitingForRoom.shift()) resume();
  };
  const noRoom = (): boolean => done.length + running >= options.concurrency && !ctx.signal.aborted && !closed;
  ctx.signal.addEventListener('abort', makeRoom, { once: true });

  const queue = [...items];
  const worker = async (): Promise<void> => {
    for (;;) {
      // Checked and taken in one step: workers woken together each see the others' items.
      while (noRoom()) await new Promise<void>((resolve) => waitingForRoom.push(resolve));
      const work = closed ? undefined : queue.shift();
      if (!work) return;
      running += 1;
      try {
        await runItem(work);
      } finally {
        running -= 1;
      }
    }
  };
  const workers = Promise.all(Array.from({ length: Math.min(options.concurrency, items.length) }, worker));

  let emitted = 0;
  try {
    while (emitted < items.length) {
      if (done.length === 0) {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
      }
      for (let event = done.shift(); event; event = done.shift()) {
        emitted += 1;
        makeRoom();
        yield event;
      }
    }
  } finally {
    // A reader that leaves early takes nothing more: no item starts for it.
    closed = true;
    makeRoom();
    ctx.signal.removeEventListener('abort', makeRoom);
  }
  await workers;
  const totalLatencyMs = performance.now() - ctx.startedAt;
  yield {
    type: 'summary',
    total: items.length,
    successful,
    failed: items.length - successful,
    totalLatencyMs,
    averageLatencyMs: latencies.length === 0 ? 0 : latencies.reduce((a, b) => a + b, 0) / latencies.length,
    usage,
    costUsd: roundUsd(costUsd),
  };
}

function asItemError(err: unknown, signal: AbortSignal): OrchestratorError {
  if (err instanceof OrchestratorError) return err;
  if (signal.aborted && signal.reason instanceof OrchestratorError) return signal.reason;
  return internal(err);
}

/** An item's answer as the call's record keeps it without LEDGER_CONTENT=full: no text. */
const NO_TEXT = { content: '', refusal: undefined, toolCalls: undefined } as const;

/**
 * A Batch item's view of the call's observer. The item's routing decision and answer are held
 * until the item ends, then told as one answer with how the item went: each routed item is a
 * decision of its own in the call's record, judged by its own outcome and latency, not the
 * Batch's. A failed item is told when it cost something or was routed.
 */
function itemObserver(
  inner: UpstreamObserver | undefined,
): { upstream: UpstreamObserver; ended(item: BatchItemFacts, attempts: readonly AttemptRecord[]): void } | undefined {
  if (!inner) return undefined;
  let decision: RouteDecision | undefined;
  let answer: CallAnswer | undefined;
  return {
    upstream: {
      requestStarted: (attempt) => inner.requestStarted(attempt),
      requested: (request) => inner.requested?.(request),
      failed: (error) => inner.failed?.(error),
      routed: (routed) => {
        decision = routed;
      },
      answered: (answered) => {
        answer = answered;
      },
    },
    ended(item, attempts) {
      const told = item.ok ? answer : attempts.length > 0 || decision ? failedItemAnswer(attempts) : undefined;
      // Held by the call until the Batch ends: without the text the record does not keep, a Batch
      // would hold every item's answer long after its client took it.
      if (told) inner.answered?.(extend(told, extend(inner.keepsAnswerText ? {} : NO_TEXT, { decision: told.decision ?? decision, item })));
    },
  };
}
