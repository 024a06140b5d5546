import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { REQUEST_ID_KEY } from './metadata-keys.js';

/** Printable ASCII, short enough for logs; anything else is replaced by a fresh id. */
const ACCEPTABLE_ID = /^[\x21-\x7e]{1,128}$/;

/**
 * Takes `x-request-id` from the caller or makes one, so handlers and logs see it, and sends
 * it back in both response headers and trailers (trailers reach the client even when a call
 * fails before any header was sent).
 */
export const requestIdInterceptor: grpc.ServerInterceptor = (_method, call) => {
  let requestId = '';
  const listener = new grpc.ServerListenerBuilder()
    .withOnReceiveMetadata((metadata, next) => {
      const given = metadata.get(REQUEST_ID_KEY)[0];
      requestId = typeof given === 'string' && ACCEPTABLE_ID.test(given) ? given : randomUUID();
      metadata.set(REQUEST_ID_KEY, requestId);
      next(metadata);
    })
    .build();
  const responder = new grpc.ResponderBuilder()
    .withStart((next) => next(listener))
    .withSendMetadata((metadata, next) => {
      if (requestId) metadata.set(REQUEST_ID_KEY, requestId);
      next(metadata);
    })
    .withSendStatus((status, next) => {
      if (requestId) {
        const metadata = status.metadata ?? new grpc.Metadata();
        metadata.set(REQUEST_ID_KEY, requestId);
        next({ ...status, metadata });
        return;
      }
      next(status);
    })
    .build();
  return new grpc.ServerInterceptingCall(call, responder);
};
