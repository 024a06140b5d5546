import type { AttemptRecord } from '../domain/chat.js';
import { allAttemptsFailed } from '../domain/call-errors.js';
import { OrchestratorError } from '../domain/errors.js';

/**
 * One error for a call whose attempts all failed. Failures of a single model (its retries
 * included) keep that model's last error; several models become ALL_ATTEMPTS_FAILED naming
 * each failure in order (TensorZero's habit), with the shared kind when they agree and
 * UNAVAILABLE otherwise; its metadata keeps the last failure's own reason and model
 * (`last_attempt_reason`, `last_attempt_model`), so a client that switches on reasons still
 * sees, say, the UPSTREAM_RATE_LIMITED behind ALL_ATTEMPTS_FAILED. Every attempt rides along,
 * with its partial usage.
 */
export function aggregateFailure(attempts: readonly AttemptRecord[], callSignal: AbortSignal): OrchestratorError {
  if (callSignal.aborted && callSignal.reason instanceof OrchestratorError) {
    return callSignal.reason.withAttempts(attempts);
  }
  const failed = attempts.filter((a) => a.error !== undefined);
  const last = failed[failed.length - 1];
  if (last?.error && failed.every((a) => a.model === last.model)) return last.error.withAttempts(attempts);
  const kinds = new Set(failed.map((a) => a.error?.kind));
  const [firstKind] = kinds;
  const kind = kinds.size === 1 && firstKind !== undefined ? firstKind : 'unavailable';
  return allAttemptsFailed({ kind, failed, attempts });
}
