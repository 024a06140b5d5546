import type { AttemptRecord } from './chat.js';
import { extend } from './extend.js';

/**
 * The one error taxonomy. Providers and the engine throw OrchestratorError; only
 * src/server/errors.ts turns it into a gRPC status. The kinds mirror gRPC codes on purpose,
 * but nothing below the server layer imports grpc-js.
 */
export type ErrorKind =
  | 'invalid_argument'
  | 'not_found'
  | 'already_exists'
  | 'unauthenticated'
  | 'permission_denied'
  | 'resource_exhausted'
  | 'failed_precondition'
  | 'deadline_exceeded'
  | 'cancelled'
  | 'unavailable'
  | 'internal';

/** ErrorInfo.reason values. Stable: clients may switch on them. */
export const Reason = {
  INVALID_REQUEST: 'INVALID_REQUEST',
  MODEL_NOT_FOUND: 'MODEL_NOT_FOUND',
  MODEL_NOT_AVAILABLE: 'MODEL_NOT_AVAILABLE',
  UPSTREAM_RATE_LIMITED: 'UPSTREAM_RATE_LIMITED',
  UPSTREAM_ERROR: 'UPSTREAM_ERROR',
  UPSTREAM_UNREACHABLE: 'UPSTREAM_UNREACHABLE',
  UPSTREAM_TIMEOUT: 'UPSTREAM_TIMEOUT',
  /** A stream sent no first token, or went silent between tokens, for too long. */
  STREAM_STALLED: 'STREAM_STALLED',
  /** The model's circuit breaker is open: it failed too often recently and is skipped. */
  CIRCUIT_OPEN: 'CIRCUIT_OPEN',
  UPSTREAM_AUTH_FAILED: 'UPSTREAM_AUTH_FAILED',
  UPSTREAM_REJECTED_REQUEST: 'UPSTREAM_REJECTED_REQUEST',
  UPSTREAM_MALFORMED_RESPONSE: 'UPSTREAM_MALFORMED_RESPONSE',
  STREAM_TRUNCATED: 'STREAM_TRUNCATED',
  ALL_ATTEMPTS_FAILED: 'ALL_ATTEMPTS_FAILED',
  /** Routing found no candidate that can take the request (breakers open, no provider). */
  NO_ELIGIBLE_MODEL: 'NO_ELIGIBLE_MODEL',
  /** The prompt plus max_tokens fits no candidate's context window. */
  PROMPT_TOO_LONG: 'PROMPT_TOO_LONG',
  /** Missing or unknown API key. */
  API_KEY_INVALID: 'API_KEY_INVALID',
  /** The API key may not call this model. */
  MODEL_NOT_ALLOWED: 'MODEL_NOT_ALLOWED',
  /** A requests- or tokens-per-minute limit was reached. */
  RATE_LIMITED: 'RATE_LIMITED',
  /** A daily or monthly spending budget was reached. */
  BUDGET_EXHAUSTED: 'BUDGET_EXHAUSTED',
  /** Redis is unreachable and REDIS_FAILURE_POLICY=closed, or (WORKERS > 1) not configured for a runtime key's limits. */
  SHARED_STATE_UNAVAILABLE: 'SHARED_STATE_UNAVAILABLE',
  DEADLINE_EXCEEDED: 'DEADLINE_EXCEEDED',
  CANCELLED: 'CANCELLED',
  DRAINING: 'DRAINING',
  /** The provider's cap on requests in flight is reached and its wait queue is full, or no slot freed before the deadline. */
  PROVIDER_BUSY: 'PROVIDER_BUSY',
  /** The RPC needs a key with the admin scope (or, on an open service, a loopback caller). */
  ADMIN_REQUIRED: 'ADMIN_REQUIRED',
  /** The ledger's database is off (DATABASE_URL=off) or not reachable yet. */
  LEDGER_UNAVAILABLE: 'LEDGER_UNAVAILABLE',
  /** CreateApiKey: a key (config file or runtime, revoked included) already has this name. */
  API_KEY_EXISTS: 'API_KEY_EXISTS',
  /** CreateModel, UpdateModel: an id or alias another model (built-in, config-file, embedding or runtime) already has. */
  MODEL_EXISTS: 'MODEL_EXISTS',
  /** UpdateApiKey, RevokeApiKey: no key has this name. */
  API_KEY_NOT_FOUND: 'API_KEY_NOT_FOUND',
  /** UpdateApiKey, RevokeApiKey: a config-file key is changed in the file (then SIGHUP), not here. */
  API_KEY_READ_ONLY: 'API_KEY_READ_ONLY',
  /** SyncCatalog: another replica is syncing that source now; retry after RetryInfo's delay. */
  CATALOG_SYNC_RUNNING: 'CATALOG_SYNC_RUNNING',
  /** The call's request metadata is over GRPC_MAX_METADATA_BYTES. */
  METADATA_TOO_LARGE: 'METADATA_TOO_LARGE',
  INTERNAL: 'INTERNAL',
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];

