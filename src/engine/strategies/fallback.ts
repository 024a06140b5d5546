import { performance } from 'node:perf_hooks';
import type { AttemptRecord } from '../../domain/chat.js';
import { ZERO_USAGE } from '../../domain/chat.js';
import { OrchestratorError, Reason } from '../../domain/errors.js';
import type { AttemptRunner } from '../attempt.js';
import { aggregateFailure } from '../aggregate.js';
import { answerFrom, maxTokensFor, totalCost, type FallbackAnswer, type Plan } from '../answer.js';
import type { CallContext } from '../context.js';
import type { EngineTelemetry } from '../ports.js';
import { childSignal } from '../signals.js';

export interface FallbackOptions {
  /** Fixed budget per link; otherwise the remaining deadline shared by the links left. */
  readonly linkTimeoutMs: number | undefined;
  /** The text served when every link failed; undefined means fail with the aggregate error. */
  readonly defaultMessage: string | undefined;
}

/**
 * Fallback: a plain loop over the chain (TensorZero's shape). A link's budget (its retries
 * included) is just that link's failure; the call's deadline bounds the whole loop. Every
 * failure is kept by name.
 */
export async function runFallbackChain(
  deps: { runner: AttemptRunner; telemetry: EngineTelemetry },
  plan: Plan,
  options: FallbackOptions,
  ctx: CallContext,
): Promise<FallbackAnswer> {
  const attempts: AttemptRecord[] = [];
  for (const [index, model] of plan.models.entries()) {
    if (ctx.signal.aborted) break;
    const budget = options.linkTimeoutMs ?? (ctx.deadline - Date.now()) / (plan.models.length - index);
    const link = childSignal(ctx.signal, { ms: budget, reason: () => linkTimeout(model.id, budget, options.linkTimeoutMs !== undefined) });
    try {
      const result = await deps.runner.run({
        model,
        messages: plan.messages,
        temperature: plan.temperature,
        maxTokens: maxTokensFor(plan, model),
        signal: link.signal,
        deadline: Math.min(ctx.deadline, Date.now() + budget),
        onUsage: ctx.onUsage,
        upstream: ctx.upstream,
        timeoutMs: plan.attemptTimeoutMs,
      });
      attempts.push(...result.records);
      if (result.ok) {
        const triggered = index > 0;
        deps.telemetry.recordFallback({ triggered, defaultMessage: false });
        return {
          ...answerFrom({ completion: result.completion, winner: result.record, attempts, ctx }),
          fallbackTriggered: triggered,
          isDefaultMessage: false,
        };
      }
    } finally {
      link.dispose();
    }
  }
  // A caller that went away gets no default message: there is nobody to read it.
  if (options.defaultMessage === undefined || ctx.signal.aborted) {
    deps.telemetry.recordFallback({ triggered: plan.models.length > 1, defaultMessage: false });
    throw aggregateFailure(attempts, ctx.signal);
  }
  deps.telemetry.recordFallback({ triggered: true, defaultMessage: true });
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

function linkTimeout(model: string, ms: number, fixed: boolean): OrchestratorError {
  return new OrchestratorError({
    kind: 'deadline_exceeded',
    reason: Reason.UPSTREAM_TIMEOUT,
    message: `${model} did not answer within ${fixed ? 'attempt_timeout_ms' : 'its share of the deadline'} (${Math.round(ms)} ms)`,
    retryable: true,
    metadata: { model, timeout_ms: String(Math.round(ms)) },
  });
}
