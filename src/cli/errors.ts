import * as grpc from '@grpc/grpc-js';
import { decodeStatusDetails } from './status-details.js';

/**
 * What a failed call says, one fact per line: the code and message, the request id, then the
 * google.rpc details from the `grpc-status-details-bin` trailer (ErrorInfo reason and
 * metadata, field violations, retry delay, quota).
 */
export function describeError(err: grpc.ServiceError): string {
  const lines = [`error: ${grpc.status[err.code] ?? err.code} (code ${err.code}): ${err.details}`];
  const requestId = err.metadata.get('x-request-id')[0];
  if (typeof requestId === 'string') lines.push(`request id: ${requestId}`);
  const { errorInfo, badRequest, retryInfo, quotaFailure } = decodeStatusDetails(err.metadata);
  if (errorInfo) {
    lines.push(`reason: ${errorInfo.reason}`);
    for (const [key, value] of Object.entries(errorInfo.metadata).sort(([a], [b]) => a.localeCompare(b))) lines.push(`  ${key}: ${value}`);
  }
  for (const v of badRequest?.fieldViolations ?? []) lines.push(`field ${v.field}: ${v.description}`);
  const delay = retryInfo?.retryDelay;
  if (delay) lines.push(`retry after: ${(delay.seconds + delay.nanos / 1e9).toFixed(3)} s`);
  for (const v of quotaFailure?.violations ?? []) lines.push(`quota: ${v.subject} ${v.description}`.trimEnd());
  return `${lines.join('\n')}\n`;
}
