import type { CallSummary } from '../telemetry/call-summary.js';
import type { Principal } from './principal.js';

/** Which front door a call came through. */
export type CallProtocol = 'grpc' | 'http';

/**
 * What the front door learns about a call before its handler runs, written once by the front
 * door's middleware (the gRPC interceptor, or an HTTP front door's) and read once when the
 * handler builds its CallContext. No transport types: the same state for every protocol.
 */
export interface CallState {
  readonly protocol: CallProtocol;
  /** The method called: a gRPC path ("/orchestrator.v1.ChatService/Chat") or an HTTP route. */
  readonly method: string;
  /** The caller's request id when acceptable, else a fresh one. */
  readonly requestId: string;
  /** performance.now() when the call arrived; latencies are measured from here. */
  readonly startedAt: number;
  /** Epoch milliseconds when the call's deadline (the caller's or the default) runs out; Infinity for none. */
  readonly deadline: number;
  /** The API key's identity; undefined when the service is open or the method needs no key. */
  readonly principal: Principal | undefined;
  /** The call's trace, usage and upstream time, for its log line; the engine feeds it. */
  readonly summary: CallSummary;
}

/** Visible ASCII (no spaces, so an id is one word in any log), short enough for logs; anything else is replaced by a fresh id. */
const ACCEPTABLE_ID = /^[\x21-\x7e]{1,128}$/;

/** The caller's request id when it is one we can log safely, else undefined. */
export function acceptableRequestId(given: string | undefined): string | undefined {
  return given !== undefined && ACCEPTABLE_ID.test(given) ? given : undefined;
}

/**
 * The deadline a call runs under: the caller's (epoch ms, Infinity when it sent none), else
 * `defaultTimeoutMs` from now; `defaultTimeoutMs` Infinity leaves an open-ended call without one.
 */
export function effectiveDeadline(callerDeadline: number, defaultTimeoutMs: number, now = Date.now()): number {
  return Number.isFinite(callerDeadline) ? callerDeadline : now + defaultTimeoutMs;
}
