/**
 * The one place that turns errors into gRPC statuses (ARCHITECTURE.md "Errors").
 *
 * A deliberate OrchestratorError keeps its message and gets google.rpc details in the
 * `grpc-status-details-bin` trailer; anything else is a bug and leaves as a bare INTERNAL, so no
 * internal message, stack or upstream text reaches a client.
 *
 * How to send the result (verified against grpc-js 1.14.7, see test/integration):
 * - unary: `callback(grpcErrorFor(err))`; grpc-js sends `metadata` as trailers.
 * - server stream: `call.emit('error', grpcErrorFor(err))`. The stream's own 'error' listener
 *   records the status and ends the stream, so already-written messages go out first, then the
 *   status with the trailers. Do NOT use `call.destroy(status)`: it also records the status,
 *   but a destroyed Writable never runs `_final`, so no status is sent and the client hangs
 *   until its deadline.
 */
import * as grpc from '@grpc/grpc-js';
import type { AttemptRecord } from '../domain/chat.js';
import { clipUtf8 } from '../domain/characters.js';
import { roundUsd } from '../domain/money.js';
import { timerDelay } from '../domain/timers.js';
import { firstViolations, isOrchestratorError, type ErrorKind, type FieldViolation, type OrchestratorError } from '../domain/errors.js';
import { noRetryWithinCall } from '../domain/retry-advice.js';
import type { Any } from '../gen/google/protobuf/any.js';
import { BadRequest, ErrorInfo, QuotaFailure, RetryInfo } from '../gen/google/rpc/error_details.js';
import { Status } from '../gen/google/rpc/status.js';

/** ErrorInfo.domain for every error this service produces. */
export const ERROR_DOMAIN = 'llm-orchestrator';

/** The trailer that carries a serialized google.rpc.Status (the gRPC "richer error model"). */
export const STATUS_DETAILS_KEY = 'grpc-status-details-bin';

const TYPE_URL_PREFIX = 'type.googleapis.com/';
const ERROR_INFO_TYPE = `${TYPE_URL_PREFIX}google.rpc.ErrorInfo`;
const BAD_REQUEST_TYPE = `${TYPE_URL_PREFIX}google.rpc.BadRequest`;
const RETRY_INFO_TYPE = `${TYPE_URL_PREFIX}google.rpc.RetryInfo`;
const QUOTA_FAILURE_TYPE = `${TYPE_URL_PREFIX}google.rpc.QuotaFailure`;

/** What a non-OrchestratorError (or an `internal` one) tells the client: nothing. */
export const INTERNAL_MESSAGE = 'internal error';

/** ErrorInfo.reason for errors that are not OrchestratorErrors (matches Reason.INTERNAL). */
const INTERNAL_REASON = 'INTERNAL';

const CODE_BY_KIND: Readonly<Record<ErrorKind, grpc.status>> = {
  invalid_argument: grpc.status.INVALID_ARGUMENT,
  not_found: grpc.status.NOT_FOUND,
  already_exists: grpc.status.ALREADY_EXISTS,
  unauthenticated: grpc.status.UNAUTHENTICATED,
  permission_denied: grpc.status.PERMISSION_DENIED,
  resource_exhausted: grpc.status.RESOURCE_EXHAUSTED,
  failed_precondition: grpc.status.FAILED_PRECONDITION,
  deadline_exceeded: grpc.status.DEADLINE_EXCEEDED,
  cancelled: grpc.status.CANCELLED,
  unavailable: grpc.status.UNAVAILABLE,
  internal: grpc.status.INTERNAL,
};

export interface GrpcErrorStatus extends grpc.StatusObject {
  /**
   * True when the client only got the generic message: the caller must log the original error
   * (with the request id), because nothing else will.
   */
  readonly internal: boolean;
}

export function codeForKind(kind: ErrorKind): grpc.status {
  return CODE_BY_KIND[kind];
}

/**
 * A call's status travels as HTTP/2 trailers, which clients cap (grpc-java and the C core at
 * 8 KiB by default, grpc-js at 64 KiB): over the cap the client never sees the status and waits
 * for its deadline. So the status lists the first problems of a request only (its message
 * counts them all) within a text budget, and cuts long texts (a name the caller sent) short.
 * Texts are measured in UTF-8 bytes, as they are sent: a CJK character is 3 bytes in the
 * details and 9 in the percent-encoded message, and a budget of characters let such a status
 * grow past the cap.
 */
const TRAILER_LIMITS = {
  violations: 20,
  violationBytes: 2_000,
  attemptBytes: 2_000,
  /** Each other ErrorInfo value: the models a route over a catalog of hundreds refused took 13 KB. */
  metadataBytes: 1_000,
  textBytes: 200,
  messageBytes: 512,
} as const;

