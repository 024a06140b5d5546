import type { AttemptRecord } from './chat.js';
import { OrchestratorError, Reason } from './errors.js';

/*
 * What went wrong with an upstream provider, one factory per situation: the reason, its code,
 * whether a retry may help and the wording are decided here; providers/upstream-errors.ts
 * decides which situation an HTTP status or a transport failure is. Messages are ours: an
 * upstream's body never reaches a caller (it may echo prompts or name internal hosts).
 */

/**
 * The ErrorInfo metadata key of the upstream's own id of the request that failed, which the
 * provider's support can look up (providers/upstream-request-id.ts reads it from the response).
 */
export const UPSTREAM_REQUEST_ID = 'upstream_request_id';

/** `model:id` of an attempt that failed naming the upstream's id of its request; undefined for others. */
export function failedRequestOf(attempt: AttemptRecord): string | undefined {
  const id = attempt.error?.metadata[UPSTREAM_REQUEST_ID];
  return id === undefined ? undefined : `${attempt.model}:${id}`;
}

/** HTTP 429 from the provider: retryable, after its Retry-After when it sent one. */
export function upstreamRateLimited(
  provider: string,
  retryAfterMs: number | undefined,
  metadata: Record<string, string>,
): OrchestratorError {
  return new OrchestratorError({
    kind: 'unavailable',
    reason: Reason.UPSTREAM_RATE_LIMITED,
    message: `${provider} is rate limiting us (HTTP 429)`,
    retryable: true,
    retryAfterMs,
    metadata,
  });
}

/** What a provider said of the gateway's account when it refused it, and what lifts the refusal. */
export interface AccountRefusal {
  readonly said: string;
  readonly remedy: string;
}

/** The remedy of an account that cannot pay: out of credits, a spend limit reached. */
export const CHECK_BILLING = 'check its credits or billing';

/**
 * HTTP 401/403: our credentials for the provider are wrong; HTTP 402: its account cannot pay
 * (OpenRouter's answer when the credits run out). A provider that says so with another status
 * (Anthropic: a 400 for credits run out or an organization on hold, a 400 or 429 for a spend
 * limit reached; OpenAI: a 429 insufficient_quota) passes what it said of the account as
 * `accountRefused`. Retrying cannot help, but another provider can: the gateway's account, not
 * the caller's request, is at fault.
 */
export function upstreamAuthFailed(
  provider: string,
  status: number,
  metadata: Record<string, string>,
  accountRefused: AccountRefusal | undefined = status === 402 ? { said: 'payment required', remedy: CHECK_BILLING } : undefined,
): OrchestratorError {
  return new OrchestratorError({
    kind: 'unavailable',
    reason: Reason.UPSTREAM_AUTH_FAILED,
    message:
      accountRefused !== undefined
        ? `${provider} refused to serve our account (HTTP ${status}: ${accountRefused.said}); ${accountRefused.remedy}`
        : `${provider} refused our credentials (HTTP ${status}); check the provider's API key`,
    metadata,
  });
}

/** HTTP 404: the provider does not serve the model it was asked for. */
export function upstreamModelMissing(provider: string, metadata: Record<string, string>): OrchestratorError {
  return new OrchestratorError({
    kind: 'unavailable',
    reason: Reason.MODEL_NOT_AVAILABLE,
    message: `${provider} does not serve this model (HTTP 404)`,
    metadata,
  });
}

/** HTTP 3xx: never followed, since the target could be an address the SSRF rules refuse. */
export function upstreamRedirect(provider: string, status: number, metadata: Record<string, string>): OrchestratorError {
  return new OrchestratorError({
    kind: 'unavailable',
    reason: Reason.UPSTREAM_ERROR,
    message: `${provider} answered with a redirect (HTTP ${status}), which is not followed; set its base URL to the final address`,
    metadata,
  });
}

/** HTTP 408 or 5xx: the provider failed; retryable. */
export function upstreamFailed(
  provider: string,
  status: number,
  retryAfterMs: number | undefined,
  metadata: Record<string, string>,
): OrchestratorError {
  return new OrchestratorError({
    kind: 'unavailable',
    reason: Reason.UPSTREAM_ERROR,
    message: `${provider} failed (HTTP ${status})`,
    retryable: true,
    retryAfterMs,
    metadata,
  });
}

