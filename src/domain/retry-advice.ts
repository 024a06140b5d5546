import { Reason, type OrchestratorError } from './errors.js';

/**
 * A refusal of the gateway's own limits that no wait cures: the request alone is over a limit
 * (a resource_exhausted error with no time to retry at). Each door tells clients not to retry it.
 */
function noWaitCures(err: OrchestratorError): boolean {
  return err.kind === 'resource_exhausted' && err.retryAfterMs === undefined;
}

/**
 * A failure of the gateway's side that neither a retry nor a wait mends: a provider that refused
 * our credentials or account, does not serve the model, redirected, answered over our size
 * limits or sits at an address the SSRF rules refuse; no provider configured for the model. The
 * engine already tried every model it could; a client's retry would meet the same failure. An
 * open breaker (alone or among an aggregate's failures) mends with its cool-down.
 */
function noRetryMends(err: OrchestratorError): boolean {
  if (err.kind !== 'unavailable' && err.kind !== 'failed_precondition') return false;
  if (err.retryable || err.retryAfterMs !== undefined || err.reason === Reason.CIRCUIT_OPEN) return false;
  return !err.attempts.some((a) => a.error?.reason === Reason.CIRCUIT_OPEN);
}

/**
 * The longest wait a client's own retries are left to sit out inside one call. Past it a gRPC
 * retry policy would wait out the pushback until the call's deadline ended it as
 * DEADLINE_EXCEEDED (or for hours without a deadline), the Node openai SDK would sleep inside
 * `create()`, the Python one retry into the same refusal after its own minute at most.
 */
const CLIENT_RETRY_WAIT_MAX_MS = 60_000;

/**
 * Whether each door tells clients not to retry `err` within the call: no wait cures it, no retry
 * mends it, or the wait is longer than a call should sit out (a spent daily or monthly budget, a
 * provider's long Retry-After). The time to come back at is still sent (RetryInfo, Retry-After).
 */
export function noRetryWithinCall(err: OrchestratorError): boolean {
  return noWaitCures(err) || noRetryMends(err) || (err.retryAfterMs !== undefined && err.retryAfterMs > CLIENT_RETRY_WAIT_MAX_MS);
}
