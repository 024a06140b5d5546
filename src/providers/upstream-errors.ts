import { OrchestratorError, cancelled, internal } from '../domain/errors.js';
import {
  streamTruncated,
  upstreamAddressRefused,
  upstreamAuthFailed,
  upstreamCertificateRefused,
  upstreamFailed,
  upstreamMalformed,
  upstreamModelMissing,
  upstreamRateLimited,
  upstreamRedirect,
  upstreamRejected,
  upstreamTooLarge,
  upstreamUnreachable,
  UPSTREAM_REQUEST_ID,
} from '../domain/upstream-errors.js';
import { findCause } from './http/causes.js';
import { RefusedAddressError } from './http/connector.js';
import { tooLargeIn } from './http/too-large.js';
import { MAX_TIMER_MS } from '../domain/timers.js';

/**
 * Classifies an HTTP status from any provider. Messages are ours: the upstream body is
 * never passed through to callers (it may echo prompts or name internal hosts). `requestId`:
 * the upstream's own id of the request (upstream-request-id.ts), when it sent one.
 */
export function errorForUpstreamStatus(options: {
  provider: string;
  status: number;
  retryAfterMs: number | undefined;
  requestId?: string | undefined;
}): OrchestratorError {
  const { provider, status, retryAfterMs, requestId } = options;
  const metadata = statusMetadata(provider, status, requestId);
  if (status === 429) return upstreamRateLimited(provider, retryAfterMs, metadata);
  if (status === 401 || status === 402 || status === 403) return upstreamAuthFailed(provider, status, metadata);
  if (status === 404) return upstreamModelMissing(provider, metadata);
  if (status >= 300 && status < 400) return upstreamRedirect(provider, status, metadata);
  if (status === 408 || status >= 500) return upstreamFailed(provider, status, retryAfterMs, metadata);
  return upstreamRejected(provider, status, metadata);
}

/** What every error from an upstream's HTTP status names. */
export function statusMetadata(provider: string, status: number, requestId: string | undefined): Record<string, string> {
  const metadata: Record<string, string> = { provider, upstream_status: String(status) };
  if (requestId !== undefined) metadata[UPSTREAM_REQUEST_ID] = requestId;
  return metadata;
}

/**
 * An error object an OpenAI-compatible upstream sends with HTTP 200, as the answer or as a
 * stream chunk (OpenRouter, vLLM and Ollama do): the HTTP status its `code` names decides, as
 * that status would have; an error without one fails the answer as the upstream's own report.
 */
export function errorInAnswer(provider: string, error: unknown, phase: 'response' | 'stream'): OrchestratorError {
  const code: unknown = error !== null && typeof error === 'object' ? (error as { code?: unknown }).code : undefined;
  const status = typeof code === 'number' ? code : typeof code === 'string' && /^\d{3}$/.test(code) ? Number(code) : undefined;
  if (status !== undefined && status >= 400 && status <= 599) return errorForUpstreamStatus({ provider, status, retryAfterMs: undefined });
  return phase === 'stream'
    ? streamTruncated(provider, 'the stream reported an error')
    : upstreamMalformed(provider, 'response (an error instead of the answer)');
}

/**
 * An OpenAI-compatible stream's `error` event (`event: error`, or llama.cpp's `error:` line): its
 * data is the error object, or holds it as `error`; text that is no JSON is a report without a code.
 */
export function errorEvent(provider: string, data: string): OrchestratorError {
  let parsed: unknown = data;
  try {
    parsed = JSON.parse(data);
  } catch {
    // Not JSON: the upstream's word all the same.
  }
  const nested: unknown = parsed !== null && typeof parsed === 'object' ? (parsed as { error?: unknown }).error : undefined;
  return errorInAnswer(provider, nested !== null && typeof nested === 'object' ? nested : parsed, 'stream');
}

// The providers' names for the transport failures they raise themselves.
export {
  streamTruncated as truncated,
  upstreamMalformed as malformed,
  upstreamTimeout,
} from '../domain/upstream-errors.js';

/**
 * Failures our HTTP client raises on purpose, found through the SDKs' wrappers: an answer over
 * a size limit, and a connection to an address the SSRF rules refuse; and a server certificate
 * that failed verification, which no retry mends. Undefined for others.
 */
