import { OrchestratorError, Reason } from '../../domain/errors.js';
import type { AttemptResult, AttemptRunner } from '../attempt.js';
import { aggregateFailure } from '../aggregate.js';
import { answerFrom, maxTokensFor, type Answer, type Plan } from '../answer.js';
import type { CallContext } from '../context.js';
import type { EngineTelemetry } from '../ports.js';
import { childSignal } from '../signals.js';
import { runHedged } from './hedge.js';

/**
 * Race, optionally hedged (gRFC A6 hedging, "The Tail at Scale"): with hedgeDelayMs 0 every
 * model starts at once; otherwise the next model starts only when no answer came within the
 * delay, or at once when a running racer fails. The first success wins; the others are aborted,
 * which closes their upstream requests, and awaited so the answer lists their real outcome.
 */
export async function raceModels(
  deps: { runner: AttemptRunner; telemetry: EngineTelemetry },
  plan: Plan,
  options: { hedgeDelayMs: number },
  ctx: CallContext,
): Promise<Answer> {
  const race = childSignal(ctx.signal);
  try {
    const outcome = await runHedged<AttemptResult>({
      count: plan.models.length,
      hedgeDelayMs: options.hedgeDelayMs,
      isWin: (result) => result.ok,
      start: (index) => {
        const model = plan.models[index]!;
        return deps.runner.run({
          model,
          messages: plan.messages,
          temperature: plan.temperature,
          maxTokens: maxTokensFor(plan, model),
          signal: race.signal,
          deadline: ctx.deadline,
          onUsage: ctx.onUsage,
          upstream: ctx.upstream,
          timeoutMs: plan.attemptTimeoutMs,
        });
      },
    });
    const results = new Map(outcome.settled);
    const winner = outcome.winner;
    if (winner?.result.ok) {
      race.abort(new OrchestratorError({ kind: 'cancelled', reason: Reason.CANCELLED, message: `lost the race to ${winner.result.record.model}` }));
      results.set(winner.index, winner.result);
      for (const [index, loser] of outcome.running) results.set(index, await loser);
    }
    const records = [...results.entries()].sort(([a], [b]) => a - b).flatMap(([, r]) => r.records);
    if (!winner?.result.ok) throw aggregateFailure(records, ctx.signal);
    deps.telemetry.recordRaceWin(winner.result.record.model);
    return answerFrom({ completion: winner.result.completion, winner: winner.result.record, attempts: records, ctx });
  } finally {
    race.dispose();
  }
}
