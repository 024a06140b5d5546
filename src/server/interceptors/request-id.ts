import type * as grpc from '@grpc/grpc-js';
import { acceptableRequestId } from '../../domain/call-state.js';
import { timeOrderedId } from '../../domain/ids.js';

/** The header that carries the request id both ways. */
export const REQUEST_ID_KEY = 'x-request-id';

/** The caller's `x-request-id` when acceptable, else a fresh one. */
export function requestIdOf(metadata: grpc.Metadata): string {
  const given = metadata.get(REQUEST_ID_KEY)[0];
  return acceptableRequestId(typeof given === 'string' ? given : undefined) ?? timeOrderedId();
}

/**
 * Stamps the request id on response headers and trailers (trailers reach the client even when
 * a call fails before any header was sent).
 */
export function stampRequestId(metadata: grpc.Metadata, requestId: string): grpc.Metadata {
  metadata.set(REQUEST_ID_KEY, requestId);
  return metadata;
}
