/**
 * The one place that turns errors into HTTP answers for the OpenAI-compatible API: the
 * status the OpenAI SDKs map to their typed errors, and the body they read,
 * `{ "error": { "message", "type", "param", "code" } }`, plus our own reason, request id and
 * attempts, which SDKs keep on the error object they raise.
 *
 * Like src/server/errors.ts for gRPC: a deliberate OrchestratorError keeps its message; anything
 * else is a bug and leaves as a bare 500, so no internal message or upstream text reaches a client.
 */
import type { AttemptRecord } from '../domain/chat.js';
import { clipUtf8 } from '../domain/characters.js';
import { firstViolations, invalidArgument, isOrchestratorError, Reason, type ErrorKind, type OrchestratorError } from '../domain/errors.js';
import { noRetryWithinCall } from '../domain/retry-advice.js';
import { round3 } from '../domain/latency.js';
import { UPSTREAM_REQUEST_ID } from '../domain/upstream-errors.js';
import { httpField } from './field-paths.js';

export interface HttpErrorBody {
  readonly error: {
    readonly message: string;
    readonly type: string;
    readonly param: string | null;
    readonly code: string;
    /** Our ErrorInfo reason (src/domain/errors.ts), stable for clients to switch on. */
    readonly reason: string;
    readonly request_id: string;
    readonly field_violations?: readonly { readonly field: string; readonly description: string }[];
    readonly attempts?: readonly EncodedAttempt[];
    readonly retry_after_ms?: number;
  };
}

export interface EncodedAttempt {
  readonly model: string;
  readonly provider: string;
  readonly outcome: string;
  readonly reason: string | null;
  readonly latency_ms: number;
  readonly cost_usd: number;
  readonly retry: number;
  /** A failed attempt's request as its upstream names it (its `x-request-id` or `request-id`), when it sent one. */
  readonly upstream_request_id?: string;
}

export interface HttpError {
  readonly status: number;
  readonly body: HttpErrorBody;
  readonly headers: Readonly<Record<string, string>>;
  /** The gRPC status name of the same failure, for the call's log line and stats. */
  readonly grpcCode: string;
  /** True when the client got the generic message only: log the original error. */
  readonly internal: boolean;
}

/** What the client sees of a bug. */
export const INTERNAL_MESSAGE = 'internal error';

/** Status, OpenAI error `type`, and the gRPC code name of the same kind. */
const BY_KIND: Readonly<Record<ErrorKind, { readonly status: number; readonly type: string; readonly grpc: string }>> = {
  invalid_argument: { status: 400, type: 'invalid_request_error', grpc: 'INVALID_ARGUMENT' },
  not_found: { status: 404, type: 'invalid_request_error', grpc: 'NOT_FOUND' },
  already_exists: { status: 409, type: 'invalid_request_error', grpc: 'ALREADY_EXISTS' },
  unauthenticated: { status: 401, type: 'authentication_error', grpc: 'UNAUTHENTICATED' },
  permission_denied: { status: 403, type: 'permission_error', grpc: 'PERMISSION_DENIED' },
  resource_exhausted: { status: 429, type: 'rate_limit_error', grpc: 'RESOURCE_EXHAUSTED' },
  // Our own configuration cannot serve the request (no provider for the model): not the caller's fault.
  failed_precondition: { status: 503, type: 'service_unavailable_error', grpc: 'FAILED_PRECONDITION' },
  deadline_exceeded: { status: 504, type: 'timeout_error', grpc: 'DEADLINE_EXCEEDED' },
  // nginx's "client closed request": nobody reads it, but the log line says what happened.
  cancelled: { status: 499, type: 'cancelled_error', grpc: 'CANCELLED' },
  unavailable: { status: 502, type: 'upstream_error', grpc: 'UNAVAILABLE' },
  internal: { status: 500, type: 'server_error', grpc: 'INTERNAL' },
};

/**
 * UNAVAILABLE is "the upstream failed" (502) except where the gateway itself cannot take the
 * call now: draining, shared state down, its database's API keys not read yet, every candidate's
 * breaker open. Those are 503, which clients retry after Retry-After.
 */
const SERVICE_UNAVAILABLE: ReadonlySet<string> = new Set([
  Reason.DRAINING,
  Reason.SHARED_STATE_UNAVAILABLE,
  Reason.LEDGER_UNAVAILABLE,
  Reason.NO_ELIGIBLE_MODEL,
  Reason.CIRCUIT_OPEN,
]);

/** OpenAI's own `code` values where one means the same; otherwise our reason in lower case. */
const OPENAI_CODES: Readonly<Partial<Record<string, string>>> = {
  [Reason.API_KEY_INVALID]: 'invalid_api_key',
  [Reason.MODEL_NOT_FOUND]: 'model_not_found',
  [Reason.RATE_LIMITED]: 'rate_limit_exceeded',
  [Reason.BUDGET_EXHAUSTED]: 'insufficient_quota',
  [Reason.PROMPT_TOO_LONG]: 'context_length_exceeded',
};

/**
 * Statuses that tell a client when to come back even when the error knows no time. Not 429: our
 * limits and budgets know when they reset, and one that knows no time (a call larger than a whole
 * rate limit window) would only be retried in vain.
 */
const WITH_RETRY_AFTER: ReadonlySet<number> = new Set([503]);

