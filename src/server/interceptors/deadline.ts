import * as grpc from '@grpc/grpc-js';
import { DEADLINE_KEY } from './metadata-keys.js';

/**
 * Gives every call a deadline: the caller's, or `defaultTimeoutMs` from now when it sent none.
 * Handlers turn it into the AbortSignal the engine and the upstream request obey.
 */
export function deadlineInterceptor(defaultTimeoutMs: number): grpc.ServerInterceptor {
  return (_method, call) => {
    const listener = new grpc.ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        metadata.remove(DEADLINE_KEY);
        metadata.set(DEADLINE_KEY, String(effectiveDeadline(call.getDeadline(), defaultTimeoutMs)));
        next(metadata);
      })
      .build();
    const responder = new grpc.ResponderBuilder().withStart((next) => next(listener)).build();
    return new grpc.ServerInterceptingCall(call, responder);
  };
}

export function effectiveDeadline(deadline: grpc.Deadline, defaultTimeoutMs: number, now = Date.now()): number {
  const given = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(given) ? given : now + defaultTimeoutMs;
}