export interface FieldViolation {
  readonly field: string;
  readonly description: string;
}

/**
 * Of a list or a map over its count (stop sequences, tags, embedding inputs), this many entries
 * are checked, so one refusal still names what else is wrong; the rest are not read, since
 * checking a million of them one by one held the event loop for seconds.
 */
export const CHECKED_PAST_LIMIT = 32;

/**
 * What a refusal lists of its problems, where no tighter limit applies (the HTTP API's
 * field_violations, a Batch item's status): a request with a problem in each of 300,000
 * messages made a list of 20 MB, past what gRPC clients take in one message, which took the
 * event loop to spell and write. The message still counts them all.
 */
const LISTED_VIOLATIONS = 100;

/** The first LISTED_VIOLATIONS of `violations` (the list itself when it is no longer). */
export function firstViolations(violations: readonly FieldViolation[]): readonly FieldViolation[] {
  return violations.length > LISTED_VIOLATIONS ? violations.slice(0, LISTED_VIOLATIONS) : violations;
}

export interface OrchestratorErrorOptions {
  readonly kind: ErrorKind;
  readonly reason: Reason;
  readonly message: string;
  /** Worth trying again (the same or another model): 429, 5xx, unreachable, timeouts. */
  readonly retryable?: boolean;
  /**
   * From an upstream Retry-After, or our own estimate. A resource_exhausted error without one
   * says no wait lets the same request pass (it is over a limit by itself).
   */
  readonly retryAfterMs?: number;
  readonly metadata?: Readonly<Record<string, string>>;
  readonly fieldViolations?: readonly FieldViolation[];
  readonly attempts?: readonly AttemptRecord[];
  readonly cause?: unknown;
}

export class OrchestratorError extends Error {
  readonly kind: ErrorKind;
  readonly reason: Reason;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly metadata: Readonly<Record<string, string>>;
  readonly fieldViolations: readonly FieldViolation[];
  readonly attempts: readonly AttemptRecord[];

