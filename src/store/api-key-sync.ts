import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { listApiKeys, type StoredApiKey } from './api-keys.js';
import type { LedgerSchema } from './schema.js';

export interface ApiKeySyncOptions {
  /** The open database; undefined while it is unreachable (the keys last read stay in force). */
  readonly database: () => Kysely<LedgerSchema> | undefined;
  readonly intervalMs: number;
  /** Told the live (unrevoked) keys whenever they differ from the last ones told, and whether any key was ever stored. */
  readonly apply: (live: readonly StoredApiKey[], issued: boolean) => void;
  readonly log: Logger;
}

/**
 * Keeps this replica's runtime keys in step with the database: every `intervalMs` it reads the
 * keys table (a few rows) and applies what changed. A key revoked on any replica is refused here
 * at the next read; a database that cannot be read leaves the last keys in force and is retried.
 */
export class ApiKeySync {
  private timer: NodeJS.Timeout | undefined;
  private last = '';
  private running: Promise<void> | undefined;
  private next: Promise<void> | undefined;
  private failing = false;
  /** The live keys last applied, and whether any key was ever stored; undefined until the table is first read. */
  private applied: { live: readonly StoredApiKey[]; issued: boolean } | undefined;
  /** Counts the rows applied by {@link wrote}: a read that began before one must not undo it. */
  private writes = 0;

  constructor(private readonly options: ApiKeySyncOptions) {}

  /** Reads once now (start-up waits for it), then every interval. */
  async start(): Promise<void> {
    await this.refresh();
    // A tick while a read is under way has nothing to add to it.
    this.timer = setInterval(() => void (this.running ?? this.refresh()), this.options.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /**
   * A read that starts now, or, while one is under way, the one after it, shared by every caller
   * meanwhile: the read under way may have read the table before the caller's change (an admin
   * RPC calls this after its write, so its own replica knows the change at once).
   */
  refresh(): Promise<void> {
    if (this.running === undefined) {
      this.running = this.read().finally(() => {
        this.running = undefined;
      });
      return this.running;
    }
    this.next ??= this.running.then(() => {
      this.next = undefined;
      return this.refresh();
    });
    return this.next;
  }

  /**
   * A row this replica has just written (an admin RPC): applied at once, so the RPC's answer holds
   * here even when the table cannot be read back (a revoked key must not stay usable until the
   * next read that works), then the table is read again for the other replicas' changes.
   */
  wrote(row: StoredApiKey): Promise<void> {
    // Before the first read, the other keys are unknown: applying one row would pass for all of them.
    if (this.applied !== undefined) {
      this.writes += 1;
      const others = this.applied.live.filter((k) => k.name !== row.name);
      const live = row.revokedAt === undefined ? [...others, row].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)) : others;
      this.apply(live, true);
    }
    return this.refresh();
  }

  private apply(live: readonly StoredApiKey[], issued: boolean): void {
    this.applied = { live, issued };
    // Every field, not updated_at alone: two changes within one millisecond (or after the clock stepped back) share it.
    const signature = JSON.stringify([issued, live]);
    if (signature === this.last) return;
    this.last = signature;
    this.options.apply(live, issued);
  }

  private async read(): Promise<void> {
    const db = this.options.database();
    if (!db) return;
    const writes = this.writes;
    try {
      const stored = await listApiKeys(db);
      const live = stored.filter((k) => k.revokedAt === undefined);
      if (this.failing) this.options.log.info('API keys readable again from the database');
      this.failing = false;
      // Read before a row this replica wrote meanwhile: the read queued behind this one applies it.
      if (writes !== this.writes) return;
      this.apply(live, stored.length > 0);
    } catch (err) {
      if (!this.failing) this.options.log.warn({ err }, 'cannot read API keys from the database; the last ones read stay in force');
      this.failing = true;
    }
  }
}
