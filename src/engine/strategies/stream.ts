import { performance } from 'node:perf_hooks';
import type { CatalogModel } from '../../catalog/catalog.js';
import { totalCost, type AttemptRecord, type FinishReason, type TokenUsage } from '../../domain/chat.js';
import { isHighSurrogate } from '../../domain/characters.js';
import type { ToolCall, ToolCallDelta } from '../../domain/tools.js';
import { OrchestratorError, Reason } from '../../domain/errors.js';
import type { AttemptSpec, OpenedStream } from '../attempt.js';
import { aggregateFailure } from '../aggregate.js';
import { maxTokensFor, type Answer, type Plan } from '../answer.js';
import type { CallContext } from '../context.js';
import type { EventSink } from '../events.js';
import type { SignalLink } from '../signals.js';
import type { RouteDecision } from '../routing/router.js';
import { SurrogateJoiner } from '../surrogate-joiner.js';

export type EngineStreamEvent =
  | {
      readonly type: 'started';
      readonly model: string;
      readonly provider: string;
      /** Set when the stream replays a cached answer instead of a live model. */
      readonly cache?: Answer['cache'];
    }
  /** Text, or (with content '') a piece of a tool call or of a refusal. */
  | {
      readonly type: 'delta';
      readonly content: string;
      readonly toolCall?: ToolCallDelta | undefined;
      readonly refusal?: string | undefined;
    }
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
      /** The tool calls the deltas carried, assembled. */
      readonly toolCalls?: readonly ToolCall[] | undefined;
      readonly usage: TokenUsage;
      readonly costUsd: number;
      readonly latencyMs: number;
      readonly timeToFirstTokenMs: number;
      readonly attempts: readonly AttemptRecord[];
      readonly fallbackTriggered: boolean;
      readonly decision: RouteDecision | undefined;
    };

/** A stream that produced its first event, with the signal that must stay linked while it runs. */
export interface LiveStream {
  readonly stream: OpenedStream;
  readonly link: SignalLink;
}

/**
 * How a strategy (race.ts, fallback.ts) serves a stream: it opens models until one produces a
 * first event, by its own policy; the relay streams that one.
 */
export interface StreamPolicy {
  /** The next live stream, or undefined when the strategy has nothing left to try. */
  next(): Promise<LiveStream | undefined>;
  /** Whether an answer from this model means the call fell back from its first choice. */
  isFallback(model: string): boolean;
}

/** A stream ready to relay: planned, admitted, its policy chosen. */
export interface PreparedStream {
  /** The admitted call: usage is charged to its ticket. */
  readonly ctx: CallContext;
  /**
   * `onRecord` collects every upstream attempt of the stream, for `completed` and errors, as each
   * ends; `slot` (a racer's index) places it among the others so that the attempts are listed in
   * start order, not in the order they ended.
   */
  readonly policy: (onRecord: (record: AttemptRecord, slot?: number) => void) => StreamPolicy;
  readonly restartOnFailure: boolean;
  /** Set when the chain came from routing; reported in `completed`. */
  readonly decision: RouteDecision | undefined;
  /** Gives back what admission took; called once, when the stream is over however it ends. */
  readonly release: () => void;
  /** When no model produced a first event: a cached answer to replay (offline fallback), if any. */
  readonly offline?: ((err: unknown) => Promise<Answer | undefined>) | undefined;
  /**
   * A replayed answer is a fallback: a chain's, as Fallback's stale answer (served instead of
   * its default message) is; not one model's or a race's, as Chat's and Race's are not.
   */
  readonly staleIsFallback?: boolean | undefined;
}

export interface RelayDeps {
  readonly events: EventSink;
  /** A completed stream that made a single upstream call: its model's time to first token (routing learns it). */
  readonly onModelTimeToFirstToken?: (model: string, ms: number) => void;
}

/** Stream timeouts of a StreamChat; 0: none. */
export interface StreamTimeouts {
  readonly firstTokenTimeoutMs: number;
  readonly interTokenTimeoutMs: number;
}

