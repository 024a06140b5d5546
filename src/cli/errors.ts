import * as grpc from '@grpc/grpc-js';
import { BadRequest, ErrorInfo, QuotaFailure, RetryInfo } from '../gen/google/rpc/error_details.js';
import { Status } from '../gen/google/rpc/status.js';

const TYPE_PREFIX = 'type.googleapis.com/google.rpc.';

/**
 * What a failed call says, one fact per line: the code and message, the request id, then the
 * google.rpc details from the `grpc-status-details-bin` trailer (ErrorInfo reason and
 * metadata, field violations, retry delay, quota).
 */
export function describeError(err: grpc.ServiceError): string {
  const lines = [`error: ${grpc.status[err.code] ?? err.code} (code ${err.code}): ${err.details}`];
  const requestId = err.metadata.get('x-request-id')[0];
  if (typeof requestId === 'string') lines.push(`request id: ${requestId}`);
  const raw = err.metadata.get('grpc-status-details-bin')[0];
  if (raw !== undefined && typeof raw !== 'string') {
    for (const detail of Status.decode(raw).details) {
      switch (detail.typeUrl.replace(TYPE_PREFIX, '')) {
        case 'ErrorInfo': {
          const info = ErrorInfo.decode(detail.value);
          lines.push(`reason: ${info.reason}`);
          for (const [key, value] of Object.entries(info.metadata).sort(([a], [b]) => a.localeCompare(b))) lines.push(`  ${key}: ${value}`);
          break;
        }
        case 'BadRequest':
          for (const v of BadRequest.decode(detail.value).fieldViolations) lines.push(`field ${v.field}: ${v.description}`);
          break;
        case 'RetryInfo': {
          const delay = RetryInfo.decode(detail.value).retryDelay;
          if (delay) lines.push(`retry after: ${(delay.seconds + delay.nanos / 1e9).toFixed(3)} s`);
          break;
        }
        case 'QuotaFailure':
          for (const v of QuotaFailure.decode(detail.value).violations) lines.push(`quota: ${v.subject} ${v.description}`.trimEnd());
          break;
        default:
          break;
      }
    }
  }
  return `${lines.join('\n')}\n`;
}