  constructor(options: OrchestratorErrorOptions) {
    super(options.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'OrchestratorError';
    this.kind = options.kind;
    this.reason = options.reason;
    this.retryable = options.retryable ?? false;
    this.retryAfterMs = options.retryAfterMs;
    this.metadata = options.metadata ?? {};
    this.fieldViolations = options.fieldViolations ?? [];
    this.attempts = options.attempts ?? [];
  }

  /** A copy that also lists the attempts made, for the aggregate error a strategy throws. */
  withAttempts(attempts: readonly AttemptRecord[]): OrchestratorError {
    return new OrchestratorError(extend(this.options(), { attempts }));
  }

  /** A copy whose metadata also has `extra` (what was learned of the failure after it was made). */
  withMetadata(extra: Readonly<Record<string, string>>): OrchestratorError {
    return new OrchestratorError(extend(this.options(), { metadata: extend(this.metadata, extra) }));
  }

  /** A copy whose field violations are these (a door's own spelling of the fields). */
  withFieldViolations(fieldViolations: readonly FieldViolation[]): OrchestratorError {
    return new OrchestratorError(extend(this.options(), { fieldViolations }));
  }

  private options(): OrchestratorErrorOptions {
    return {
      kind: this.kind,
      reason: this.reason,
      message: this.message,
      retryable: this.retryable,
      retryAfterMs: this.retryAfterMs,
      metadata: this.metadata,
      fieldViolations: this.fieldViolations,
      attempts: this.attempts,
      cause: this.cause,
    };
  }
}

/** `total`: how many problems there are when `violations` lists only the first of them. */
export function invalidArgument(violations: readonly FieldViolation[], total = violations.length): OrchestratorError {
  const first = violations[0];
  const summary = first ? `${first.field}: ${first.description}` : 'invalid request';
  const more = total > 1 ? ` (and ${total - 1} more)` : '';
  return new OrchestratorError({
    kind: 'invalid_argument',
    reason: Reason.INVALID_REQUEST,
    message: `invalid request: ${summary}${more}`,
    fieldViolations: violations,
  });
}

export function modelNotFound(model: string, field: string): OrchestratorError {
  return new OrchestratorError({
    kind: 'not_found',
    reason: Reason.MODEL_NOT_FOUND,
    message: `unknown model "${model}"; ListModels shows the catalog`,
    metadata: { model, field },
  });
}

/** A call with no model while DEFAULT_MODEL names a model the catalog no longer has (a runtime model deleted since start-up). */
export function defaultModelNotFound(model: string, field: string): OrchestratorError {
  return new OrchestratorError({
    kind: 'not_found',
    reason: Reason.MODEL_NOT_FOUND,
    message: `no model was named, and DEFAULT_MODEL "${model}" is not in the catalog any more: name a model (ListModels shows the catalog)`,
    metadata: { model, field },
  });
}

export function deadlineExceeded(message = 'deadline exceeded'): OrchestratorError {
  return new OrchestratorError({ kind: 'deadline_exceeded', reason: Reason.DEADLINE_EXCEEDED, message });
}

/** Request metadata over its limit, counted as HTTP/2 counts a header list (name, value and 32 bytes an entry). */
export function metadataTooLarge(bytes: number, maxBytes: number): OrchestratorError {
  return new OrchestratorError({
    kind: 'resource_exhausted',
    reason: Reason.METADATA_TOO_LARGE,
    message: `request metadata is ${bytes} bytes, over the ${maxBytes}-byte limit (GRPC_MAX_METADATA_BYTES)`,
    metadata: { metadata_bytes: String(bytes), limit_bytes: String(maxBytes) },
  });
}

export function cancelled(message = 'cancelled by the caller'): OrchestratorError {
  return new OrchestratorError({ kind: 'cancelled', reason: Reason.CANCELLED, message });
}

export function isOrchestratorError(err: unknown): err is OrchestratorError {
  return err instanceof OrchestratorError;
}

/*
 * Factories: one per situation, so a reason, its code and its wording are decided in one place.
 * Messages name what to do next where the caller can act on it.
 */

/**
 * Missing or unknown API key (UNAUTHENTICATED). `header` is the spelling the caller's protocol
 * uses: gRPC metadata keys are lower case, HTTP clients write "Authorization".
 */
export function apiKeyInvalid(presented: boolean, header = 'authorization'): OrchestratorError {
  return new OrchestratorError({
    kind: 'unauthenticated',
    reason: Reason.API_KEY_INVALID,
    message: presented ? 'unknown API key' : `an API key is required: send "${header}: Bearer <key>" or "x-api-key: <key>"`,
  });
}

/**
 * The key a call was let in with is gone (revoked, or removed from the config file) before this
 * part of it was admitted: a Batch's later items. Refused as the key itself would be now.
 */
export function apiKeyGone(keyName: string): OrchestratorError {
  return new OrchestratorError({
    kind: 'unauthenticated',
    reason: Reason.API_KEY_INVALID,
    message: `API key "${keyName}" was revoked (or removed from the config file) after this call began`,
    metadata: { key: keyName },
  });
}

/** A daily or monthly spending budget was reached (RESOURCE_EXHAUSTED until the period turns). */
export function budgetExhausted(options: {
  readonly keyName: string;
  readonly what: string;
  readonly spentUsd: number;
  /** What calls in flight hold against the budget (named when above zero). */
  readonly heldUsd?: number;
  readonly retryAfterMs: number;
}): OrchestratorError {
  const { keyName, what, spentUsd, heldUsd = 0 } = options;
  const held = heldUsd > 0 ? `, $${heldUsd.toFixed(6)} held by calls in flight` : '';
  return new OrchestratorError({
    kind: 'resource_exhausted',
    reason: Reason.BUDGET_EXHAUSTED,
    message: `${what} reached for key "${keyName}" (spent $${spentUsd.toFixed(6)}${held})`,
    retryAfterMs: options.retryAfterMs,
    metadata: {
      quota_subject: `key:${keyName}`,
      quota_description: what,
      spent_usd: String(spentUsd),
      ...(heldUsd > 0 ? { held_usd: String(heldUsd) } : {}),
    },
  });
}

/**
 * A rate limit (`what`, e.g. "60 requests per minute") for `subject` ("global", "key:<name>") was
 * reached; or, with `estimatedTokens`, a call's estimate alone exceeds it, so no window admits it
 * and there is no time to retry at.
 */
export function rateLimited(
  options: { readonly what: string; readonly subject: string } & (
    | { readonly retryAfterMs: number; readonly estimatedTokens?: undefined }
    | { readonly estimatedTokens: number; readonly retryAfterMs?: undefined }
  ),
): OrchestratorError {
  const { what, subject, estimatedTokens } = options;
  return new OrchestratorError({
    kind: 'resource_exhausted',
    reason: Reason.RATE_LIMITED,
    message:
      estimatedTokens === undefined
        ? `rate limit reached: ${what} for ${subject}`
        : `request of an estimated ${estimatedTokens} tokens exceeds ${what} for ${subject}: lower max_tokens or the prompt`,
    retryAfterMs: options.retryAfterMs,
    metadata: {
      quota_subject: subject,
      quota_description: what,
      ...(estimatedTokens === undefined ? {} : { estimated_tokens: String(estimatedTokens) }),
    },
  });
}

/** The API key's model allow-list does not cover these models (PERMISSION_DENIED). */
export function modelNotAllowed(keyName: string, models: readonly string[]): OrchestratorError {
  return new OrchestratorError({
    kind: 'permission_denied',
    reason: Reason.MODEL_NOT_ALLOWED,
    message: `API key "${keyName}" may not call ${models.join(', ')}`,
    metadata: { key: keyName, models: models.join(',') },
  });
}

/** Limits and budgets live in Redis and it cannot be reached, with REDIS_FAILURE_POLICY=closed. */
export function sharedStateUnavailable(cause: unknown): OrchestratorError {
  return new OrchestratorError({
    kind: 'unavailable',
    reason: Reason.SHARED_STATE_UNAVAILABLE,
    message: 'limits and budgets cannot be checked right now (shared state unreachable; REDIS_FAILURE_POLICY=closed)',
    retryable: true,
    retryAfterMs: 1_000,
    cause,
  });
}

/** The server is shutting down (UNAVAILABLE, retryable): `retryHint` says what to do elsewhere ("retry", "watch again"). */
export function draining(retryHint = 'retry'): OrchestratorError {
  return new OrchestratorError({
    kind: 'unavailable',
    reason: Reason.DRAINING,
    message: `server is shutting down; ${retryHint} on another replica`,
    retryable: true,
  });
}

/** The errors lostRace made: a racer the client cancelled is cancelled too, but lost nothing. */
const lostRaces = new WeakSet<OrchestratorError>();

/** A race participant stopped because another model answered first. */
export function lostRace(winner: string): OrchestratorError {
  const error = cancelled(`lost the race to ${winner}`);
  lostRaces.add(error);
  return error;
}

/** The attempt stopped because another racer won (not because the call was cancelled). */
export function isLostRace(error: unknown): boolean {
  return error instanceof OrchestratorError && lostRaces.has(error);
}

/**
 * Causes of bugs the log has already: the attempt runner logs one as its attempt ends. Kept by
 * cause, which the copies a strategy makes of the error (withAttempts) share.
 */
const loggedCauses = new WeakSet<object>();

export function markLogged(error: OrchestratorError): void {
  if (typeof error.cause === 'object' && error.cause !== null) loggedCauses.add(error.cause);
}

/** An error whose cause the log has: the door that ends the call with it logs it no second time. */
export function isLogged(error: unknown): boolean {
  return error instanceof OrchestratorError && typeof error.cause === 'object' && error.cause !== null && loggedCauses.has(error.cause);
}

/** A bug: the caller sees a generic message, the cause stays in the log. */
export function internal(cause: unknown, message = 'internal error'): OrchestratorError {
  return new OrchestratorError({ kind: 'internal', reason: Reason.INTERNAL, message, cause });
}

/**
 * No upstream slot for this call (RESOURCE_EXHAUSTED, PROVIDER_BUSY): the provider's cap on requests
 * in flight is reached and its queue is full, or no slot freed before the call's deadline. Not
 * retried on the same provider; fallback and race move on to their other models.
 */
export function providerBusy(options: {
  readonly provider: string;
  readonly why: 'queue_full' | 'deadline';
  readonly maxInFlight: number;
  readonly queueMax: number;
  readonly retryAfterMs: number;
}): OrchestratorError {
  const { provider, maxInFlight, queueMax } = options;
  const cause =
    options.why === 'queue_full'
      ? `its ${maxInFlight} requests in flight are taken and ${queueMax} calls already wait`
      : `no slot of its ${maxInFlight} requests in flight freed before the call's deadline`;
  return new OrchestratorError({
    kind: 'resource_exhausted',
    reason: Reason.PROVIDER_BUSY,
    message: `provider "${provider}" is busy: ${cause} (UPSTREAM_MAX_IN_FLIGHT, providers[].max_in_flight)`,
    retryAfterMs: options.retryAfterMs,
    metadata: { provider, why: options.why, max_in_flight: String(maxInFlight), queue_max: String(queueMax) },
  });
}
