import { isCallersLimit } from '../../domain/call-errors.js';
import { OrchestratorError, Reason } from '../../domain/errors.js';

/**
 * What counts as what, decided once and shared by retry and breaker (cockatiel's habit).
 *
 * Retryable: the provider said so (429, 408, 5xx, unreachable, malformed or truncated answer,
 * an attempt's own timeout or stall). Never: our validation, upstream 4xx, cancels, the
 * caller's own deadline, an open breaker.
 */
export function isRetryable(err: unknown): err is OrchestratorError {
  return err instanceof OrchestratorError && err.retryable && err.kind !== 'cancelled';
}

/**
 * Spends a token of the model's retry budget: a retryable failure of the model, not a caller's
 * own time limit on a fallback link, which says nothing of the model's health (as for the breaker).
 */
export function spendsRetryBudget(err: unknown): boolean {
  return isRetryable(err) && !isCallersLimit(err);
}

/**
 * Counts against the model's breaker: failures that say the model endpoint is unhealthy.
 * A caller's cancel, a lost race, our deadline, a caller's own time limit on a fallback link or
 * a request the upstream rejected do not.
 */
export function countsAgainstBreaker(err: unknown): boolean {
  if (!(err instanceof OrchestratorError)) return false;
  if (err.reason === Reason.CIRCUIT_OPEN || err.reason === Reason.DRAINING) return false;
  if (err.kind === 'unavailable') return true;
  if (isCallersLimit(err)) return false;
  return err.reason === Reason.UPSTREAM_TIMEOUT || err.reason === Reason.STREAM_STALLED;
}
