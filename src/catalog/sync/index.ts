import type { CatalogSyncConfig } from '../../config/catalog-sync.js';
import { secretFromEnv } from '../../config/env-values.js';
import { createArenaSource } from './arena.js';
import { createHuggingFaceSource } from './huggingface.js';
import type { SyncLock } from './lock.js';
import type { SyncInterval } from './interval.js';
import { createOpenRouterSource } from './openrouter.js';
import type { KnownModel } from './resolve.js';
import { createSyncRunner } from './runner.js';
import { type SyncClock, type SyncEvent, SyncScheduler, type SyncSchedulerOptions } from './scheduler.js';
import type { CatalogSource, CatalogSourceName, SyncReport, SyncRunner } from './types.js';

export { SyncError } from './errors.js';
export type { SyncInterval } from './interval.js';
export { inProcessSyncLock, type SyncLock, type SyncLockRelease } from './lock.js';
export type { KnownModel } from './resolve.js';
export { resolveNames } from './resolve.js';
export { createSyncRunner } from './runner.js';
export { SyncLockUnavailable, SyncScheduler, type SyncClock, type SyncEvent, type SyncStats } from './scheduler.js';
export type * from './types.js';

export interface CatalogSyncDeps {
  /** The names the catalog knows now (ids, aliases, upstream ids); read at every run. */
  readonly known: (source: CatalogSourceName) => readonly KnownModel[];
  /** Every finished run's report (failed ones too): the catalog applies and keeps it. */
  readonly onReport: (report: SyncReport) => void | Promise<void>;
  /** Which replica syncs; default: this process alone (use the PostgreSQL advisory lock with several). */
  readonly lock?: SyncLock;
  /** When any replica last ran the source (from the catalog's store): stops a second run of one tick. */
  readonly lastRunAt?: SyncSchedulerOptions['lastRunAt'];
  readonly onEvent?: (event: SyncEvent) => void;
  readonly log?: SyncSchedulerOptions['log'];
  /** Where `token_env` is read; default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly clock?: SyncClock;
}

export interface CatalogSync {
  /** Runs a source once now (SyncCatalog); never throws. */
  readonly runner: SyncRunner;
  /** Call start() once at start-up and stop() at shutdown; runNow() shares its lock and one-at-a-time rule. */
  readonly scheduler: SyncScheduler;
  /** The sources that can run (configured), scheduled or not. */
  readonly sources: readonly CatalogSourceName[];
}

/** Builds the sources the config file names, the runner over them and the scheduler. Starts nothing. */
export function createCatalogSync(config: CatalogSyncConfig, deps: CatalogSyncDeps): CatalogSync {
  const limits = { timeoutMs: config.timeoutMs, maxBytes: config.maxBodyBytes, proxy: config.proxy };
  const sources: CatalogSource[] = [];
  const schedules: Partial<Record<CatalogSourceName, SyncInterval>> = {};
  if (config.openrouter) {
    sources.push(createOpenRouterSource({ url: config.openrouter.url, ...limits }));
    if (config.openrouter.interval) schedules.openrouter = config.openrouter.interval;
  }
  if (config.arena) {
    const { url, format, referenceScore, minVotes } = config.arena;
    sources.push(createArenaSource({ url, format, minVotes, ...(referenceScore !== undefined ? { referenceScore } : {}), ...limits }));
    if (config.arena.interval) schedules.arena = config.arena.interval;
  }
  if (config.huggingface.models.length > 0) {
    const token = config.huggingface.tokenEnv ? secretFromEnv(deps.env ?? process.env, config.huggingface.tokenEnv) : undefined;
    sources.push(
      createHuggingFaceSource({ url: config.huggingface.url, models: config.huggingface.models, ...(token ? { token } : {}), ...limits }),
    );
    if (config.huggingface.interval) schedules.huggingface = config.huggingface.interval;
  }
  const runner = createSyncRunner({ sources, known: deps.known, overrides: config.overrides, fuzzyThreshold: config.fuzzyThreshold });
  const scheduler = new SyncScheduler({
    runner,
    schedules,
    onReport: deps.onReport,
    retry: config.retry,
    ...(deps.lock ? { lock: deps.lock } : {}),
    ...(deps.lastRunAt ? { lastRunAt: deps.lastRunAt } : {}),
    ...(deps.onEvent ? { onEvent: deps.onEvent } : {}),
    ...(deps.log ? { log: deps.log } : {}),
    ...(deps.clock ? { clock: deps.clock } : {}),
  });
  return { runner, scheduler, sources: sources.map((s) => s.name) };
}
