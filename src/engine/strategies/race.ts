import type { AttemptRecord } from '../../domain/chat.js';
import { OrchestratorError, Reason } from '../../domain/errors.js';
import type { AttemptResult, AttemptRunner } from '../attempt.js';
import { aggregateFailure } from '../aggregate.js';
import { answerFrom, maxTokensFor, type Answer, type Plan } from '../answer.js';
import type { CallContext } from '../context.js';
import type { EngineTelemetry } from '../ports.js';
import { childSignal } from '../signals.js';

/**
 * Race: every model at once; the first success wins and the others are aborted, which closes
 * their upstream HTTP requests. Losers are awaited (an abort settles them at once) so the
 * answer lists every attempt with its real outcome.
 */
export async function raceModels(
  deps: { runner: AttemptRunner; telemetry: EngineTelemetry },
  plan: Plan,
  ctx: CallContext,
): Promise<Answer> {
  const race = childSignal(ctx.signal);
  try {
    const pending = plan.models.map((model, index) =>
      deps.runner
        .run({
          model,
          messages: plan.messages,
          temperature: plan.temperature,
          maxTokens: maxTokensFor(plan, model),
          signal: race.signal,
        })
        .then((result) => ({ index, result })),
    );
    const results: (AttemptResult | undefined)[] = plan.models.map(() => undefined);
    const waiting = new Set(pending);
    const byIndex = new Map(pending.map((p, i) => [i, p]));
    while (waiting.size > 0) {
      const { index, result } = await Promise.race(waiting);
      const settled = byIndex.get(index);
      if (settled) waiting.delete(settled);
      results[index] = result;
      if (result.ok) {
        race.abort(
          new OrchestratorError({
            kind: 'cancelled',
            reason: Reason.CANCELLED,
            message: `lost the race to ${result.record.model}`,
          }),
        );
        for (const { index: i, result: r } of await Promise.all(waiting)) results[i] = r;
        const attempts = results.filter((r): r is AttemptResult => r !== undefined).map((r) => r.record);
        deps.telemetry.recordRaceWin(result.record.model);
        return answerFrom({ completion: result.completion, winner: result.record, attempts, ctx });
      }
    }
    const attempts: AttemptRecord[] = results.filter((r): r is AttemptResult => r !== undefined).map((r) => r.record);
    throw aggregateFailure(attempts, ctx.signal);
  } finally {
    race.dispose();
  }
}