/** Seconds sent in Retry-After when the error itself does not know (draining: another replica is ready now). */
const DEFAULT_RETRY_AFTER_S = 1;

export function httpStatusOf(err: OrchestratorError): number {
  if (err.kind === 'unavailable' && (SERVICE_UNAVAILABLE.has(err.reason) || gatewayRefusedEvery(err))) return 503;
  return BY_KIND[err.kind].status;
}

/** Several models failed, each refused by the gateway itself (its breaker open): no upstream failed. */
function gatewayRefusedEvery(err: OrchestratorError): boolean {
  if (err.reason !== Reason.ALL_ATTEMPTS_FAILED) return false;
  let refused = 0;
  for (const attempt of err.attempts) {
    if (attempt.error === undefined) continue;
    if (!SERVICE_UNAVAILABLE.has(attempt.error.reason)) return false;
    refused++;
  }
  return refused > 0;
}

/**
 * An error's message and each field name or description it quotes at most, in UTF-8: a refusal
 * quotes the client's own text (a model, a role, a field name), and one request must not make its
 * answer as large as its body, three times over (message, `param`, field violations).
 */
const MESSAGE_MAX_BYTES = 2_048;
const QUOTED_MAX_BYTES = 512;

export function toHttpError(thrown: unknown, requestId: string): HttpError {
  if (!isOrchestratorError(thrown) || thrown.kind === 'internal') {
    return {
      status: 500,
      body: {
        error: {
          message: INTERNAL_MESSAGE,
          type: 'server_error',
          param: null,
          code: 'internal',
          reason: Reason.INTERNAL,
          request_id: requestId,
        },
      },
      headers: {},
      grpcCode: 'INTERNAL',
      internal: true,
    };
  }
  const err = withHttpFields(thrown);
  const status = httpStatusOf(err);
  const kind = BY_KIND[err.kind];
  const headers: Record<string, string> = {};
  const retryAfterMs =
    err.retryAfterMs !== undefined && Number.isFinite(err.retryAfterMs) ? Math.max(0, Math.round(err.retryAfterMs)) : undefined;
  const noRetry = noRetryWithinCall(err);
  // A 503 no retry mends (no provider for the model) gives no time to come back at.
  if (retryAfterMs !== undefined || (WITH_RETRY_AFTER.has(status) && !noRetry)) {
    headers['retry-after'] = String(retryAfterMs === undefined ? DEFAULT_RETRY_AFTER_S : Math.ceil(retryAfterMs / 1000));
    // The openai SDKs read this one first: millisecond precision.
    if (retryAfterMs !== undefined) headers['retry-after-ms'] = String(retryAfterMs);
  }
  // The openai SDKs retry a 429 or a 5xx twice by default; this header, which they read first,
  // stops them sending the same request into the same refusal, or waiting longer than a call should.
  if (noRetry) headers['x-should-retry'] = 'false';
  const first = err.fieldViolations[0];
  const field = first?.field ?? err.metadata['field'];
  const param = field === undefined ? null : clipUtf8(field, QUOTED_MAX_BYTES);
  return {
    status,
    body: {
      error: {
        message: clipUtf8(err.message, MESSAGE_MAX_BYTES),
        type: status === 503 ? 'service_unavailable_error' : kind.type,
        param,
        code: OPENAI_CODES[err.reason] ?? err.reason.toLowerCase(),
        reason: err.reason,
        request_id: requestId,
        ...(err.fieldViolations.length > 0
          ? {
              field_violations: err.fieldViolations.map((v) => ({
                field: clipUtf8(v.field, QUOTED_MAX_BYTES),
                description: clipUtf8(v.description, QUOTED_MAX_BYTES),
              })),
            }
          : {}),
        ...(err.attempts.length > 0 ? { attempts: err.attempts.map(encodeAttempt) } : {}),
        ...(retryAfterMs !== undefined ? { retry_after_ms: retryAfterMs } : {}),
      },
    },
    headers,
    grpcCode: kind.grpc,
    internal: false,
  };
}

/** The engine and the providers name the request's fields by their gRPC paths: spelled here as this door's request has them. */
function withHttpFields(err: OrchestratorError): OrchestratorError {
  if (err.kind !== 'invalid_argument') return err;
  // Every model of a chain or race refusing the request: its fields, not its reason or attempts, are respelled.
  const aggregate = err.reason === Reason.ALL_ATTEMPTS_FAILED;
  if (err.reason !== Reason.INVALID_REQUEST && !aggregate) return err;
  const all = err.fieldViolations;
  const listed = firstViolations(all);
  const fields = listed.map((v) => httpField(v.field));
  if (listed === all && fields.every((f, i) => f === all[i]?.field)) return err;
  const violations = listed.map((v, i) => ({ field: fields[i]!, description: v.description }));
  return aggregate ? err.withFieldViolations(violations) : invalidArgument(violations, all.length);
}

export function encodeAttempt(a: AttemptRecord): EncodedAttempt {
  const upstreamRequestId = a.error?.metadata[UPSTREAM_REQUEST_ID];
  return {
    model: a.model,
    provider: a.provider,
    outcome: a.outcome,
    reason: a.error?.reason ?? null,
    latency_ms: round3(a.latencyMs),
    cost_usd: a.costUsd,
    retry: a.retry,
    ...(upstreamRequestId !== undefined ? { upstream_request_id: upstreamRequestId } : {}),
  };
}
