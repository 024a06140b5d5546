import { performance } from 'node:perf_hooks';
import type { CatalogModel } from '../../catalog/catalog.js';
import type { AttemptRecord } from '../../domain/chat.js';
import { totalCost, ZERO_USAGE } from '../../domain/chat.js';
import { linkTimedOut } from '../../domain/call-errors.js';
import type { AttemptRunner } from '../attempt.js';
import { aggregateFailure } from '../aggregate.js';
import { answerFrom, maxTokensFor, type Answer, type FallbackAnswer, type Plan } from '../answer.js';
import type { CallContext } from '../context.js';
import type { EventSink } from '../events.js';
import { timedLink, type SignalLink } from '../signals.js';
import { streamSpec, type StreamPolicy, type StreamTimeouts } from './stream.js';
import { extend } from '../../domain/extend.js';

export interface FallbackOptions {
  /** Fixed budget per link; otherwise the remaining deadline shared by the links left. */
  readonly linkTimeoutMs: number | undefined;
  /** The text served when every link failed; undefined means fail with the aggregate error. */
  readonly defaultMessage: string | undefined;
  /** Asked before the default message is served: an answer worth more (a stale cached one), served in its place. */
  readonly insteadOfDefault?: ((attempts: readonly AttemptRecord[]) => Promise<Answer | undefined>) | undefined;
}

/**
 * A link's budget, the same for a unary answer and a stream: a fixed budget when the caller
 * set one, otherwise an equal share of what is left of the deadline among `links` (this one and
 * the later ones that would be called, `linksSharing`), so a hanging first model cannot use up
 * the time of the others. A unary link must answer within it; a streamed link must produce its
 * first event within it (after that the stream is live, the client has it, and only the call's
 * deadline bounds it).
 */
export function linkBudget(options: { deadline: number; fixedMs: number | undefined; links: number; now?: number }): number {
  if (options.fixedMs !== undefined) return options.fixedMs;
  // The last link has what is left: the call's own deadline bounds it, no timer of its own.
  if (options.links <= 1) return Number.POSITIVE_INFINITY;
  const now = options.now ?? Date.now();
  return (options.deadline - now) / options.links;
}

/**
 * The links that share what is left of the deadline: this one and the later ones that would be
 * called now. A model without a provider or with an open breaker is skipped at once, so a share
 * kept for it would only cut the links that do run short and leave its time unused.
 */
function linksSharing(runner: AttemptRunner, models: readonly CatalogModel[], index: number): number {
  return 1 + models.slice(index + 1).filter((m) => !runner.skipsNow(m)).length;
}

/** A link's signal: follows the call's and aborts when the link's budget runs out. */
function linkSignal(ctx: CallContext, model: CatalogModel, budgetMs: number, fixed: boolean): SignalLink {
  return timedLink(ctx.signal, { ms: budgetMs, reason: () => linkTimedOut(model.id, budgetMs, fixed) });
}

/** Whether the model that answered is not the one the caller named first: the call fell back. */
function fellBack(plan: Plan, model: string): boolean {
  return model !== (plan.primary ?? plan.models[0])?.id;
}

/**
 * Every attempt failed in a way no later try mends: the request refused (by the gateway before
 * sending it, or by the upstream as sent: INVALID_ARGUMENT) or no provider configured for the
 * model (FAILED_PRECONDITION). The default message stands in for an outage, not for these.
 */
function refusedByEvery(attempts: readonly AttemptRecord[]): boolean {
  return attempts.length > 0 && attempts.every((a) => a.error?.kind === 'invalid_argument' || a.error?.kind === 'failed_precondition');
}

/**
 * Fallback: a plain loop over the chain (TensorZero's shape). A link's budget (its retries
 * included) is just that link's failure; the call's deadline bounds the whole loop. Every
 * failure is kept by name.
 */
