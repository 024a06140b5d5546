import type * as grpc from '@grpc/grpc-js';
import { BadRequest, ErrorInfo, QuotaFailure, RetryInfo } from '../gen/google/rpc/error_details.js';
import { Status } from '../gen/google/rpc/status.js';

/** The trailer that carries a serialized google.rpc.Status (the gRPC "richer error model"). */
export const STATUS_DETAILS_KEY = 'grpc-status-details-bin';

const TYPE_URL_PREFIX = 'type.googleapis.com/google.rpc.';

/** The google.rpc details found in a status, by type. Unknown detail types are ignored. */
export interface DecodedStatusDetails {
  readonly status?: Status;
  readonly errorInfo?: ErrorInfo;
  readonly badRequest?: BadRequest;
  readonly retryInfo?: RetryInfo;
  readonly quotaFailure?: QuotaFailure;
}

/** Reads `grpc-status-details-bin` from a client error's metadata (ServiceError.metadata): the one decoder for the CLI and the tests. */
export function decodeStatusDetails(metadata: grpc.Metadata): DecodedStatusDetails {
  const raw = metadata.get(STATUS_DETAILS_KEY)[0];
  if (raw === undefined || typeof raw === 'string') return {};
  const status = Status.decode(raw);
  const decoded: { -readonly [K in keyof DecodedStatusDetails]: DecodedStatusDetails[K] } = { status };
  for (const detail of status.details) {
    switch (detail.typeUrl.replace(TYPE_URL_PREFIX, '')) {
      case 'ErrorInfo':
        decoded.errorInfo = ErrorInfo.decode(detail.value);
        break;
      case 'BadRequest':
        decoded.badRequest = BadRequest.decode(detail.value);
        break;
      case 'RetryInfo':
        decoded.retryInfo = RetryInfo.decode(detail.value);
        break;
      case 'QuotaFailure':
        decoded.quotaFailure = QuotaFailure.decode(detail.value);
        break;
      default:
        break;
    }
  }
  return decoded;
}
