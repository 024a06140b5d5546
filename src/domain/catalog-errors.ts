import { type FieldViolation, OrchestratorError, Reason } from './errors.js';

/*
 * What stops a change to the catalog or a sync on demand, one factory per situation: runtime models
 * that cannot be changed, the database that keeps them, and a sync that cannot run now.
 */

/** How long a caller is told to wait when another replica is syncing: a run takes seconds. */
export const CATALOG_SYNC_RETRY_MS = 5_000;

/**
 * SyncCatalog: another replica holds the source's sync lock (its run is going). Retryable: the
 * other replica's run applies to every replica, and a retry after it runs the source again.
 */
export function catalogSyncRunning(source: string, done: readonly string[]): OrchestratorError {
  const before = done.length > 0 ? `; ${done.join(', ')} ran first` : '';
  return new OrchestratorError({
    kind: 'unavailable',
    reason: Reason.CATALOG_SYNC_RUNNING,
    message: `another replica is syncing ${source} now; its result reaches this one within seconds, or retry later${before}`,
    retryable: true,
    retryAfterMs: CATALOG_SYNC_RETRY_MS,
    metadata: { source, ...(done.length > 0 ? { done: done.join(',') } : {}) },
  });
}

/** SyncCatalog: the sync lock cannot be taken (its database is unreachable); nothing ran unlocked. */
export function catalogSyncLockUnavailable(source: string, cause: unknown): OrchestratorError {
  return new OrchestratorError({
    kind: 'unavailable',
    reason: Reason.LEDGER_UNAVAILABLE,
    message: `the catalog sync lock for ${source} cannot be taken (its database is not reachable); retry shortly`,
    retryable: true,
    retryAfterMs: CATALOG_SYNC_RETRY_MS,
    metadata: { source },
    cause,
  });
}

/** DeleteModel: other runtime models still name this one as a fallback. */
export function runtimeModelInUse(id: string, users: readonly string[]): OrchestratorError {
  return new OrchestratorError({
    kind: 'failed_precondition',
    reason: Reason.INVALID_REQUEST,
    message: `"${id}" is a fallback of ${users.map((u) => `"${u}"`).join(', ')}: update those first`,
    fieldViolations: [{ field: 'id', description: `still a fallback of ${users.join(', ')}` }],
  });
}

/**
 * CreateModel, UpdateModel: names another model already answers to (ALREADY_EXISTS), each under
 * its field (`model.id`, `model.aliases[0]`); the first name and its field are in ErrorInfo's
 * `model` and `field`.
 */
export function modelNameTaken(taken: readonly [TakenName, ...TakenName[]]): OrchestratorError {
  const [first] = taken;
  const more = taken.length > 1 ? ` (and ${taken.length - 1} more)` : '';
  return new OrchestratorError({
    kind: 'already_exists',
    reason: Reason.MODEL_EXISTS,
    message: `${first.field}: ${first.description}${more}`,
    metadata: { model: first.name, field: first.field },
    fieldViolations: taken.map(({ field, description }) => ({ field, description })),
  });
}

/** A name a request gives a model that another model already answers to. */
export interface TakenName extends FieldViolation {
  readonly name: string;
}

/**
 * UpdateModel, DeleteModel: no runtime model has this id. `field` names where the request gave it
 * (`model.id`, `id`), as every other MODEL_NOT_FOUND does.
 */
export function runtimeModelNotFound(id: string, field: string): OrchestratorError {
  return new OrchestratorError({
    kind: 'not_found',
    reason: Reason.MODEL_NOT_FOUND,
    message: `no runtime model "${id}"`,
    metadata: { model: id, field },
  });
}

/** SyncCatalog without a `catalog.sync` section in the config file. */
export function noCatalogSource(): OrchestratorError {
  return new OrchestratorError({
    kind: 'failed_precondition',
    reason: Reason.INVALID_REQUEST,
    message: 'no catalog source is configured: set catalog.sync.<source>.url in the config file (see docs/catalog-sync.md)',
  });
}

/** A server built without a runtime catalog asked to change or sync it (FAILED_PRECONDITION). */
export function noRuntimeCatalog(): OrchestratorError {
  return new OrchestratorError({
    kind: 'failed_precondition',
    reason: Reason.INVALID_REQUEST,
    message: 'this server has no runtime catalog',
  });
}
