import type { AttemptRunner } from '../attempt.js';
import { aggregateFailure } from '../aggregate.js';
import { answerFrom, maxTokensFor, type Answer, type Plan } from '../answer.js';
import type { CallContext } from '../context.js';

/** Chat: one model (with its retries), bounded by the call's deadline. */
export async function runSingle(runner: AttemptRunner, plan: Plan, ctx: CallContext): Promise<Answer> {
  const model = plan.models[0];
  if (!model) throw new Error('runSingle needs one model');
  const result = await runner.run({
    model,
    messages: plan.messages,
    temperature: plan.temperature,
    sampling: plan.sampling,
    tooling: plan.tooling,
    maxTokens: maxTokensFor(plan, model),
    signal: ctx.signal,
    deadline: ctx.deadline,
    timeoutMs: plan.attemptTimeoutMs,
    upstream: ctx.upstream,
    log: ctx.log,
  });
  if (!result.ok) throw aggregateFailure(result.records, ctx.signal);
  return answerFrom({ completion: result.value, winner: result.record, attempts: result.records, ctx });
}