/** The attempt spec of one streamed model; `deadline` is the link's, never past the call's. */
export function streamSpec(
  plan: Plan,
  model: CatalogModel,
  timeouts: StreamTimeouts,
  ctx: CallContext,
  signal: AbortSignal,
  deadline = ctx.deadline,
): AttemptSpec {
  return {
    model,
    messages: plan.messages,
    temperature: plan.temperature,
    sampling: plan.sampling,
    tooling: plan.tooling,
    maxTokens: maxTokensFor(plan, model),
    signal,
    deadline,
    upstream: ctx.upstream,
    log: ctx.log,
    firstTokenTimeoutMs: timeouts.firstTokenTimeoutMs,
    interTokenTimeoutMs: timeouts.interTokenTimeoutMs,
  };
}

/**
 * The relay of StreamChat, whatever the strategy. `prepare` (plan, admission) runs on the first
 * pull, so refusals come before any event; `release` runs in this generator's finally, so the
 * stream is not wrapped again. Failures before a model's first event are invisible to the
 * client: the policy tries its next model. The first model to produce an event streams;
 * `started` names it. Pull-based: the next upstream chunk is read only when the gRPC writer
 * asks, so backpressure reaches the upstream socket. A failure after tokens were sent ends the
 * stream with the partial usage in the error, or, with restartOnFailure, sends `restarted` and
 * the policy's next model streams from the start. A stream never completes without a finish reason.
 *
 * Events are handed out in groups, one per pull: the deltas one upstream read completed (the
 * provider's grouping), `started` or `restarted` with their model's first ones, `completed`
 * alone; so is what a model's deltas left waiting (half a character, see SurrogateJoiner), once
 * its stream is over. A door writes a group in one go; a pull per event cost a promise and an
 * iterator result each, for every token of every stream.
 */
export async function* relayStream(
  deps: RelayDeps,
  prepare: () => Promise<PreparedStream>,
  /** Sees every event this relay yields, as it yields it (the call's record of its answer). */
  tell?: (event: EngineStreamEvent) => void,
): AsyncGenerator<readonly EngineStreamEvent[]> {
  const out = tell
    ? (event: EngineStreamEvent): EngineStreamEvent => {
        tell(event);
        return event;
      }
    : (event: EngineStreamEvent): EngineStreamEvent => event;
  const prepared = await prepare();
  const { ctx } = prepared;
  // Routing learns the model's own time to first token: ranking and admission are the gateway's.
  const upstreamFrom = performance.now();
  const attempts: AttemptRecord[] = [];
  // An opened stream not yet inside the relay's inner try/finally: closed here if anything throws
  // before it gets there, so its upstream request ends and its breaker and attempt record get
  // their verdict (a half-open breaker waits for it).
  let unrelayed: LiveStream | undefined;
  try {
    // Records without a slot (one model, a fallback chain) come in start order already.
    const slots: number[] = [];
    const policy = prepared.policy((record, slot = Number.MAX_SAFE_INTEGER) => {
      let at = slots.length;
      while (at > 0 && slots[at - 1]! > slot) at--;
      slots.splice(at, 0, slot);
      attempts.splice(at, 0, record);
    });
    let live = await policy.next();
    if (!live) {
      const failure = aggregateFailure(attempts, ctx.signal);
      const cached = await prepared.offline?.(failure);
      if (!cached) throw failure;
      yield [...replay(cached, attempts, prepared)].map(out);
      return;
    }
    unrelayed = live;
    let firstTokenAt: number | undefined;
    // Handed out with the first model's first events, in one group.
    let group: EngineStreamEvent[] = [out({ type: 'started', model: live.stream.model.id, provider: live.stream.provider })];
    let restarted = false;
    for (;;) {
      const { stream } = live;
      let end: { finishReason: FinishReason; usage: TokenUsage; toolCalls?: readonly ToolCall[] | undefined } | undefined;
      let failure: unknown;
      let drained = false;
      const halves = new SurrogateJoiner();
      unrelayed = undefined;
      try {
        let events = stream.first;
        for (;;) {
          for (let i = 0; i < events.length; i++) {
            const event = events[i]!;
            if (event.type === 'end') {
              end = event;
            } else {
              if (firstTokenAt === undefined) {
                firstTokenAt = performance.now();
                deps.events.emit({ type: 'first_token', model: stream.model.id, ms: firstTokenAt - ctx.startedAt });
              }
              // The provider's delta has the engine's shape: relayed as it is, not copied, unless it ends in half a character.
              const delta = halves.pass(event);
              if (delta) group.push(out(delta));
            }
          }
          if (group.length > 0) {
            yield group;
            group = [];
          }
          const next = await stream.rest.next();
          if (next.done) {
            drained = true;
            break;
          }
          events = next.value;
        }
      } catch (err) {
        failure = err;
      } finally {
        // Also runs when the consumer stops: returning the generator aborts the upstream request.
        await close(live, drained);
      }
      const held = halves.flush();
      if (held.length > 0 && !ctx.signal.aborted) yield held.map(out);
      if (end) {
        const finishedAt = performance.now();
        // With earlier attempts the time since the call began is not this model's alone.
        if (attempts.length === 1) deps.onModelTimeToFirstToken?.(stream.model.id, (firstTokenAt ?? finishedAt) - upstreamFrom);
        yield [
          out({
            type: 'completed',
            model: stream.model.id,
            provider: stream.provider,
            finishReason: end.finishReason,
            ...(end.toolCalls && end.toolCalls.length > 0 ? { toolCalls: end.toolCalls } : {}),
            usage: end.usage,
            costUsd: totalCost(attempts),
            latencyMs: finishedAt - ctx.startedAt,
            timeToFirstTokenMs: (firstTokenAt ?? finishedAt) - ctx.startedAt,
            attempts,
            fallbackTriggered: restarted || policy.isFallback(stream.model.id),
            decision: prepared.decision,
          }),
        ];
        return;
      }
      if (!prepared.restartOnFailure || ctx.signal.aborted) throw aggregateFailure(attempts, ctx.signal);
      const replacement = await policy.next();
      if (!replacement) throw aggregateFailure(attempts, ctx.signal);
      unrelayed = replacement;
      deps.events.emit({ type: 'stream_restarted' });
      restarted = true;
      // Handed out with the next model's first events.
      group = [
        out({
          type: 'restarted',
          failedModel: stream.model.id,
          reason: failure instanceof OrchestratorError ? failure.reason : Reason.INTERNAL,
          nextModel: replacement.stream.model.id,
          nextProvider: replacement.stream.provider,
        }),
      ];
      live = replacement;
    }
  } finally {
    if (unrelayed) await close(unrelayed);
    prepared.release();
  }
}

