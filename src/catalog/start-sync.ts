import type { Logger } from 'pino';
import type { CatalogSyncConfig } from '../config/catalog-sync.js';
import type { DatabaseTarget } from '../store/url.js';
import type { Catalog } from './catalog.js';
import type { CatalogSync, SyncLock } from './sync/index.js';
import type { SyncReport, SyncRunner } from './sync/types.js';
import type { CatalogStore } from '../store/catalog-store.js';
import { LiveCatalog, type LiveCatalogOptions } from './live.js';

export interface CatalogSyncWiring {
  readonly sync: CatalogSync;
  stop(): Promise<void>;
}

/**
 * The outside sources, their schedule and the lock that lets one replica of several sync. The
 * catalog is read lazily: it is built after the runner it is given.
 */
export async function startCatalogSync(options: {
  readonly config: CatalogSyncConfig;
  readonly catalog: () => Catalog;
  readonly apply: (report: SyncReport) => Promise<unknown>;
  readonly lastRunAt?: ((source: string) => Promise<number | undefined>) | undefined;
  readonly database: DatabaseTarget;
  readonly log: Logger;
}): Promise<CatalogSyncWiring> {
  const scheduled = Object.values({
    a: options.config.openrouter.interval,
    b: options.config.arena?.interval,
    c: options.config.huggingface.interval,
  }).some((interval) => interval !== undefined);
  // Replicas sharing PostgreSQL take a try-only advisory lock per source; one connection, only when something is scheduled.
  let pool: { end(): Promise<void> } | undefined;
  let lock: SyncLock | undefined;
  if (scheduled && options.database.kind === 'postgres') {
    const [{ default: pg }, { postgresSyncLock }] = await Promise.all([import('pg'), import('../store/sync-lock.js')]);
    const created = new pg.Pool({ connectionString: options.database.url, max: 1 });
    created.on('error', (err) => options.log.warn({ err }, 'catalog sync lock: database connection lost'));
    pool = created;
    lock = postgresSyncLock(created);
  }
  // The sources (their parsers, name matching, scheduler) load only where the config file names one.
  const { createCatalogSync } = await import('./sync/index.js');
  const sync = createCatalogSync(options.config, {
    known: () => options.catalog().models,
    onReport: async (report) => {
      await options.apply(report);
    },
    ...(lock ? { lock } : {}),
    ...(options.lastRunAt ? { lastRunAt: options.lastRunAt } : {}),
    log: options.log,
  });
  return {
    sync,
    async stop() {
      sync.scheduler.stop();
      await pool?.end();
    },
  };
}

/**
 * The catalog as it changes at runtime, started: runtime models and synced data from the ledger's
 * database, and the outside sources the config file names (none: SyncCatalog is refused).
 */
export async function startLiveCatalog(options: {
  readonly live: Omit<LiveCatalogOptions, 'store' | 'runner'>;
  /** The ledger's database; undefined without one (DATABASE_URL=off). */
  readonly store: CatalogStore | undefined;
  readonly sync: CatalogSyncConfig | undefined;
  /** A runner given by the caller (tests) instead of the configured sources. */
  readonly runner: SyncRunner | undefined;
  readonly database: DatabaseTarget;
}): Promise<{ readonly live: LiveCatalog; stop(): Promise<void> }> {
  const { store, log } = { store: options.store, log: options.live.log };
  const wiring =
    options.runner || !options.sync
      ? undefined
      : await startCatalogSync({
          config: options.sync,
          catalog: (): Catalog => live.catalog,
          apply: (report) => live.applyReport(report),
          lastRunAt: store ? (source) => store.lastSyncStart(source) : undefined,
          database: options.database,
          log,
        });
  const live: LiveCatalog = new LiveCatalog({ ...options.live, store, runner: options.runner ?? wiring?.sync.runner });
  await live.start();
  wiring?.sync.scheduler.start();
  return {
    live,
    async stop() {
      live.stop();
      await wiring?.stop();
    },
  };
}
