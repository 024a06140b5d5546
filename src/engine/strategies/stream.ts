import { performance } from 'node:perf_hooks';
import type { CatalogModel } from '../../catalog/catalog.js';
import type { AttemptRecord, FinishReason, TokenUsage } from '../../domain/chat.js';
import { OrchestratorError, Reason } from '../../domain/errors.js';
import type { AttemptRunner, OpenedStream, OpenStreamResult } from '../attempt.js';
import { aggregateFailure } from '../aggregate.js';
import { maxTokensFor, totalCost, type Plan } from '../answer.js';
import type { CallContext } from '../context.js';
import type { EngineTelemetry } from '../ports.js';
import { childSignal, type ChildSignal } from '../signals.js';
import { runHedged } from './hedge.js';
import type { RouteDecision } from '../routing/router.js';

export type EngineStreamEvent =
  | { readonly type: 'started'; readonly model: string; readonly provider: string }
  | { readonly type: 'delta'; readonly content: string }
  | {
      readonly type: 'restarted';
      readonly failedModel: string;
      readonly reason: string;
      readonly nextModel: string;
      readonly nextProvider: string;
    }
  | {
      readonly type: 'completed';
      readonly model: string;
      readonly provider: string;
      readonly finishReason: FinishReason;
      readonly usage: TokenUsage;
      readonly costUsd: number;
      readonly latencyMs: number;
      readonly timeToFirstTokenMs: number;
      readonly attempts: readonly AttemptRecord[];
      readonly fallbackTriggered: boolean;
      readonly decision: RouteDecision | undefined;
    };

export interface StreamOptions {
  readonly mode: 'single' | 'fallback' | 'race';
  readonly hedgeDelayMs: number;
  readonly restartOnFailure: boolean;
  readonly firstTokenTimeoutMs: number;
  readonly interTokenTimeoutMs: number;
  /** Set when the chain came from routing; reported in `completed`. */
  readonly decision: RouteDecision | undefined;
}

interface Deps {
  readonly runner: AttemptRunner;
  readonly telemetry: EngineTelemetry;
  /** A completed stream that made a single upstream call: its model's time to first token (routing learns it). */
  readonly onModelTimeToFirstToken?: (model: string, ms: number) => void;
}

/** A stream that produced its first event, with the signal that must stay linked while it runs. */
interface Live {
  readonly stream: OpenedStream;
  readonly link: ChildSignal;
}

/**
 * StreamChat with a strategy. Models are opened (with retries) until they produce a first
 * event; failures before that are invisible to the client: the next model (fallback) or the
 * next racer takes over. The first model to produce a token streams; `started` names it.
 * Pull-based relay: the next upstream chunk is read only when the gRPC writer asks, so
 * backpressure reaches the upstream socket. A failure after tokens were sent ends the stream
 * with the partial usage in the error, or, with restartOnFailure, sends `restarted` and the
 * next model streams from the start. A stream never completes without a finish reason.
 */
