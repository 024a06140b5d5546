import * as grpc from '@grpc/grpc-js';
import { DEADLINE_KEY } from './metadata-keys.js';

/**
 * Gives every call a deadline: the caller's, or `defaultTimeoutMs` from now when it sent none
 * (except the `noDefault` methods, open-ended watches: no deadline unless the caller set one).
 * Handlers turn it into the AbortSignal the engine and the upstream request obey.
 */
export function deadlineInterceptor(defaultTimeoutMs: number, options: { readonly noDefault?: ReadonlySet<string> } = {}): grpc.ServerInterceptor {
  return (method, call) => {
    const fallbackMs = options.noDefault?.has(method.path) ? Infinity : defaultTimeoutMs;
    const listener = new grpc.ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        metadata.remove(DEADLINE_KEY);
        metadata.set(DEADLINE_KEY, String(effectiveDeadline(call.getDeadline(), fallbackMs)));
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
