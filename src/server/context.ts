import { performance } from 'node:perf_hooks';
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { cancelled, deadlineExceeded } from '../domain/errors.js';
import type { CallContext } from '../engine/index.js';
import { DEADLINE_KEY, PRINCIPAL_KEY, REQUEST_ID_KEY } from './interceptors/metadata-keys.js';
import { callSummaryOf } from './interceptors/logging.js';
import type { Principal } from '../domain/principal.js';

type AnyServerCall = grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>;

export interface ServerCallContext extends CallContext {
  /** Aborts the call's signal (for example when the server force-closes streams). */
  abort(reason: unknown): void;
  /** Removes timers and listeners; call once the handler is done. */
  dispose(): void;
}

/**
 * Turns a grpc-js call into the engine's CallContext: the request id and deadline the
 * interceptors put in metadata, and one AbortSignal that fires on client cancel (reason
 * CANCELLED) or when the deadline passes (reason DEADLINE_EXCEEDED).
 */
export function createCallContext(
  call: AnyServerCall,
  log: Logger,
  fallbackTimeoutMs: number,
  principalOf: (name: string) => Principal | undefined = () => undefined,
): ServerCallContext {
  const principalName = call.metadata.get(PRINCIPAL_KEY)[0];
  const principal = typeof principalName === 'string' ? principalOf(principalName) : undefined;
  const startedAt = performance.now();
  const requestId = String(call.metadata.get(REQUEST_ID_KEY)[0] ?? '');
  const deadline = Number(call.metadata.get(DEADLINE_KEY)[0] ?? Date.now() + fallbackTimeoutMs);
  const controller = new AbortController();
  // No timer without a deadline (WatchStats); Node fires longer delays than 2^31-1 ms at once.
  const timer = Number.isFinite(deadline)
    ? setTimeout(
        () => controller.abort(deadlineExceeded('the call deadline passed before the answer was ready')),
        Math.min(Math.max(0, deadline - Date.now()), 2 ** 31 - 1),
      )
    : undefined;
  // grpc-js emits 'cancelled' at the end of every call, successful ones too; after dispose()
  // the listener is gone, so only a cancel while work is in progress aborts.
  const onCancelled = (): void => {
    controller.abort(
      Date.now() >= deadline
        ? deadlineExceeded('the call deadline passed before the answer was ready')
        : cancelled('the client cancelled the call'),
    );
  };
  call.on('cancelled', onCancelled);
  return {
    requestId,
    signal: controller.signal,
    deadline,
    startedAt,
    log: log.child(principal ? { requestId, key: principal.name } : { requestId }),
    principal,
    // The logging interceptor's per-call summary: trace headers, upstream time, usage for the log line.
    upstream: callSummaryOf(call.metadata),
    abort: (reason) => controller.abort(reason),
    dispose: () => {
      clearTimeout(timer);
      call.removeListener('cancelled', onCancelled);
    },
  };
}
