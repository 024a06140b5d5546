import type { Answer, BatchEvent, BatchWork, CallContext, Engine } from '../../engine/index.js';
import { serverStream, singly, type CallDeps } from '../call.js';
import { CHECKED_PAST_LIMIT, invalidArgument, isLogged, type FieldViolation } from '../../domain/errors.js';
import { acceptableRequestId } from '../../domain/call-state.js';
import type { BatchItemResult, BatchRequest, BatchResponse, ChatResponse } from '../../gen/orchestrator/v1/chat.js';

type BatchItemOutcome = BatchItemResult['outcome'];
import { encodeUsage, timestamp } from '../encode.js';
import { round3 } from '../../domain/latency.js';
import { isInternal, toRpcStatus } from '../errors.js';
import type { ValidationLimits } from '../validate.js';
import { answerChat } from './chat-answer.js';
import { extend } from '../../domain/extend.js';
import type { TokenUsage } from '../../domain/chat.js';

export interface BatchLimits {
  readonly batchMaxItems: number;
  readonly batchDefaultConcurrency: number;
  readonly batchMaxConcurrency: number;
}

/** An item's answer: what the summary reads, and the item's whole ChatResponse. */
interface ItemAnswer extends Answer {
  readonly response: ChatResponse;
}

/**
 * Batch: the batch itself is validated up front (size, concurrency, unique request ids);
 * each item is a Chat request whose own errors, validation included, are that item's result.
 */
export function batchHandler(deps: CallDeps, engine: Engine, limits: ValidationLimits & BatchLimits) {
  return serverStream(
    deps,
    (req: BatchRequest, ctx) => {
      const concurrency = checkBatch(req, limits);
      const items: BatchWork<ItemAnswer>[] = req.items.map((item, index) => ({
        index,
        requestId: item.requestId,
        error: undefined,
        run: async (itemCtx: CallContext): Promise<ItemAnswer> => {
          const response = await answerChat(engine, limits, item.request ?? emptyRequest(), itemCtx);
          return extend(answerOf(response), { response });
        },
      }));
      return singly(engine.batch({ items, concurrency, ctx }));
    },
    (event, ctx) => {
      // The item's status says only "internal error", and the Batch itself ends OK: this is the
      // one place the cause can be told.
      if ('error' in event && isInternal(event.error) && !isLogged(event.error)) {
        const itemRequestId = event.requestId || `${ctx.requestId}/${event.index}`;
        ctx.log.error({ err: event.error, index: event.index, itemRequestId }, 'internal error');
      }
      return encodeBatchEvent(event);
    },
  );
}

function encodeBatchEvent(event: BatchEvent<ItemAnswer>): BatchResponse {
  if (event.type === 'summary') {
    return {
      event: {
        $case: 'summary',
        summary: {
          total: event.total,
          successful: event.successful,
          failed: event.failed,
          totalLatencyMs: round3(event.totalLatencyMs),
          averageLatencyMs: round3(event.averageLatencyMs),
          usage: encodeUsage(event.usage),
          costUsd: event.costUsd,
        },
      },
    };
  }
  const outcome: BatchItemOutcome =
    'answer' in event ? { $case: 'response', response: event.answer.response } : { $case: 'error', error: toRpcStatus(event.error) };
  return {
    event: { $case: 'item', item: { index: event.index, requestId: event.requestId, outcome, completedAt: timestamp(event.completedAt) } },
  };
}

const badId = (id: string): string =>
  `"${id}" is not 1 to 128 visible ASCII characters without spaces (as x-request-id); set one that is, or none`;

function checkBatch(req: BatchRequest, limits: BatchLimits): number {
  const violations: FieldViolation[] = [];
  if (req.items.length === 0) violations.push({ field: 'items', description: 'at least one item is required' });
  if (req.items.length > limits.batchMaxItems) {
    violations.push({ field: 'items', description: `at most ${limits.batchMaxItems} items per batch (got ${req.items.length})` });
  }
  const firstIndex = new Map<string, number>();
  // A batch over the limit is refused by its count: only its first items are read for the rest.
  const checked = req.items.length > limits.batchMaxItems ? req.items.slice(0, CHECKED_PAST_LIMIT) : req.items;
  checked.forEach((item, index) => {
    if (item.requestId === '') return;
    // It names the item's call as x-request-id names a call: in its log line, the ledger and the answer.
    if (acceptableRequestId(item.requestId) === undefined) {
      violations.push({ field: `items[${index}].request_id`, description: badId(item.requestId) });
      return;
    }
    const first = firstIndex.get(item.requestId);
    if (first === undefined) firstIndex.set(item.requestId, index);
    else violations.push({ field: `items[${index}].request_id`, description: `"${item.requestId}" is already used by items[${first}]` });
  });
  const concurrency = req.concurrency ?? limits.batchDefaultConcurrency;
  if (!(concurrency >= 1 && concurrency <= limits.batchMaxConcurrency)) {
    violations.push({ field: 'concurrency', description: `must be between 1 and ${limits.batchMaxConcurrency} (got ${concurrency})` });
  }
  if (violations.length > 0) throw invalidArgument(violations);
  return concurrency;
}

function emptyRequest() {
  return { model: '', messages: [], prompt: '' };
}

/**
 * What the batch summary needs from an item's answer. Its usage is what the item was charged, as
 * its cost is and the call's record counts it: every attempt's tokens (a Race's losers, a
 * Fallback's failed links), none for an answer the cache gave, though its `usage` shows them.
 */
function answerOf(response: ChatResponse): Answer {
  const usage: TokenUsage & { reasoningTokens: number; cacheWriteTokens: number } = {
    promptTokens: 0,
    completionTokens: 0,
    totalTokens: 0,
    cachedTokens: 0,
    reasoningTokens: 0,
    cacheWriteTokens: 0,
  };
  for (const attempt of response.attempts) {
    usage.promptTokens += attempt.usage?.promptTokens ?? 0;
    usage.completionTokens += attempt.usage?.completionTokens ?? 0;
    usage.totalTokens += attempt.usage?.totalTokens ?? 0;
    usage.cachedTokens += attempt.usage?.cachedTokens ?? 0;
    usage.reasoningTokens += attempt.usage?.reasoningTokens ?? 0;
    usage.cacheWriteTokens += attempt.usage?.cacheWriteTokens ?? 0;
  }
  return {
    content: response.content,
    model: response.model,
    provider: response.provider,
    finishReason: 'unknown',
    usage,
    costUsd: response.costUsd,
    latencyMs: response.latencyMs,
    attempts: [],
  };
}
