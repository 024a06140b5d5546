import type { AttemptRecord } from '../../domain/chat.js';
import { lostRace } from '../../domain/errors.js';
import type { AttemptResult, AttemptRunner, OpenStreamResult } from '../attempt.js';
import { aggregateFailure } from '../aggregate.js';
import { answerFrom, maxTokensFor, type Answer, type Plan } from '../answer.js';
import type { CallContext } from '../context.js';
import type { EventSink } from '../events.js';
import { childSignal, type ChildSignal } from '../signals.js';
import { runHedged } from './hedge.js';
import { streamSpec, type StreamPolicy, type StreamTimeouts } from './stream.js';

/**
 * Race, optionally hedged (gRFC A6 hedging, "The Tail at Scale"): with hedgeDelayMs 0 every
 * model starts at once; otherwise the next model starts only when no answer came within the
 * delay, or at once when a running racer fails. The first success wins; the others are aborted,
 * which closes their upstream requests, and awaited so the answer lists their real outcome.
 */
export async function raceModels(
  deps: { runner: AttemptRunner; events: EventSink },
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
          sampling: plan.sampling,
          tooling: plan.tooling,
          maxTokens: maxTokensFor(plan, model),
          signal: race.signal,
          deadline: ctx.deadline,
          upstream: ctx.upstream,
          log: ctx.log,
          timeoutMs: plan.attemptTimeoutMs,
        });
      },
    });
    const results = new Map(outcome.settled);
    const winner = outcome.winner;
    if (winner?.result.ok) {
      race.abort(lostRace(winner.result.record.model));
      results.set(winner.index, winner.result);
      for (const [index, loser] of outcome.running) results.set(index, await loser);
    }
    const records = [...results.entries()].sort(([a], [b]) => a - b).flatMap(([, r]) => r.records);
    if (!winner?.result.ok) throw aggregateFailure(records, ctx.signal);
    deps.events.emit({ type: 'race_won', model: winner.result.record.model });
    return answerFrom({ completion: winner.result.value, winner: winner.result.record, attempts: records, ctx });
  } finally {
    race.dispose();
  }
}

/**
 * Race for a stream: every racer is opened (hedged if asked); the first to produce an event
 * wins and streams, the rest are closed. A race is never a fallback, and runs once.
 */
export function raceStream(
  deps: { runner: AttemptRunner; events: EventSink },
  plan: Plan,
  options: { hedgeDelayMs: number } & StreamTimeouts,
  ctx: CallContext,
  onRecord: (record: AttemptRecord, slot: number) => void,
): StreamPolicy {
  let raced = false;
  return {
    isFallback: () => false,
    next: async () => {
      if (raced) return undefined;
      raced = true;
      const links = new Map<number, ChildSignal>();
      const release = (index: number): void => {
        links.get(index)?.dispose();
        links.delete(index);
      };
      const outcome = await runHedged<OpenStreamResult>({
        count: plan.models.length,
        hedgeDelayMs: options.hedgeDelayMs,
        isWin: (opened) => opened.ok,
        start: (index) => {
          const link = childSignal(ctx.signal);
          links.set(index, link);
          // Each racer's records in its own slot: the winner's ends last but started first.
          return deps.runner.openStream(streamSpec(plan, plan.models[index]!, options, ctx, link.signal), (record) =>
            onRecord(record, index),
          );
        },
      });
      for (const index of outcome.settled.keys()) release(index);
      const winner = outcome.winner;
      if (!winner?.result.ok) return undefined;
      const stream = winner.result.stream;
      const lost = lostRace(stream.model.id);
      for (const index of outcome.running.keys()) links.get(index)?.abort(lost);
      // A loser that opened at the same moment is closed too.
      for (const [index, loser] of outcome.running) {
        const opened = await loser;
        if (opened.ok) await opened.stream.rest.return(undefined);
        release(index);
      }
      deps.events.emit({ type: 'race_won', model: stream.model.id });
      const link = links.get(winner.index);
      if (!link) throw new Error('race winner lost its signal');
      return { stream, link };
    },
  };
}
