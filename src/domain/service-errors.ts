import { OrchestratorError, Reason } from './errors.js';

/*
 * The errors of the services around the calls: admin RPCs, the ledger's reads, runtime API keys.
 * One factory per situation, like the call errors.
 */

/** An admin RPC from a caller that is not an admin (PERMISSION_DENIED); `message` says what would be. */
export function adminRequired(message: string): OrchestratorError {
  return new OrchestratorError({ kind: 'permission_denied', reason: Reason.ADMIN_REQUIRED, message });
}

/**
 * What `holds` (usage records, runtime models, ...) lives in the database, and DATABASE_URL=off
 * turned it off: FAILED_PRECONDITION, since no retry helps until the server is configured with one.
 */
export function databaseOff(holds: string): OrchestratorError {
  return new OrchestratorError({
    kind: 'failed_precondition',
    reason: Reason.LEDGER_UNAVAILABLE,
    message: `${holds} are kept in the database, and it is off (DATABASE_URL=off): set DATABASE_URL`,
  });
}

/** The database is configured but not reachable yet (UNAVAILABLE, retryable). */
export function databaseUnreachable(): OrchestratorError {
  return new OrchestratorError({
    kind: 'unavailable',
    reason: Reason.LEDGER_UNAVAILABLE,
    message: 'the database is not reachable yet; retry shortly',
    retryable: true,
  });
}

/** A caller's key cannot be checked: the database holding the runtime keys has not been read since start-up. */
export function apiKeysUnread(): OrchestratorError {
  return new OrchestratorError({
    kind: 'unavailable',
    reason: Reason.LEDGER_UNAVAILABLE,
    message: 'API keys cannot be checked yet: the database that holds them has not been reachable since start-up; retry shortly',
    retryable: true,
  });
}

/** Runtime API keys are stored in the ledger database, which is not reachable (UNAVAILABLE, retryable). */
export function runtimeKeysUnavailable(): OrchestratorError {
  return new OrchestratorError({
    kind: 'unavailable',
    reason: Reason.LEDGER_UNAVAILABLE,
    message: 'runtime API keys live in the ledger database, which is not reachable; retry shortly',
    retryable: true,
  });
}

/** A key from the config file named in a call that changes runtime keys (FAILED_PRECONDITION). */
export function apiKeyReadOnly(name: string): OrchestratorError {
  return new OrchestratorError({
    kind: 'failed_precondition',
    reason: Reason.API_KEY_READ_ONLY,
    message: `API key "${name}" comes from the config file: change it there and send SIGHUP`,
    metadata: { key: name },
  });
}

/** No runtime key of that name, or it is revoked (NOT_FOUND). */
export function apiKeyNotFound(name: string, revoked: boolean): OrchestratorError {
  return new OrchestratorError({
    kind: 'not_found',
    reason: Reason.API_KEY_NOT_FOUND,
    message: revoked ? `API key "${name}" is revoked` : `no runtime API key named "${name}"`,
    metadata: { key: name },
  });
}

/** A key of that name exists, or existed and was revoked (ALREADY_EXISTS). */
export function apiKeyExists(name: string): OrchestratorError {
  return new OrchestratorError({
    kind: 'already_exists',
    reason: Reason.API_KEY_EXISTS,
    message: `an API key named "${name}" exists (names of revoked keys are not reused)`,
    metadata: { key: name },
  });
}

/**
 * Limits or budgets for a runtime key that these workers could not enforce together (several
 * workers, no Redis): FAILED_PRECONDITION, as the same limits in the config file stop start-up.
 */
export function limitsNotShared(problem: string): OrchestratorError {
  return new OrchestratorError({ kind: 'failed_precondition', reason: Reason.SHARED_STATE_UNAVAILABLE, message: problem });
}
