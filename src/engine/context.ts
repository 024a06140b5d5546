import type { Logger } from 'pino';
import type { AttemptRecord, UpstreamOperation } from '../domain/chat.js';
import type { Principal } from '../domain/principal.js';
import type { CallAnswer, CallRequestFacts, RelayedSoFar } from './call-detail.js';
import type { RouteDecision } from './routing/router.js';

/** What the engine knows about the call it serves. Built by the server layer. */
export interface CallContext {
  readonly requestId: string;
  /** Aborts on caller cancel (reason: cancelled) or deadline (reason: deadline_exceeded). */
  readonly signal: AbortSignal;
  /** Epoch milliseconds when the call's deadline (or the configured default) runs out. */
  readonly deadline: number;
  readonly log: Logger;
  /** performance.now() when the call arrived; latencies are measured from here. */
  readonly startedAt: number;
  /** The API key's identity when keys are configured. */
  readonly principal?: Principal | undefined;
  /** Told when each upstream request starts and ends: the headers it carries (tracing), its record (upstream time, usage charged to limits). */
  readonly upstream?: UpstreamObserver | undefined;
  /** Attaches the caller's request tags to the call's log line and trace (never to metric labels). */
  readonly tag?: ((tags: Readonly<Record<string, string>>) => void) | undefined;
}

/**
 * A context for the same call with some of its fields replaced (a Batch item's id and clock, an
 * admitted call's upstream observer). Written out field by field, where `{ ...ctx, upstream }`
 * would do: Node 20's optimised code gives an object that opens with a spread and then gains a
 * key a new hidden class each time, and a context is read all along a call. The mapped type
 * makes a field added to CallContext a compile error here until it is carried.
 */
export function contextWith(
  ctx: CallContext,
  changes: Partial<Pick<CallContext, 'requestId' | 'startedAt' | 'upstream' | 'log'>>,
): CallContext {
  const next: { [K in keyof Required<CallContext>]: CallContext[K] } = {
    requestId: changes.requestId ?? ctx.requestId,
    signal: ctx.signal,
    deadline: ctx.deadline,
    log: changes.log ?? ctx.log,
    startedAt: changes.startedAt ?? ctx.startedAt,
    principal: ctx.principal,
    upstream: 'upstream' in changes ? changes.upstream : ctx.upstream,
    tag: ctx.tag,
  };
  return next;
}

/** The upstream request an attempt is about to send. */
export interface UpstreamAttempt {
  readonly model: string;
  readonly provider: string;
  readonly retry: number;
  /** Absent for a chat completion. */
  readonly operation?: UpstreamOperation;
}

/** One upstream request as the call sees it (server layer: tracing, upstream time, the log line). */
export interface UpstreamRequest {
  /** Extra HTTP headers for this request (W3C traceparent, tracestate). */
  readonly headers: Readonly<Record<string, string>>;
  /** Called once when the request is over, whatever the outcome, with its record. */
  ended(record: AttemptRecord): void;
}

/** Told about each upstream request of a call as it starts (CallContext.upstream). */
export interface UpstreamObserver {
  requestStarted(attempt: UpstreamAttempt): UpstreamRequest;
  /** What the call asks for, told once it is understood (records: the ledger). */
  requested?(request: CallRequestFacts): void;
  /** An answer the call produced (a Batch: one per item). */
  answered?(answer: CallAnswer): void;
  /**
   * Whether the call's record keeps the answer's text (LEDGER_CONTENT=full): only then does a
   * stream collect the text it relays for `answered` and `relaying`, which is otherwise a copy of
   * the whole answer held for the length of the stream.
   */
  readonly keepsAnswerText?: boolean;
  /**
   * What a stream relayed so far, read when the call ends: a stream cancelled or cut midway has
   * no answer, but its client was sent this.
   */
  relaying?(relayed: () => RelayedSoFar): void;
  /** The call failed with this error (told by the door, which sees every failure). */
  failed?(error: unknown): void;
  /** Routing chose the call's chain: told before the chain runs, so a failed call has it too. */
  routed?(decision: RouteDecision): void;
}
