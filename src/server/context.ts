import { performance } from 'node:perf_hooks';
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { Aborter } from '../domain/abort.js';
import type { CallState } from '../domain/call-state.js';
import { cancelled } from '../domain/errors.js';
import type { CallContext } from '../engine/index.js';
import { callStateOf } from './interceptors/call-state.js';
import { callerDeadline, endedByDeadline } from './interceptors/deadline.js';
import { armDeadline, callDeadlinePassed } from '../domain/timers.js';

type AnyServerCall = grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>;

export interface ServerCallContext extends CallContext {
  /** Aborts the call's signal (for example when the server force-closes streams). */
  abort(reason: unknown): void;
  /** Removes timers and listeners; call once the handler is done. */
  dispose(): void;
}

/**
 * Turns a grpc-js call into the engine's CallContext: the state the call interceptor wrote
 * (request id, deadline, principal, summary), and one AbortSignal that fires on client cancel
 * (reason CANCELLED) or when the deadline passes (reason DEADLINE_EXCEEDED).
 */
export function createCallContext(call: AnyServerCall, log: Logger, fallbackTimeoutMs: number): ServerCallContext {
  const state = callStateOf(call.metadata) ?? bareState(call, fallbackTimeoutMs);
  const { requestId, deadline, principal } = state;
  const controller = new Aborter();
  // No timer without a deadline (WatchStats).
  const disarm = armDeadline(deadline, (reason) => controller.abort(reason));
  // grpc-js emits 'cancelled' at the end of every call, successful ones too; after dispose()
  // the listener is gone, so only a cancel while work is in progress aborts.
  const onCancelled = (): void => {
    controller.abort(endedByDeadline(deadline) ? callDeadlinePassed() : cancelled('the client cancelled the call'));
  };
  call.on('cancelled', onCancelled);
  state.summary?.begin();
  return {
    requestId,
    signal: controller.signal,
    deadline,
    startedAt: state.startedAt,
    log: log.child(principal ? { requestId, key: principal.name } : { requestId }),
    principal,
    upstream: state.summary,
    tag: (tags) => state.summary?.tag(tags),
    abort: (reason) => controller.abort(reason),
    dispose: () => {
      disarm();
      call.removeListener('cancelled', onCancelled);
      state.summary?.settle();
    },
  };
}

/** A server without the call interceptor (handler tests): no id, no key, the caller's deadline or the default. */
function bareState(call: AnyServerCall, fallbackTimeoutMs: number): Omit<CallState, 'summary'> & { readonly summary: undefined } {
  const given = callerDeadline(call.getDeadline());
  return {
    protocol: 'grpc',
    method: call.getPath(),
    requestId: '',
    startedAt: performance.now(),
    deadline: Number.isFinite(given) ? given : Date.now() + fallbackTimeoutMs,
    principal: undefined,
    summary: undefined,
  };
}
