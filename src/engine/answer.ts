import { performance } from 'node:perf_hooks';
import type { CatalogModel } from '../catalog/catalog.js';
import { totalCost, type AttemptRecord, type ChatMessage, type FinishReason, type Sampling, type TokenUsage } from '../domain/chat.js';
import type { ToolCall, Tooling } from '../domain/tools.js';
import type { ProviderCompletion } from '../providers/types.js';
import type { CallContext } from './context.js';

/** What every strategy returns. */
export interface Answer {
  readonly content: string;
  /** The model's words declining to answer, apart from `content` (ProviderCompletion.refusal). */
  readonly refusal?: string | undefined;
  readonly model: string;
  readonly provider: string;
  readonly finishReason: FinishReason;
  /** The tools the model asked to call (finish reason tool_calls); absent when it called none. */
  readonly toolCalls?: readonly ToolCall[] | undefined;
  readonly usage: TokenUsage;
  /** Cost of every attempt whose usage is known. */
  readonly costUsd: number;
  readonly latencyMs: number;
  readonly attempts: readonly AttemptRecord[];
  /** Set when the response cache was consulted. */
  readonly cache?: { readonly hit: boolean; readonly stale: boolean; readonly ageMs: number } | undefined;
}

export interface FallbackAnswer extends Answer {
  readonly fallbackTriggered: boolean;
  readonly isDefaultMessage: boolean;
}

/** A strategy's resolved work: which models, with what parameters. */
export interface Plan {
  readonly models: readonly CatalogModel[];
  /**
   * The model the caller named first, even when it was left out of `models` for lacking what
   * the request uses: an answer from any other model is a fallback.
   */
  readonly primary: CatalogModel | undefined;
  readonly messages: readonly ChatMessage[];
  readonly temperature: number;
  readonly sampling: Sampling | undefined;
  readonly tooling?: Tooling | undefined;
  /** Per model id: the max_tokens sent to that model. */
  readonly maxTokens: ReadonlyMap<string, number>;
  /** Budget of each upstream call (ATTEMPT_TIMEOUT_MS); undefined: the deadline bounds it. */
  readonly attemptTimeoutMs: number | undefined;
}

export function answerFrom(options: {
  completion: ProviderCompletion;
  winner: AttemptRecord;
  attempts: readonly AttemptRecord[];
  ctx: CallContext;
}): Answer {
  const { completion, winner, attempts, ctx } = options;
  return {
    content: completion.content,
    ...(completion.refusal !== undefined ? { refusal: completion.refusal } : {}),
    model: winner.model,
    provider: winner.provider,
    finishReason: completion.finishReason,
    ...(completion.toolCalls && completion.toolCalls.length > 0 ? { toolCalls: completion.toolCalls } : {}),
    usage: completion.usage,
    costUsd: totalCost(attempts),
    latencyMs: performance.now() - ctx.startedAt,
    attempts,
  };
}

export function maxTokensFor(plan: Plan, model: CatalogModel): number {
  return plan.maxTokens.get(model.id) ?? model.maxOutputTokens;
}
