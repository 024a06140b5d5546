import type { Logger } from 'pino';
import type { CatalogSyncConfig } from '../config/catalog-sync.js';
import type { DatabaseTarget } from '../store/url.js';
import type { Catalog, CatalogModel } from './catalog.js';
import type { CatalogSyncDeps, SyncLock } from './sync/index.js';
import { SyncScheduler } from './sync/scheduler.js';
import type { CatalogSourceName, SyncReport, SyncRunner } from './sync/types.js';
import type { CatalogStore } from '../store/catalog-store.js';
import { LiveCatalog, type LiveCatalogOptions } from './live.js';
import { CATALOG_SOURCES } from './sync/types.js';

export interface CatalogSyncWiring {
  /** Every run goes through it, scheduled or on demand: one lock, one run at a time per source. */
  readonly scheduler: SyncScheduler;
  stop(): Promise<void>;
}

type SharedDeps = Pick<CatalogSyncDeps, 'lock' | 'lastRunAt' | 'log'>;

/**
 * The models a source's names may resolve to. A model that exists only because OpenRouter listed
 * it is OpenRouter's own name: OpenRouter's next list must not match it, or that row would name a
 * catalog id and stop making the model (it would vanish every other run). Other sources may.
 */
export function knownTo(source: CatalogSourceName, models: readonly CatalogModel[]): readonly CatalogModel[] {
  return source === 'openrouter' ? models.filter((m) => m.origins.base.source !== 'openrouter') : models;
}

/**
 * The outside sources (or a runner given by the caller), their schedule and the lock that lets one
 * replica of several sync a source at a time. Undefined when there is nothing to run. The catalog
 * is read lazily: it is built after the scheduler it is given.
 */
export async function startCatalogSync(options: {
  readonly config: CatalogSyncConfig | undefined;
  /** Runs instead of the configured sources (tests); nothing is scheduled then. */
  readonly runner: SyncRunner | undefined;
  readonly catalog: () => Catalog;
  readonly apply: (report: SyncReport) => Promise<unknown>;
  readonly lastRunAt?: ((source: string) => Promise<number | undefined>) | undefined;
  readonly database: DatabaseTarget;
  readonly log: Logger;
}): Promise<CatalogSyncWiring | undefined> {
  const { config, runner, log } = options;
  const onReport = async (report: SyncReport) => {
    await options.apply(report);
  };
  const build = runner
    ? async (shared: SharedDeps) => new SyncScheduler({ runner, schedules: {}, onReport, ...shared })
    : config
      ? async (shared: SharedDeps) => {
          // The sources (their parsers, name matching) load only where the config file names one.
          const { createCatalogSync } = await import('./sync/index.js');
          return createCatalogSync(config, { known: (source) => knownTo(source, options.catalog().models), onReport, ...shared }).scheduler;
        }
      : undefined;
  if (!build) return undefined;
  // Replicas sharing PostgreSQL take a try-only advisory lock per source, for scheduled runs and
  // runs on demand alike. A held lock keeps its connection for the run: one per source.
  let pool: { end(): Promise<void> } | undefined;
  let lock: SyncLock | undefined;
  if (options.database.kind === 'postgres') {
    const [{ default: pg }, { postgresSyncLock }, { PG_CONNECT_MS }] = await Promise.all([
      import('pg'),
      import('../store/sync-lock.js'),
      import('../store/database.js'),
    ]);
    // Bounded like the ledger's pool: a database that stopped answering fails the lock (the run
    // is skipped, SyncCatalog answers UNAVAILABLE) rather than holding it, and shutdown, for good.
    // Its queries only take and let go of the lock, which never waits.
    const created = new pg.Pool({
      connectionString: options.database.url,
      max: CATALOG_SOURCES.length,
      connectionTimeoutMillis: PG_CONNECT_MS,
      query_timeout: PG_CONNECT_MS,
    });
    created.on('error', (err) => log.warn({ err }, 'catalog sync lock: database connection lost'));
    pool = created;
    lock = postgresSyncLock(created);
  }
  const scheduler = await build({
    ...(lock ? { lock } : {}),
    ...(options.lastRunAt ? { lastRunAt: options.lastRunAt } : {}),
    log,
  });
  return {
    scheduler,
    async stop() {
      scheduler.stop();
      await pool?.end();
    },
  };
}

/**
 * The catalog as it changes at runtime, started: runtime models and synced data from the ledger's
 * database, and the outside sources the config file names (none: SyncCatalog is refused).
 */
export async function startLiveCatalog(options: {
  readonly live: Omit<LiveCatalogOptions, 'store' | 'sync'>;
  /** The ledger's database; undefined without one (DATABASE_URL=off). */
  readonly store: CatalogStore | undefined;
  readonly sync: CatalogSyncConfig | undefined;
  /** A runner given by the caller (tests) instead of the configured sources. */
  readonly runner: SyncRunner | undefined;
  readonly database: DatabaseTarget;
}): Promise<{ readonly live: LiveCatalog; stop(): Promise<void> }> {
  const { store, log } = { store: options.store, log: options.live.log };
  const wiring = await startCatalogSync({
    config: options.sync,
    runner: options.runner,
    catalog: (): Catalog => live.catalog,
    apply: (report) => live.applyReport(report),
    lastRunAt: store ? (source) => store.lastSyncStart(source) : undefined,
    database: options.database,
    log,
  });
  const live: LiveCatalog = new LiveCatalog({ ...options.live, store, sync: wiring?.scheduler });
  await live.start();
  wiring?.scheduler.start();
  return {
    live,
    async stop() {
      live.stop();
      await wiring?.stop();
    },
  };
}