export async function runFallbackChain(
  deps: { runner: AttemptRunner; events: EventSink },
  plan: Plan,
  options: FallbackOptions,
  ctx: CallContext,
): Promise<FallbackAnswer> {
  const attempts: AttemptRecord[] = [];
  // Links started: a call that ended (cancelled, past its deadline) within its first link never fell back.
  let started = 0;
  for (const [index, model] of plan.models.entries()) {
    if (ctx.signal.aborted) break;
    started += 1;
    const budget = linkBudget({
      deadline: ctx.deadline,
      fixedMs: options.linkTimeoutMs,
      links: linksSharing(deps.runner, plan.models, index),
    });
    const link = linkSignal(ctx, model, budget, options.linkTimeoutMs !== undefined);
    try {
      const result = await deps.runner.run({
        model,
        messages: plan.messages,
        temperature: plan.temperature,
        sampling: plan.sampling,
        tooling: plan.tooling,
        maxTokens: maxTokensFor(plan, model),
        signal: link.signal,
        deadline: Math.min(ctx.deadline, Date.now() + budget),
        upstream: ctx.upstream,
        log: ctx.log,
        timeoutMs: plan.attemptTimeoutMs,
      });
      attempts.push(...result.records);
      if (result.ok) {
        const triggered = fellBack(plan, model.id);
        deps.events.emit({ type: 'fallback', triggered, defaultMessage: false });
        return extend(answerFrom({ completion: result.value, winner: result.record, attempts, ctx }), {
          fallbackTriggered: triggered,
          isDefaultMessage: false,
        });
      }
    } finally {
      link.dispose();
    }
  }
  // A caller that went away gets no default message: there is nobody to read it. Nor does a
  // chain every model of which refused the request or has no provider: "try again in a moment"
  // would fail the same way, and the error says what to change.
  if (options.defaultMessage === undefined || ctx.signal.aborted || refusedByEvery(attempts)) {
    deps.events.emit({ type: 'fallback', triggered: started > 1, defaultMessage: false, failed: true });
    throw aggregateFailure(attempts, ctx.signal);
  }
  const instead = await options.insteadOfDefault?.(attempts);
  if (instead) {
    deps.events.emit({ type: 'fallback', triggered: true, defaultMessage: false });
    return extend(instead, { fallbackTriggered: true, isDefaultMessage: false });
  }
  deps.events.emit({ type: 'fallback', triggered: true, defaultMessage: true });
  ctx.log.warn({ attempts: attempts.map((a) => `${a.model}:${a.outcome}`) }, 'every model failed; serving the default message');
  return {
    content: options.defaultMessage,
    model: '',
    provider: '',
    finishReason: 'unknown',
    usage: ZERO_USAGE,
    costUsd: totalCost(attempts),
    latencyMs: performance.now() - ctx.startedAt,
    attempts,
    fallbackTriggered: true,
    isDefaultMessage: true,
  };
}

/**
 * Fallback for a stream (a single-model stream is a chain of one): the links are opened in
 * order, each within its budget (`linkBudget`), until one produces a first event. Called again
 * after a mid-stream failure (restart), it goes on from the next link.
 */
export function fallbackStream(
  deps: { runner: AttemptRunner },
  plan: Plan,
  timeouts: StreamTimeouts,
  ctx: CallContext,
  onRecord: (record: AttemptRecord) => void,
): StreamPolicy {
  let nextIndex = 0;
  return {
    isFallback: (model) => fellBack(plan, model),
    next: async () => {
      while (nextIndex < plan.models.length && !ctx.signal.aborted) {
        const index = nextIndex++;
        const model = plan.models[index];
        if (!model) break;
        const budget = linkBudget({ deadline: ctx.deadline, fixedMs: undefined, links: linksSharing(deps.runner, plan.models, index) });
        const link = linkSignal(ctx, model, budget, false);
        const deadline = Math.min(ctx.deadline, Date.now() + budget);
        const opened = await deps.runner.openStream(streamSpec(plan, model, timeouts, ctx, link.signal, deadline), onRecord);
        if (opened.ok) {
          // Live: from here only the call's deadline bounds it.
          link.keepWithoutTimeout();
          return { stream: opened.stream, link };
        }
        link.dispose();
      }
      return undefined;
    },
  };
}
