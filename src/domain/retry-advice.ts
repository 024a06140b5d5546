import type { OrchestratorError } from './errors.js';

/**
 * A refusal of the gateway's own limits that no wait cures: the request alone is over a limit
 * (a resource_exhausted error with no time to retry at). Each door tells clients not to retry it.
 */
function noWaitCures(err: OrchestratorError): boolean {
  return err.kind === 'resource_exhausted' && err.retryAfterMs === undefined;
}

/**
 * The longest wait a client's own retries are left to sit out inside one call. Past it a gRPC
 * retry policy would wait out the pushback until the call's deadline ended it as
 * DEADLINE_EXCEEDED (or for hours without a deadline), the Node openai SDK would sleep inside
 * `create()`, the Python one retry into the same refusal after its own minute at most.
 */
const CLIENT_RETRY_WAIT_MAX_MS = 60_000;

/**
 * Whether each door tells clients not to retry `err` within the call: no wait cures it, or the
 * wait is longer than a call should sit out (a spent daily or monthly budget, a provider's long
 * Retry-After). The time to come back at is still sent (RetryInfo, Retry-After).
 */
export function noRetryWithinCall(err: OrchestratorError): boolean {
  return noWaitCures(err) || (err.retryAfterMs !== undefined && err.retryAfterMs > CLIENT_RETRY_WAIT_MAX_MS);
}
