import type { AttemptRecord } from '../../domain/chat.js';
import { OrchestratorError, Reason } from '../../domain/errors.js';
import type { AttemptResult, AttemptRunner } from '../attempt.js';
import { aggregateFailure } from '../aggregate.js';
import { answerFrom, maxTokensFor, type Answer, type Plan } from '../answer.js';
import type { CallContext } from '../context.js';
import type { EngineTelemetry } from '../ports.js';
import { childSignal } from '../signals.js';
import { hedgeTimer, type HedgeTimer } from './hedge.js';

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
  const results = new Map<number, AttemptResult>();
  const running = new Map<number, Promise<{ index: number; result: AttemptResult }>>();
  let started = 0;
  const startNext = (): void => {
    const index = started++;
    const model = plan.models[index];
    if (!model) return;
    const attempt = deps.runner
      .run({
        model,
        messages: plan.messages,
        temperature: plan.temperature,
        maxTokens: maxTokensFor(plan, model),
        signal: race.signal,
        deadline: ctx.deadline,
        onUsage: ctx.onUsage,
        timeoutMs: plan.attemptTimeoutMs,
      })
      .then((result) => ({ index, result }));
    running.set(index, attempt);
  };
  const records = (): AttemptRecord[] =>
    [...results.entries()].sort(([a], [b]) => a - b).flatMap(([, r]) => r.records);

  let timer: HedgeTimer | undefined;
  try {
    startNext();
    while (options.hedgeDelayMs <= 0 && started < plan.models.length) startNext();
    while (running.size > 0) {
      timer = started < plan.models.length ? hedgeTimer(options.hedgeDelayMs) : undefined;
      const settled = await Promise.race([...running.values(), ...(timer ? [timer.fired] : [])]);
      timer?.cancel();
      if (settled === 'hedge') {
        startNext();
        continue;
      }
      running.delete(settled.index);
      results.set(settled.index, settled.result);
      if (settled.result.ok) {
        race.abort(
          new OrchestratorError({ kind: 'cancelled', reason: Reason.CANCELLED, message: `lost the race to ${settled.result.record.model}` }),
        );
        for (const { index, result } of await Promise.all(running.values())) results.set(index, result);
        deps.telemetry.recordRaceWin(settled.result.record.model);
        return answerFrom({ completion: settled.result.completion, winner: settled.result.record, attempts: records(), ctx });
      }
      if (started < plan.models.length) startNext();
    }
    throw aggregateFailure(records(), ctx.signal);
  } finally {
    timer?.cancel();
    race.dispose();
  }
}
