import type { OrchestratorError } from '../../domain/errors.js';
import { upstreamAuthFailed } from '../../domain/upstream-errors.js';
import { errorForUpstreamStatus, truncated } from '../upstream-errors.js';

/** An `event: error` inside a 200 stream (e.g. overloaded_error): classified by its type, as its HTTP status would be. */
export function streamError(provider: string, data: string): OrchestratorError {
  let type: string | null = null;
  try {
    const parsed = JSON.parse(data) as { error?: { type?: unknown } } | null;
    if (typeof parsed?.error?.type === 'string') type = parsed.error.type;
  } catch {
    // Not JSON: an unknown error type.
  }
  const status = statusOfErrorType(type);
  // The type is the upstream's text: named only when it has the shape of a type, since a relay may
  // put its own message there (one that quotes the provider key, or any length of it).
  const named = type !== null && ERROR_TYPE.test(type) ? ` (${type})` : '';
  if (status === undefined) return truncated(provider, `the stream reported an error${named}`);
  return errorForUpstreamStatus({ provider, status, retryAfterMs: undefined });
}

const ERROR_TYPE = /^[a-z][a-z0-9_]{0,63}$/;

/** The HTTP status the API answers each error type with, for errors that arrive mid-stream. */
export function statusOfErrorType(type: string | null): number | undefined {
  switch (type) {
    case 'invalid_request_error':
      return 400;
    case 'authentication_error':
      return 401;
    case 'billing_error':
      return 402;
    case 'permission_error':
      return 403;
    case 'not_found_error':
      return 404;
    case 'rate_limit_error':
      return 429;
    case 'api_error':
      return 500;
    case 'timeout_error':
      return 504;
    case 'overloaded_error':
      return 529;
    default:
      return undefined;
  }
}

/**
 * What is wrong with a stream event's shape, read before its fields are: an event that is not an
 * object, or one of the types this code reads without the object it carries. Undefined: none.
 */
export function eventShapeProblem(event: unknown): string | undefined {
  if (event === null || typeof event !== 'object') return 'not a JSON object';
  const { type } = event as { type?: unknown };
  const carried =
    type === 'content_block_start' ? 'content_block' : type === 'content_block_delta' || type === 'message_delta' ? 'delta' : undefined;
  if (carried === undefined) return undefined;
  const value: unknown = (event as Record<string, unknown>)[carried];
  return value !== null && typeof value === 'object' ? undefined : `${type} without its ${carried}`;
}

/**
 * The API tells an account out of credits with a 400 invalid_request_error ("Your credit balance
 * is too low to access the Anthropic API..."), not a 402: the gateway's account is at fault, not
 * the caller's request, so it fails as a 402 does. Undefined for any other answer.
 */
export function outOfCredits(provider: string, status: number, apiMessage: unknown): OrchestratorError | undefined {
  if (status !== 400 || typeof apiMessage !== 'string' || !/credit balance is too low/i.test(apiMessage)) return undefined;
  return upstreamAuthFailed(provider, status, { provider, upstream_status: String(status) }, true);
}
