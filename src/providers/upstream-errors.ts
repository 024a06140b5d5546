import { OrchestratorError, Reason, cancelled } from '../domain/errors.js';
import { RefusedAddressError } from './http/connector.js';
import { tooLargeIn } from './http/too-large.js';

/**
 * Classifies an HTTP status from any provider. Messages are ours: the upstream body is
 * never passed through to callers (it may echo prompts or name internal hosts).
 */
export function errorForUpstreamStatus(options: { provider: string; status: number; retryAfterMs: number | undefined }): OrchestratorError {
  const { provider, status, retryAfterMs } = options;
  const metadata = { provider, upstream_status: String(status) };
  if (status === 429) {
    return new OrchestratorError({
      kind: 'unavailable',
      reason: Reason.UPSTREAM_RATE_LIMITED,
      message: `${provider} is rate limiting us (HTTP 429)`,
      retryable: true,
      retryAfterMs,
      metadata,
    });
  }
  if (status === 401 || status === 403) {
    return new OrchestratorError({
      kind: 'unavailable',
      reason: Reason.UPSTREAM_AUTH_FAILED,
      message: `${provider} refused our credentials (HTTP ${status}); check the provider's API key`,
      metadata,
    });
  }
  if (status === 404) {
    return new OrchestratorError({
      kind: 'unavailable',
      reason: Reason.MODEL_NOT_AVAILABLE,
      message: `${provider} does not serve this model (HTTP 404)`,
      metadata,
    });
  }
  if (status >= 300 && status < 400) {
    // Never followed: the target could be an address the SSRF rules refuse.
    return new OrchestratorError({
      kind: 'unavailable',
      reason: Reason.UPSTREAM_ERROR,
      message: `${provider} answered with a redirect (HTTP ${status}), which is not followed; set its base URL to the final address`,
      metadata,
    });
  }
  if (status === 408 || status >= 500) {
    return new OrchestratorError({
      kind: 'unavailable',
      reason: Reason.UPSTREAM_ERROR,
      message: `${provider} failed (HTTP ${status})`,
      retryable: true,
      retryAfterMs,
      metadata,
    });
  }
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

export function unreachable(provider: string, cause: unknown): OrchestratorError {
  return new OrchestratorError({
    kind: 'unavailable',
    reason: Reason.UPSTREAM_UNREACHABLE,
    message: `${provider} could not be reached`,
    retryable: true,
    metadata: { provider },
    cause,
  });
}

export function malformed(provider: string, what: string, cause?: unknown): OrchestratorError {
  return new OrchestratorError({
    kind: 'unavailable',
    reason: Reason.UPSTREAM_MALFORMED_RESPONSE,
    message: `${provider} sent a malformed ${what}`,
    retryable: true,
    metadata: { provider },
    cause,
  });
}

export function truncated(provider: string, detail: string, cause?: unknown): OrchestratorError {
  return new OrchestratorError({
    kind: 'unavailable',
    reason: Reason.STREAM_TRUNCATED,
    message: `${provider} stream ended early: ${detail}`,
    retryable: true,
    metadata: { provider },
    cause,
  });
}

/**
 * Failures our HTTP client raises on purpose, found through the SDKs' wrappers: an answer over
 * a size limit, and a connection to an address the SSRF rules refuse. Undefined for others.
 */
export function transportError(provider: string, err: unknown): OrchestratorError | undefined {
  const tooLarge = tooLargeIn(err);
  if (tooLarge) {
    const setting = tooLarge.part === 'body' ? 'UPSTREAM_MAX_BODY_BYTES' : 'UPSTREAM_MAX_EVENT_BYTES';
    return new OrchestratorError({
      kind: 'unavailable',
      reason: Reason.UPSTREAM_MALFORMED_RESPONSE,
      message: `${provider} sent a ${tooLarge.part === 'body' ? 'response body' : 'stream event'} over the ${tooLarge.limitBytes}-byte limit (${setting}); the connection was closed`,
      // The same request would most likely get the same answer again.
      retryable: false,
      metadata: { provider, limit: setting, limit_bytes: String(tooLarge.limitBytes) },
      cause: err,
    });
  }
  for (let e = err, depth = 0; e !== null && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof RefusedAddressError) {
      return new OrchestratorError({
        kind: 'unavailable',
        reason: Reason.UPSTREAM_UNREACHABLE,
        message: `${provider} was not called: ${e.message} (set allow_link_local to permit)`,
        metadata: { provider },
        cause: err,
      });
    }
  }
  return undefined;
}

/** The abort reason the engine set, or a plain cancel when something else aborted. */
export function abortError(signal: AbortSignal): OrchestratorError {
  const reason: unknown = signal.reason;
  return reason instanceof OrchestratorError ? reason : cancelled();
}

/** Lets a cancel that happened meanwhile land (one microtask), then throws it if it did. */
export async function checkpoint(signal: AbortSignal): Promise<void> {
  await undefined;
  if (signal.aborted) throw abortError(signal);
}

/** Retry-After as milliseconds: `retry-after-ms`, then `retry-after` in seconds or as an HTTP date. */
export function parseRetryAfter(headers: { get(name: string): string | null } | undefined, now = Date.now()): number | undefined {
  if (!headers) return undefined;
  const ms = headers.get('retry-after-ms');
  if (ms !== null && ms.trim() !== '' && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const value = headers.get('retry-after');
  if (value === null || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