export function toGrpcStatus(err: unknown): GrpcErrorStatus {
  const { status, internal } = rpcStatus(err, true);
  const result = statusWith(status.code, clipUtf8(status.message, TRAILER_LIMITS.messageBytes), status.details, internal);
  const pushback = isOrchestratorError(err) ? pushbackMs(err) : undefined;
  if (pushback !== undefined) result.metadata.set('grpc-retry-pushback-ms', String(pushback));
  return result;
}

/**
 * gRFC A6 server pushback: gRPC clients with a retry policy wait this long before retrying (an
 * int32, waited on a timer). A negative pushback stops a client's retries at once: for a refusal
 * no wait cures (the request alone is over a limit), where it would spend its attempts on the
 * same refusal, and for a wait longer than a call should sit out, which it would wait out inside
 * the call until its deadline ended it as DEADLINE_EXCEEDED; RetryInfo still tells when.
 */
function pushbackMs(err: OrchestratorError): number | undefined {
  if (err.kind !== 'resource_exhausted' && err.kind !== 'unavailable') return undefined;
  if (noRetryWithinCall(err)) return -1;
  return err.retryAfterMs === undefined ? undefined : timerDelay(Math.round(err.retryAfterMs));
}

/**
 * The same status as a google.rpc.Status message, for errors carried inside a response (a
 * batch item's failure) rather than as the call's status.
 */
export function toRpcStatus(err: unknown): Status {
  return rpcStatus(err, false).status;
}

/** Whether the client gets only the generic message for `err`: whoever sends its status logs it. */
export function isInternal(err: unknown): boolean {
  // An `internal` kind is still our failure: its message may quote a cause, so it stays private.
  return !isOrchestratorError(err) || err.kind === 'internal';
}

function rpcStatus(err: unknown, inTrailers: boolean): { status: Status; internal: boolean } {
  if (!isOrchestratorError(err)) {
    return {
      status: { code: grpc.status.INTERNAL, message: INTERNAL_MESSAGE, details: [errorInfoAny(INTERNAL_REASON, {})] },
      internal: true,
    };
  }
  const internal = isInternal(err);
  const message = internal ? INTERNAL_MESSAGE : err.message;
  return { status: { code: CODE_BY_KIND[err.kind], message, details: detailsFor(err, inTrailers) }, internal };
}

/**
 * The status object handlers hand to grpc-js: `callback(grpcErrorFor(err))` for unary calls,
 * `call.emit('error', grpcErrorFor(err))` for server streams. Log `toGrpcStatus(err).internal`
 * errors yourself first; this helper does not.
 */
export function grpcErrorFor(err: unknown): grpc.StatusObject {
  const { code, details, metadata } = toGrpcStatus(err);
  return { code, details, metadata };
}

/**
 * `gpt-4o:UNAVAILABLE:UPSTREAM_ERROR,gpt-4o-mini:OK`: one entry per attempt, in order, so a
 * client that only reads ErrorInfo still sees what was tried and why each attempt failed.
 */
export function summarizeAttempts(attempts: readonly AttemptRecord[]): string {
  return attempts.map(attemptEntry).join(',');
}

function attemptEntry(attempt: AttemptRecord): string {
  if (attempt.error) {
    const codeName = grpc.status[CODE_BY_KIND[attempt.error.kind]];
    return `${attempt.model}:${codeName}:${attempt.error.reason}`;
  }
  return `${attempt.model}:${attempt.outcome === 'success' ? 'OK' : attempt.outcome.toUpperCase()}`;
}

/**
 * The first entries of summarizeAttempts, each cut to TRAILER_LIMITS.textBytes, while they fit
 * the trailer's budget: 10 retries of 8 models with long ids took over 8 KiB on their own. Each
 * entry counts the comma before it; the first has none, which the budget's extra byte makes up.
 */
function trailerAttempts(attempts: readonly AttemptRecord[]): string[] {
  const entry = (attempt: AttemptRecord): string => clipUtf8(attemptEntry(attempt), TRAILER_LIMITS.textBytes);
  return firstWithin(attempts, entry, (e) => Buffer.byteLength(e) + 1, TRAILER_LIMITS.attemptBytes + 1);
}

