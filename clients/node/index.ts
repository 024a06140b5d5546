/**
 * @llm-orchestrator/client: the gateway's messages and grpc-js service clients, plus what a
 * caller needs to read its errors. Every generated file is also importable on its own, e.g.
 * `@llm-orchestrator/client/orchestrator/v1/chat`.
 */
import type { Metadata } from '@grpc/grpc-js';
import { BadRequest, ErrorInfo, QuotaFailure, RetryInfo } from './gen/google/rpc/error_details.js';
import { Status } from './gen/google/rpc/status.js';

export * from './gen/orchestrator/v1/chat.js';
export * from './gen/orchestrator/v1/common.js';
export * from './gen/orchestrator/v1/embedding.js';
export * from './gen/orchestrator/v1/keys.js';
export * from './gen/orchestrator/v1/models.js';
export * from './gen/orchestrator/v1/stats.js';
export * from './gen/orchestrator/v1/usage.js';
export { BadRequest, ErrorInfo, QuotaFailure, RetryInfo, Status };
// Every generated file exports these; they are the same in all of them but the file name. Import
// a file's own protobufFileName from its subpath (`@llm-orchestrator/client/orchestrator/v1/stats`).
export { protobufPackage, protobufFileName, type MessageFns } from './gen/orchestrator/v1/chat.js';

const TYPE_PREFIX = 'type.googleapis.com/google.rpc.';
const PUSHBACK = 'grpc-retry-pushback-ms';

/** The google.rpc details of a failed call, decoded from its grpc-status-details-bin trailer. */
export interface ErrorDetails {
  errorInfo?: ErrorInfo;
  retryInfo?: RetryInfo;
  badRequest?: BadRequest;
  quotaFailure?: QuotaFailure;
  /** How long the server asked the caller to wait before trying again, in milliseconds:
   * RetryInfo's delay, else the grpc-retry-pushback-ms trailer; undefined when it asked nothing. */
  retryAfterMs?: number;
}

/** Decodes what the gateway attaches to an error status (pass the ServiceError's `metadata`). */
export function errorDetails(metadata: Metadata | undefined): ErrorDetails {
  const details: ErrorDetails = {};
  const raw = metadata?.get('grpc-status-details-bin')[0];
  if (raw instanceof Buffer) {
    for (const any of Status.decode(raw).details) {
      switch (any.typeUrl) {
        case `${TYPE_PREFIX}ErrorInfo`:
          details.errorInfo = ErrorInfo.decode(any.value);
          break;
        case `${TYPE_PREFIX}RetryInfo`:
          details.retryInfo = RetryInfo.decode(any.value);
          break;
        case `${TYPE_PREFIX}BadRequest`:
          details.badRequest = BadRequest.decode(any.value);
          break;
        case `${TYPE_PREFIX}QuotaFailure`:
          details.quotaFailure = QuotaFailure.decode(any.value);
          break;
      }
    }
  }
  const delay = details.retryInfo?.retryDelay;
  const pushback = metadata?.get(PUSHBACK)[0];
  if (delay) details.retryAfterMs = delay.seconds * 1000 + Math.round(delay.nanos / 1e6);
  else if (typeof pushback === 'string' && /^\d+$/.test(pushback)) details.retryAfterMs = Number(pushback);
  return details;
}