/** Any other 4xx: the provider refused the request as sent (INVALID_ARGUMENT). */
export function upstreamRejected(provider: string, status: number, metadata: Record<string, string>): OrchestratorError {
  return new OrchestratorError({
    kind: 'invalid_argument',
    reason: Reason.UPSTREAM_REJECTED_REQUEST,
    message: `${provider} rejected the request (HTTP ${status})`,
    metadata,
  });
}

/** The provider's own `timeout_ms` ran out before the upstream answered (its headers). */
export function upstreamTimeout(provider: string, timeoutMs: number, cause: unknown): OrchestratorError {
  return new OrchestratorError({
    kind: 'deadline_exceeded',
    reason: Reason.UPSTREAM_TIMEOUT,
    message: `${provider} did not answer within its timeout_ms (${timeoutMs} ms)`,
    retryable: true,
    metadata: { provider, timeout_ms: String(timeoutMs) },
    cause,
  });
}

export function upstreamUnreachable(provider: string, cause: unknown): OrchestratorError {
  return new OrchestratorError({
    kind: 'unavailable',
    reason: Reason.UPSTREAM_UNREACHABLE,
    message: `${provider} could not be reached`,
    retryable: true,
    metadata: { provider },
    cause,
  });
}

export function upstreamMalformed(provider: string, what: string, cause?: unknown): OrchestratorError {
  return new OrchestratorError({
    kind: 'unavailable',
    reason: Reason.UPSTREAM_MALFORMED_RESPONSE,
    message: `${provider} sent a malformed ${what}`,
    retryable: true,
    metadata: { provider },
    cause,
  });
}

export function streamTruncated(provider: string, detail: string, cause?: unknown): OrchestratorError {
  return new OrchestratorError({
    kind: 'unavailable',
    reason: Reason.STREAM_TRUNCATED,
    message: `${provider} stream ended early: ${detail}`,
    retryable: true,
    metadata: { provider },
    cause,
  });
}

/** An answer over one of our size limits (`setting` names it); the same request would most likely get the same answer. */
export function upstreamTooLarge(options: {
  readonly provider: string;
  readonly part: 'body' | 'event';
  readonly limitBytes: number;
  readonly setting: string;
  readonly cause: unknown;
}): OrchestratorError {
  const { provider, part, limitBytes, setting } = options;
  return new OrchestratorError({
    kind: 'unavailable',
    reason: Reason.UPSTREAM_MALFORMED_RESPONSE,
    message: `${provider} sent a ${part === 'body' ? 'response body' : 'stream event'} over the ${limitBytes}-byte limit (${setting}); the connection was closed`,
    retryable: false,
    metadata: { provider, limit: setting, limit_bytes: String(limitBytes) },
    cause: options.cause,
  });
}

/**
 * The provider's TLS certificate failed verification (`code` is OpenSSL's or Node's name for
 * why): the same certificate fails every retry, so none is made. Its issuer is most often a
 * private CA, which Node trusts through NODE_EXTRA_CA_CERTS.
 */
export function upstreamCertificateRefused(provider: string, code: string, cause: unknown): OrchestratorError {
  return new OrchestratorError({
    kind: 'unavailable',
    reason: Reason.UPSTREAM_UNREACHABLE,
    message: `${provider}'s TLS certificate was refused (${code}); for a private CA, set NODE_EXTRA_CA_CERTS to its PEM file`,
    metadata: { provider, tls_error: code },
    cause,
  });
}

/** The provider's address is one the SSRF rules refuse: it was never called. */
export function upstreamAddressRefused(provider: string, why: string, cause: unknown): OrchestratorError {
  return new OrchestratorError({
    kind: 'unavailable',
    reason: Reason.UPSTREAM_UNREACHABLE,
    message: `${provider} was not called: ${why} (set allow_link_local to permit)`,
    metadata: { provider },
    cause,
  });
}
