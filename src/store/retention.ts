import { setImmediate as nextTurn } from 'node:timers/promises';
import { Cron } from 'croner';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import { CatalogStore } from './catalog-store.js';
import type { LedgerDatabase } from './database.js';
import { extend } from '../domain/extend.js';

export interface RetentionOptions {
  readonly database: () => LedgerDatabase | undefined;
  /** Rows older than this many days go; 0 disables the job. */
  readonly days: number;
  /** Cron pattern (UTC). */
  readonly cron: string;
  readonly log: Logger;
  /** Calls deleted per transaction: small, so writers are never held up for long. */
  readonly batchSize?: number;
  /**
   * Calls from this moment on are kept whatever their age (undefined: none): the current month's,
   * while monthly budgets are read back from the ledger after a restart.
   */
  readonly keepFrom?: (now: number) => number | undefined;
}

export interface RetentionResult {
  readonly calls: number;
  readonly attempts: number;
  readonly decisions: number;
  /** Catalog sync runs (catalog_sync_runs) deleted. */
  readonly syncRuns: number;
  /** Another replica held the lock: nothing was done here. */
  readonly skipped: boolean;
}

/** Same key on every replica: only one of them prunes at a time. */
const RETENTION_LOCK_KEY = 0x4c4c4d52; // "LLMR"

/**
 * Deletes ledger rows and catalog sync runs older than LEDGER_RETENTION_DAYS on a schedule. croner's `protect`
 * keeps one run at a time in this process; on PostgreSQL an advisory lock keeps it to one
 * replica (the others skip that run).
 */
export class RetentionJob {
  private job: Cron | undefined;
  private readonly stopping = new AbortController();

  constructor(private readonly options: RetentionOptions) {}

  start(): void {
    if (this.options.days <= 0) return;
    this.job = new Cron(this.options.cron, { protect: true, timezone: 'UTC', unref: true }, async () => {
      try {
        await this.runOnce();
      } catch (err) {
        // Stopped: the ledger's database closed under a batch, and there is no next run.
        if (this.stopping.signal.aborted) return;
        this.options.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'ledger retention failed; next run retries');
      }
    });
  }

  /** No more runs; one under way stops after its current batch (the ledger's database closes next). */
  stop(): void {
    this.job?.stop();
    this.stopping.abort();
  }

  async runOnce(now = Date.now()): Promise<RetentionResult> {
    const database = this.options.database();
    const none = { calls: 0, attempts: 0, decisions: 0, syncRuns: 0, skipped: false };
    if (!database || this.options.days <= 0) return none;
    const olderThan = now - this.options.days * 86_400_000;
    // What budgets read back are calls: catalog sync runs go by the retention alone.
    const cutoff = Math.min(olderThan, this.options.keepFrom?.(now) ?? Number.POSITIVE_INFINITY);
    const result =
      database.dialect === 'postgres'
        ? await database.db.connection().execute(async (conn) => {
            const lock = await sql<{ ok: boolean }>`select pg_try_advisory_lock(${RETENTION_LOCK_KEY}) as ok`.execute(conn);
            if (!lock.rows[0]?.ok) return extend(none, { skipped: true });
            try {
              return await this.prune(extend(database, { db: conn }), cutoff, olderThan);
            } finally {
              await sql`select pg_advisory_unlock(${RETENTION_LOCK_KEY})`.execute(conn);
            }
          })
        : await this.prune(database, cutoff, olderThan);
    if (result.calls > 0 || result.syncRuns > 0 || result.skipped) {
      this.options.log.info(
        extend(result, { olderThan: new Date(cutoff).toISOString() }),
        result.skipped ? 'ledger retention: another replica is pruning' : 'ledger retention: old rows deleted',
      );
    }
    return result;
  }

  private async prune(database: LedgerDatabase, cutoff: number, syncRunsCutoff: number): Promise<RetentionResult> {
    const batch = this.options.batchSize ?? 1_000;
    let calls = 0;
    let attempts = 0;
    let decisions = 0;
    const { signal } = this.stopping;
    await inBatches(batch, signal, async () => {
      const removed = await database.db.transaction().execute(async (trx) => {
        const ids = (await trx.selectFrom('ledger_calls').select('id').where('ts', '<', cutoff).limit(batch).execute()).map((r) => r.id);
        if (ids.length === 0) return { calls: 0, attempts: 0, decisions: 0 };
        const a = await trx.deleteFrom('ledger_attempts').where('call_id', 'in', ids).executeTakeFirst();
        const d = await trx.deleteFrom('ledger_decisions').where('call_id', 'in', ids).executeTakeFirst();
        const c = await trx.deleteFrom('ledger_calls').where('id', 'in', ids).executeTakeFirst();
        return { calls: Number(c.numDeletedRows), attempts: Number(a.numDeletedRows), decisions: Number(d.numDeletedRows) };
      });
      calls += removed.calls;
      attempts += removed.attempts;
      decisions += removed.decisions;
      return removed.calls;
    });
    // A scheduled catalog sync records a run every few minutes: kept forever, they would outgrow the ledger.
    const catalog = new CatalogStore(() => database);
    let syncRuns = 0;
    await inBatches(batch, signal, async () => {
      const removed = await catalog.deleteOldSyncRuns(syncRunsCutoff, batch);
      syncRuns += removed;
      return removed;
    });
    return { calls, attempts, decisions, syncRuns, skipped: false };
  }
}

/** Runs `step` (which deletes up to `batch` rows and says how many) until a step deletes fewer, or `signal` aborts. */
async function inBatches(batch: number, signal: AbortSignal, step: () => Promise<number>): Promise<void> {
  while (!signal.aborted && (await step()) >= batch) {
    // SQLite's statements run synchronously on the event loop, and awaiting them never lets it
    // turn: without this pause a run over a large backlog would hold every call until it ends.
    await nextTurn();
  }
}
