import type { OrchestratorError } from '../../domain/errors.js';
import { type AccountRefusal, CHECK_BILLING, upstreamAuthFailed } from '../../domain/upstream-errors.js';
import { errorForUpstreamStatus, statusMetadata, truncated } from '../upstream-errors.js';

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
 * The API's answers that refuse the gateway's account whatever the request, with another status
 * than 402: out of credits (a 400 invalid_request_error, "Your credit balance is too low to
 * access the Anthropic API..."), a spend limit set on the organization or a workspace reached (a
 * 400, "You have reached your specified [workspace] API usage limits..."), the tier's or the
 * contract's monthly spend limit reached (a 429 whose error_code says so, without retry-after:
 * retries fail until the month ends), and the organization put on hold by the provider (a 400
 * whose error_code is organization_on_hold: no credits or billing change lifts it). The caller's
 * request is not at fault and no retry helps: each fails as a 402 does. Undefined for any other
 * answer.
 */
export function accountRefused(
  provider: string,
  answer: { readonly status: number; readonly apiMessage: unknown; readonly errorCode: unknown; readonly requestId?: string | undefined },
): OrchestratorError | undefined {
  const refusal = accountRefusal(answer);
  if (refusal === undefined) return undefined;
  return upstreamAuthFailed(provider, answer.status, statusMetadata(provider, answer.status, answer.requestId), refusal);
}

const SPEND_LIMIT: AccountRefusal = { said: 'its spend limit is reached', remedy: CHECK_BILLING };

function accountRefusal({ status, apiMessage, errorCode }: Parameters<typeof accountRefused>[1]): AccountRefusal | undefined {
  if (status === 429 && (errorCode === 'enforced_spend_limit_reached' || errorCode === 'contract_spend_limit_reached')) {
    return SPEND_LIMIT;
  }
  if (status !== 400) return undefined;
  if (errorCode === 'organization_on_hold') {
    return { said: 'its organization is on hold', remedy: 'contact the provider: only it can lift the hold' };
  }
  if (typeof apiMessage !== 'string') return undefined;
  if (/credit balance is too low/i.test(apiMessage)) return { said: 'its credit balance is too low', remedy: CHECK_BILLING };
  if (/reached your specified (?:workspace )?API usage limits/i.test(apiMessage)) return SPEND_LIMIT;
  return undefined;
}
