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
