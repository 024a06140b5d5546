import type { Pool, PoolClient } from 'pg';

/**
 * Which replica syncs an outside catalog source, when several share one PostgreSQL database: a
 * session advisory lock per source, tried without waiting. The holder keeps a pooled connection
 * for the length of its run; if that replica dies, PostgreSQL drops the lock with the connection.
 * Shaped as the catalog sync's SyncLock (src/catalog/sync/lock.ts).
 */

/** First key of every catalog sync lock ("LLMC"), so they never collide with other advisory locks. */
const NAMESPACE = 0x4c4c4d43;

export interface PostgresSyncLock {
  acquire(source: string): Promise<(() => Promise<void>) | null>;
}

export function postgresSyncLock(pool: Pool): PostgresSyncLock {
  return {
    async acquire(source) {
      const client: PoolClient = await pool.connect();
      try {
        const res = await client.query<{ ok: boolean }>('select pg_try_advisory_lock($1, $2) as ok', [NAMESPACE, keyOf(source)]);
        if (!res.rows[0]?.ok) {
          client.release();
          return null;
        }
      } catch (err) {
        client.release(err instanceof Error ? err : true);
        throw err;
      }
      // A connection lost mid-run (database restart) must not crash the process: the lock is gone
      // with it, and release then just hands the broken client back.
      let lost: Error | undefined;
      const onError = (err: Error) => {
        lost = err;
      };
      client.on('error', onError);
      let released = false;
      return async () => {
        if (released) return;
        released = true;
        client.off('error', onError);
        if (lost) {
          client.release(lost);
          return;
        }
        try {
          await client.query('select pg_advisory_unlock($1, $2)', [NAMESPACE, keyOf(source)]);
          client.release();
        } catch (err) {
          // A connection that cannot unlock is closed instead, which frees the lock just the same.
          client.release(err instanceof Error ? err : true);
        }
      };
    },
  };
}

/** A stable 32-bit key per source name (FNV-1a). */
function keyOf(source: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < source.length; i++) {
    h ^= source.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}
