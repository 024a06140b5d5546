import type * as grpc from '@grpc/grpc-js';
import { effectiveDeadline } from '../../domain/call-state.js';

/** grpc-js's deadline (a Date, or Infinity when the caller sent none) as epoch milliseconds. */
export function callerDeadline(deadline: grpc.Deadline): number {
  return deadline instanceof Date ? deadline.getTime() : deadline;
}

/**
 * Every call gets a deadline: the caller's, or `defaultTimeoutMs` from now when it sent none,
 * except `openEnded` methods (watches): no deadline unless the caller set one. Handlers turn it
 * into the AbortSignal the engine and the upstream request obey.
 */
export function deadlinePolicy(defaultTimeoutMs: number, openEnded: ReadonlySet<string> = new Set()) {
  return (path: string, deadline: grpc.Deadline, now = Date.now()): number =>
    effectiveDeadline(callerDeadline(deadline), openEnded.has(path) ? Infinity : defaultTimeoutMs, now);
}

/**
 * How long before our reading of its deadline a call the client ended still counts as ended by
 * that deadline. A client's own deadline timer ends the call with RST_STREAM CANCEL, the frame an
 * explicit cancel sends; and grpc-js dates the deadline from when this process read the call's
 * headers, its timeout rounded up, so the client's timer fires first by the headers' transit and
 * our event loop's lag (up to tens of milliseconds on a busy machine). Without the margin about
 * half of the calls that ran out of time were counted as client cancels.
 */
const DEADLINE_MARGIN_MS = 250;

/** Whether a call the client ended at `now` ran out of time rather than being cancelled. */
export function endedByDeadline(deadline: number, now = Date.now()): boolean {
  return now >= deadline - DEADLINE_MARGIN_MS;
}
