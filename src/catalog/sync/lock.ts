import type { CatalogSourceName } from './types.js';

/** Releases a held sync lock. */
export type SyncLockRelease = () => void | Promise<void>;

/**
 * Decides which replica syncs a source: `acquire` answers a release function when this replica
 * may run it now, null when another one is running it (this run is then skipped, not queued).
 * Every run takes it, scheduled or on demand (SyncCatalog): two replicas never fetch one source at once.
 */
export interface SyncLock {
  acquire(source: CatalogSourceName): Promise<SyncLockRelease | null>;
}

/** One process: the scheduler's own one-run-at-a-time already holds; this only keeps the rule explicit. */
export function inProcessSyncLock(): SyncLock {
  const held = new Set<CatalogSourceName>();
  return {
    async acquire(source) {
      if (held.has(source)) return null;
      held.add(source);
      return () => {
        held.delete(source);
      };
    },
  };
}