export async function* streamWithStrategy(deps: Deps, plan: Plan, options: StreamOptions, ctx: CallContext): AsyncGenerator<EngineStreamEvent> {
  const attempts: AttemptRecord[] = [];
  const onRecord = (record: AttemptRecord): void => {
    attempts.push(record);
  };
  let nextIndex = 0;
  const openNext = async (): Promise<Live | undefined> => {
    if (options.mode === 'race' && nextIndex === 0) {
      nextIndex = plan.models.length;
      return openRace(deps, plan, options, ctx, onRecord);
    }
    const limit = options.mode === 'single' ? 1 : plan.models.length;
    while (nextIndex < limit && !ctx.signal.aborted) {
      const model = plan.models[nextIndex++];
      if (!model) break;
      const link = childSignal(ctx.signal);
      const opened = await deps.runner.openStream(specFor(plan, model, options, ctx, link.signal), onRecord);
      if (opened.ok) return { stream: opened.stream, link };
      link.dispose();
    }
    return undefined;
  };

  let firstTokenAt: number | undefined;
  let live = await openNext();
  if (!live) throw aggregateFailure(attempts, ctx.signal);
  // An opened stream not yet inside the relay's try/finally: closed here if the consumer stops
  // at `started` or `restarted`, so its upstream request ends and its breaker and attempt
  // record get their verdict (a half-open breaker waits for it).
  let unrelayed: Live | undefined = live;
  try {
    yield { type: 'started', model: live.stream.model.id, provider: live.stream.provider };
    let restarted = false;
    for (;;) {
      const { stream, link } = live;
      let end: { finishReason: FinishReason; usage: TokenUsage } | undefined;
      let failure: unknown;
      unrelayed = undefined;
      try {
        let event = stream.first;
        for (;;) {
          if (event.type === 'end') {
            end = event;
          } else {
            if (firstTokenAt === undefined) {
              firstTokenAt = performance.now();
              deps.telemetry.recordTimeToFirstToken(firstTokenAt - ctx.startedAt, stream.model.id);
            }
            yield { type: 'delta', content: event.content };
          }
          const next = await stream.rest.next();
          if (next.done) break;
          event = next.value;
        }
      } catch (err) {
        failure = err;
      } finally {
        // Also runs when the consumer stops: returning the generator aborts the upstream request.
        await stream.rest.return(undefined);
        link.dispose();
      }
      if (end) {
        const finishedAt = performance.now();
        // With earlier attempts the time since the call began is not this model's alone.
        if (attempts.length === 1) deps.onModelTimeToFirstToken?.(stream.model.id, (firstTokenAt ?? finishedAt) - ctx.startedAt);
        yield {
          type: 'completed',
          model: stream.model.id,
          provider: stream.provider,
          finishReason: end.finishReason,
          usage: end.usage,
          costUsd: totalCost(attempts),
          latencyMs: finishedAt - ctx.startedAt,
          timeToFirstTokenMs: (firstTokenAt ?? finishedAt) - ctx.startedAt,
          attempts,
          // A race's losers are not a fallback; a restart or a later link of the chain is.
          fallbackTriggered: restarted || (options.mode === 'fallback' && stream.model.id !== plan.models[0]?.id),
          decision: options.decision,
        };
        return;
      }
      if (!options.restartOnFailure || ctx.signal.aborted) throw aggregateFailure(attempts, ctx.signal);
      const replacement = await openNext();
      if (!replacement) throw aggregateFailure(attempts, ctx.signal);
      unrelayed = replacement;
      deps.telemetry.recordStreamRestart();
      restarted = true;
      yield {
        type: 'restarted',
        failedModel: stream.model.id,
        reason: failure instanceof OrchestratorError ? failure.reason : Reason.INTERNAL,
        nextModel: replacement.stream.model.id,
        nextProvider: replacement.stream.provider,
      };
      live = replacement;
    }
  } finally {
    if (unrelayed) {
      await unrelayed.stream.rest.return(undefined);
      unrelayed.link.dispose();
    }
  }
}

/** Open every racer (hedged if asked); the first to produce an event wins, the rest are closed. */
async function openRace(
  deps: Deps,
  plan: Plan,
  options: StreamOptions,
  ctx: CallContext,
  onRecord: (record: AttemptRecord) => void,
): Promise<Live | undefined> {
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
      return deps.runner.openStream(specFor(plan, plan.models[index]!, options, ctx, link.signal), onRecord);
    },
  });
  for (const index of outcome.settled.keys()) release(index);
  const winner = outcome.winner;
  if (!winner?.result.ok) return undefined;
  const stream = winner.result.stream;
  const lost = new OrchestratorError({ kind: 'cancelled', reason: Reason.CANCELLED, message: `lost the race to ${stream.model.id}` });
  for (const index of outcome.running.keys()) links.get(index)?.abort(lost);
  // A loser that opened at the same moment is closed too.
  for (const [index, loser] of outcome.running) {
    const opened = await loser;
    if (opened.ok) await opened.stream.rest.return(undefined);
    release(index);
  }
  deps.telemetry.recordRaceWin(stream.model.id);
  const link = links.get(winner.index);
  if (!link) throw new Error('race winner lost its signal');
  return { stream, link };
}

function specFor(plan: Plan, model: CatalogModel, options: StreamOptions, ctx: CallContext, signal: AbortSignal) {
  return {
    model,
    messages: plan.messages,
    temperature: plan.temperature,
    maxTokens: maxTokensFor(plan, model),
    signal,
    deadline: ctx.deadline,
    onUsage: ctx.onUsage,
    upstream: ctx.upstream,
    firstTokenTimeoutMs: options.firstTokenTimeoutMs,
    interTokenTimeoutMs: options.interTokenTimeoutMs,
  };
}