/** Chunks of a replayed answer: a client reads it as it reads a live stream. */
const REPLAY_CHUNK = 256;

/** A cached answer as a stream: `started` says it is stale, the text follows as deltas. */
function* replay(answer: Answer, attempts: readonly AttemptRecord[], prepared: PreparedStream): Generator<EngineStreamEvent> {
  yield { type: 'started', model: answer.model, provider: answer.provider, cache: answer.cache };
  for (const piece of chunksOf(answer.content)) yield { type: 'delta', content: piece };
  for (const piece of chunksOf(answer.refusal ?? '')) yield { type: 'delta', content: '', refusal: piece };
  for (const [index, call] of (answer.toolCalls ?? []).entries()) {
    yield { type: 'delta', content: '', toolCall: { index, id: call.id, name: call.name, arguments: call.arguments } };
  }
  yield {
    type: 'completed',
    model: answer.model,
    provider: answer.provider,
    finishReason: answer.finishReason,
    ...(answer.toolCalls ? { toolCalls: answer.toolCalls } : {}),
    usage: answer.usage,
    costUsd: totalCost(attempts),
    latencyMs: performance.now() - prepared.ctx.startedAt,
    timeToFirstTokenMs: performance.now() - prepared.ctx.startedAt,
    attempts,
    fallbackTriggered: prepared.staleIsFallback ?? false,
    decision: prepared.decision,
  };
}

/** Text in replay chunks, never split between the two halves of a surrogate pair: a lone half is no text, and gRPC's UTF-8 makes it U+FFFD. */
function* chunksOf(text: string): Generator<string> {
  for (let i = 0; i < text.length; ) {
    let end = Math.min(i + REPLAY_CHUNK, text.length);
    if (end < text.length && isHighSurrogate(text.charCodeAt(end - 1))) end++;
    yield text.slice(i, end);
    i = end;
  }
}

/**
 * Ends the upstream request and waits for the breaker's verdict on it, so the next call sees it.
 * A stream read to its end (`drained`) has nothing to end: return() on a finished generator
 * still costs its promises.
 */
async function close(live: LiveStream, drained = false): Promise<void> {
  if (!drained) await live.stream.rest.return(undefined);
  live.link.dispose();
  await live.stream.judged;
}
