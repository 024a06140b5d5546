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
      // A connection lost while it is checked out (a database restart, the network) is told to the
      // client as an 'error' event, which neither pg-pool nor a query in flight listens to: unheard,
      // it would end the process. Heard from the first query to the release; the lock goes with it.
      let lost: Error | undefined;
      const onError = (err: Error) => {
        lost = err;
      };
      client.on('error', onError);
      const giveBack = (err?: Error | true): void => {
        client.off('error', onError);
        client.release(err);
      };
      try {
        const res = await client.query<{ ok: boolean }>('select pg_try_advisory_lock($1, $2) as ok', [NAMESPACE, keyOf(source)]);
        if (!res.rows[0]?.ok) {
          giveBack();
          return null;
        }
      } catch (err) {
        giveBack(err instanceof Error ? err : true);
        throw err;
      }
      let released = false;
      return async () => {
        if (released) return;
        released = true;
        if (lost) {
          giveBack(lost);
          return;
        }
        try {
          await client.query('select pg_advisory_unlock($1, $2)', [NAMESPACE, keyOf(source)]);
          giveBack();
        } catch (err) {
          // A connection that cannot unlock is closed instead, which frees the lock just the same.
          giveBack(err instanceof Error ? err : true);
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