export function transportError(provider: string, err: unknown): OrchestratorError | undefined {
  const tooLarge = tooLargeIn(err);
  if (tooLarge) {
    const setting = tooLarge.part === 'body' ? 'UPSTREAM_MAX_BODY_BYTES' : 'UPSTREAM_MAX_EVENT_BYTES';
    return upstreamTooLarge({ provider, part: tooLarge.part, limitBytes: tooLarge.limitBytes, setting, cause: err });
  }
  const refused = findCause(err, (e): e is RefusedAddressError => e instanceof RefusedAddressError);
  if (refused) return upstreamAddressRefused(provider, refused.message, err);
  const untrusted = findCause(err, (e): e is { code: string } => CERTIFICATE_CODE.test(String((e as { code?: unknown }).code)));
  return untrusted ? upstreamCertificateRefused(provider, untrusted.code, err) : undefined;
}

/** Why a server's certificate failed verification: OpenSSL's verify results as Node names them, and a name it does not cover. */
const CERTIFICATE_CODE =
  /^(?:UNABLE_TO_(?:GET_ISSUER_CERT(?:_LOCALLY)?|VERIFY_LEAF_SIGNATURE|DECRYPT_CERT_SIGNATURE|DECODE_ISSUER_PUBLIC_KEY)|CERT_[A-Z_]+|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|INVALID_CA|INVALID_PURPOSE|PATH_LENGTH_EXCEEDED|HOSTNAME_MISMATCH|ERROR_IN_CERT_NOT_(?:BEFORE|AFTER)_FIELD|ERR_TLS_CERT_ALTNAME_INVALID)$/;

/**
 * What is left once a provider's own rules (statuses, timeouts, aborts, malformed answers) have
 * not recognised `err`: the connection failing (lost during a stream or a body read: truncated;
 * otherwise unreachable), or else an error of the gateway's own code, which is not the
 * upstream's fault: INTERNAL, not retried, not held against the model's breaker, its cause kept
 * for the log.
 */
export function unrecognised(provider: string, err: unknown, phase: 'response' | 'stream'): OrchestratorError {
  if (!isTransportFailure(err)) return internal(err, `internal error while calling ${provider}`);
  if (phase === 'stream' || (err instanceof TypeError && err.message === 'terminated')) {
    return streamTruncated(provider, 'the connection closed before the answer was complete', err);
  }
  return upstreamUnreachable(provider, err);
}

/**
 * Whether `err` is the connection failing, found through the SDKs' wrappers (`cause`): our HTTP
 * client reports it as fetch does (`TypeError('fetch failed')` before the answer,
 * `TypeError('terminated')` during its body), undici and Node by code (ECONNRESET, ENOTFOUND,
 * UND_ERR_SOCKET, a stream closed early; Z_DATA_ERROR for a compressed body that came broken).
 */
export function isTransportFailure(err: unknown): boolean {
  return findCause(err, failsTransport) !== undefined;
}

function failsTransport(e: object): boolean {
  if (e instanceof TypeError && (e.message === 'fetch failed' || e.message === 'terminated')) return true;
  const code: unknown = (e as { code?: unknown }).code;
  return typeof code === 'string' && TRANSPORT_CODE.test(code);
}

/** System errors (E..., not Node's own ERR_...), undici's, zlib's, and a Node stream closed before its end. */
const TRANSPORT_CODE = /^(?:E(?!RR_)[A-Z0-9_]+|UND_ERR_[A-Z_]+|Z_[A-Z_]+|ERR_STREAM_PREMATURE_CLOSE)$/;

/**
 * The SDKs' own timeout when a provider sets none: our AbortSignal carries the real deadline, so
 * this only guards against a lost signal. Past it the SDK fails with its connection-timeout
 * error, which is the upstream's time running out, as a provider's `timeout_ms` is.
 */
export const SDK_GUARD_TIMEOUT_MS = 60 * 60 * 1000;

/** The abort reason the engine set, or a plain cancel when something else aborted. */
export function abortError(signal: AbortSignal): OrchestratorError {
  const reason: unknown = signal.reason;
  return reason instanceof OrchestratorError ? reason : cancelled();
}

/**
 * Retry-After as milliseconds: `retry-after-ms`, then `retry-after` in seconds or as an HTTP date.
 * The number is the upstream's, untrusted: a wait past what a timer holds (about 24.8 days) is
 * read as that, so a retry sleeps it rather than firing at once, and RetryInfo stays encodable (a
 * Duration of 1e20 seconds is no int64: its encoder throws while the error status is made).
 */
export function parseRetryAfter(headers: { get(name: string): string | null } | undefined, now = Date.now()): number | undefined {
  if (!headers) return undefined;
  const ms = headers.get('retry-after-ms');
  if (ms !== null && ms.trim() !== '' && Number.isFinite(Number(ms))) return waitOf(Number(ms));
  const value = headers.get('retry-after');
  if (value === null || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return waitOf(seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : waitOf(date - now);
}

function waitOf(ms: number): number {
  return Math.min(Math.max(0, ms), MAX_TIMER_MS);
}