function detailsFor(err: OrchestratorError, inTrailers: boolean): Any[] {
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(err.metadata)) {
    metadata[key] = inTrailers ? clipUtf8(value, TRAILER_LIMITS.metadataBytes) : value;
  }
  if (err.attempts.length > 0) {
    if (inTrailers) {
      const listed = trailerAttempts(err.attempts);
      metadata['attempts'] = listed.join(',');
      if (listed.length < err.attempts.length) metadata['attempts_omitted'] = String(err.attempts.length - listed.length);
    } else {
      metadata['attempts'] = summarizeAttempts(err.attempts);
    }
    // What the failed call still used and costs (a stream cut after some tokens, say).
    const used = err.attempts.reduce(
      (sum, a) => ({
        prompt: sum.prompt + a.usage.promptTokens,
        completion: sum.completion + a.usage.completionTokens,
        cost: sum.cost + a.costUsd,
      }),
      { prompt: 0, completion: 0, cost: 0 },
    );
    metadata['prompt_tokens'] = String(used.prompt);
    metadata['completion_tokens'] = String(used.completion);
    metadata['cost_usd'] = String(roundUsd(used.cost));
  }
  const details = [errorInfoAny(err.reason, metadata)];

  if (err.fieldViolations.length > 0) {
    const badRequest: BadRequest = {
      fieldViolations: (inTrailers ? trailerViolations(err.fieldViolations) : firstViolations(err.fieldViolations)).map((v) => ({
        field: v.field,
        description: v.description,
        reason: '',
        localizedMessage: undefined,
      })),
    };
    details.push(pack(BAD_REQUEST_TYPE, BadRequest.encode(badRequest).finish()));
  }

  if (err.retryAfterMs !== undefined && Number.isFinite(err.retryAfterMs)) {
    const retryInfo: RetryInfo = { retryDelay: durationFromMs(err.retryAfterMs) };
    details.push(pack(RETRY_INFO_TYPE, RetryInfo.encode(retryInfo).finish()));
  }

  // Only our own limits name a quota subject; an upstream 429 is UNAVAILABLE and has none.
  const subject = err.metadata['quota_subject'];
  const description = err.metadata['quota_description'];
  if (err.kind === 'resource_exhausted' && (subject !== undefined || description !== undefined)) {
    const quotaFailure: QuotaFailure = {
      violations: [
        {
          subject: subject ?? '',
          description: description ?? '',
          apiService: '',
          quotaMetric: '',
          quotaId: '',
          quotaDimensions: {},
          quotaValue: 0,
        },
      ],
    };
    details.push(pack(QUOTA_FAILURE_TYPE, QuotaFailure.encode(quotaFailure).finish()));
  }
  return details;
}

/** The first violations, each cut to TRAILER_LIMITS.textBytes, while they fit the trailer's budget. */
function trailerViolations(violations: readonly FieldViolation[]): FieldViolation[] {
  const cut = (v: FieldViolation): FieldViolation => ({
    field: clipUtf8(v.field, TRAILER_LIMITS.textBytes),
    description: clipUtf8(v.description, TRAILER_LIMITS.textBytes),
  });
  const bytesOf = (v: FieldViolation): number => Buffer.byteLength(v.field) + Buffer.byteLength(v.description);
  return firstWithin(violations, cut, bytesOf, TRAILER_LIMITS.violationBytes, TRAILER_LIMITS.violations);
}

/** The first items, each made an entry, while their bytes together fit `budget` and they are at most `max` (the first always goes). */
function firstWithin<T, Entry>(
  items: readonly T[],
  entryOf: (item: T) => Entry,
  bytesOf: (entry: Entry) => number,
  budget: number,
  max = Number.POSITIVE_INFINITY,
): Entry[] {
  const listed: Entry[] = [];
  let bytes = 0;
  for (const item of items) {
    const entry = entryOf(item);
    bytes += bytesOf(entry);
    if (listed.length > 0 && (listed.length === max || bytes > budget)) break;
    listed.push(entry);
  }
  return listed;
}

/** A name the caller sent, cut as the statuses built here cut it, for a status built elsewhere (health's NOT_FOUND). */
export function quotedName(text: string): string {
  return clipUtf8(text, TRAILER_LIMITS.textBytes);
}

function errorInfoAny(reason: string, metadata: Record<string, string>): Any {
  const info: ErrorInfo = { reason, domain: ERROR_DOMAIN, metadata };
  return pack(ERROR_INFO_TYPE, ErrorInfo.encode(info).finish());
}

function pack(typeUrl: string, value: Uint8Array): Any {
  return { typeUrl, value: Buffer.from(value.buffer, value.byteOffset, value.byteLength) };
}

function durationFromMs(ms: number): { seconds: number; nanos: number } {
  const whole = Math.max(0, Math.round(ms));
  return { seconds: Math.floor(whole / 1000), nanos: (whole % 1000) * 1_000_000 };
}

function statusWith(code: grpc.status, message: string, details: Any[], internal: boolean): GrpcErrorStatus {
  const metadata = new grpc.Metadata();
  const encoded = Status.encode({ code, message, details }).finish();
  metadata.set(STATUS_DETAILS_KEY, Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength));
  return { code, details: message, metadata, internal };
}
