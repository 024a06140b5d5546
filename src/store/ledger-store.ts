import type { Logger } from 'pino';
import { settleWithin } from '../domain/timers.js';
import { connect, migrate, SchemaTooNewError, type LedgerDatabase } from './database.js';
import type { CallRecord, Ledger } from './records.js';
import { isFileReplaced, watchFile } from './sqlite-file.js';
import { describeTarget, type DatabaseTarget } from './url.js';
import { writeBatch } from './write-batch.js';

export interface LedgerStoreOptions {
  readonly target: Exclude<DatabaseTarget, { kind: 'off' }>;
  readonly log: Logger;
  /** Records waiting to be written; past this, new records are dropped and counted. */
  readonly maxQueue: number;
  /** The longest a record waits for its batch; a full batch is written at once. */
  readonly flushMs: number;
  /** Records per transaction. */
  readonly batchSize: number;
  /** Told how many records were dropped (the Prometheus counter). */
  readonly onDropped?: (count: number) => void;
  /** First wait between connection attempts when the database is unreachable; doubles up to 10 s. */
  readonly retryMs?: number;
  /** PostgreSQL: the longest a query waits for its answer (LEDGER_QUERY_TIMEOUT_MS). */
  readonly queryTimeoutMs?: number;
}

const WARN_EVERY_MS = 60_000;
/** What closing the database gets when the flush used the whole grace period (a SQLite file's writer finishing). */
const CLOSE_MS = 1_000;
const MAX_RETRY_MS = 10_000;

/**
 * The ledger's write side: calls go into a bounded in-memory queue and are written in batches
 * (one transaction each) off the call's path. A slow or dead database never delays a call: the
 * queue fills, then new records are dropped and counted. Unreachable at start-up (PostgreSQL),
 * it keeps connecting in the background and writes what the queue still holds once it can.
 */
export class LedgerStore implements Ledger {
  private database: LedgerDatabase | undefined;
  private queue: CallRecord[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  private inFlight = 0;
  private connecting: Promise<void> | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private unwatch: (() => void) | undefined;
  private closed = false;
  private failures = 0;
  private droppedSinceWarning = 0;
  private lastWarning = 0;
  private lastRefusal = 0;
  /** Records dropped since start (queue full, or refused by the database). */
  dropped = 0;
  /** Records written since start. */
  written = 0;

  constructor(private readonly options: LedgerStoreOptions) {}

  /**
   * Connects and migrates. A database that is ahead of this version (SchemaTooNewError) or a
   * SQLite file that cannot be opened throws; an unreachable PostgreSQL only logs, and the
   * store keeps trying in the background.
   */
  async start(): Promise<void> {
    const { target, log } = this.options;
    try {
      await this.open();
    } catch (err) {
      if (err instanceof SchemaTooNewError || target.kind === 'sqlite') throw err;
      log.warn(
        { database: describeTarget(target), err: messageOf(err) },
        'ledger database unreachable at start-up: serving anyway, calls are queued and written once it answers',
      );
      this.scheduleReconnect();
    }
  }

  /** The open database, or undefined while it is unreachable. */
  get db(): LedgerDatabase | undefined {
    return this.database;
  }

  /** Records not written yet: waiting in the queue or in the batch being written. */
  get queued(): number {
    return this.queue.length + this.inFlight;
  }

  recordCall(record: CallRecord): void {
    if (this.closed) return;
    if (this.queue.length >= this.options.maxQueue) {
      this.drop(1);
      return;
    }
    this.queue.push(record);
    // A full batch does not wait for the timer: at more calls per second than batchSize per
    // flushMs, waiting would fill the queue and drop records.
    if (this.queue.length >= this.options.batchSize) this.writeSoon();
    else this.schedule(this.options.flushMs);
  }

  /** Writes what is queued, batch after batch, until empty or `deadline` (epoch ms). */
  async flush(deadline = Number.POSITIVE_INFINITY): Promise<void> {
    // A batch already taken from the queue may still be in flight: it counts as not written yet.
    await this.writing;
    while (this.queue.length > 0 && Date.now() < deadline) {
      if (!this.database) {
        // A SQLite file deleted under the ledger is being opened again; a database away is not waited for.
        if (!this.connecting) break;
        await settleWithin(this.connecting, deadline - Date.now());
        continue;
      }
      await this.writeOnce();
      if (this.failures > 0) {
        if (Date.now() + this.backoffMs() >= deadline) break;
        await new Promise((r) => setTimeout(r, this.backoffMs()));
      }
    }
  }

  /**
   * Flushes within the grace period, then closes; what is still queued after it is counted as
   * dropped. Bounded even when the database stopped answering (a write or the pool's end that
   * never returns): the process exits on time and the records it could not write are logged.
   */
  async close(graceMs: number): Promise<void> {
    const deadline = Date.now() + graceMs;
    clearTimeout(this.timer);
    // A reconnect waiting out its backoff would come after the process is gone: with records to
    // write, the grace period is theirs, so the attempt is made now rather than never.
    if (this.reconnectTimer && this.queue.length > 0) {
      clearTimeout(this.reconnectTimer);
      this.reconnectTimer = undefined;
      this.reconnect(() => this.open());
    }
    // What a write does after the deadline is no longer waited for. A connection being opened
    // (a SQLite file opened again, a PostgreSQL reconnect under way) may come up within the grace:
    // flush() waits for it, and one that fails is not tried again.
    await settleWithin(this.database || this.connecting ? this.flush(deadline) : this.writing, deadline - Date.now());
    this.closed = true;
    clearTimeout(this.timer);
    clearTimeout(this.reconnectTimer);
    this.unwatch?.();
    // A batch still being written when time ran out is not written either, as far as anyone can tell.
    const unwritten = this.queued;
    if (unwritten > 0) {
      this.options.log.warn({ records: unwritten }, 'ledger: records not written before shutdown');
      this.drop(unwritten);
      this.queue = [];
    }
    const database = this.database;
    this.database = undefined;
    // The pool ends only once its connections are back: one held by a write that never returns is not.
    // A reconnect under way closes what it opens (open()); waited for alike, so that when close()
    // returns nothing of the store is left open, as far as the time allows.
    await settleWithin(Promise.all([database?.close(), this.connecting]), Math.max(deadline - Date.now(), CLOSE_MS));
  }

  private async open(): Promise<void> {
    const database = connect(this.options.target, { queryTimeoutMs: this.options.queryTimeoutMs });
    try {
      const applied = await migrate(database);
      if (applied.length > 0) this.options.log.info({ migrations: applied }, 'ledger: database migrated');
    } catch (err) {
      await database.close().catch(() => undefined);
      throw err;
    }
    // Closed meanwhile (a reconnect, or start() itself, still under way): nothing is written any more.
    if (this.closed) {
      await database.close().catch(() => undefined);
      return;
    }
    this.database = database;
    const { target } = this.options;
    if (target.kind === 'sqlite' && database.fileIdentity)
      this.unwatch = watchFile(target.file, database.fileIdentity, () => this.reopen(database));
    this.failures = 0;
    this.options.log.info({ database: describeTarget(this.options.target) }, 'ledger: recording calls');
    if (this.queue.length > 0) this.schedule(0);
  }

  private scheduleReconnect(): void {
    if (this.closed || this.connecting) return;
    const wait = this.backoffMs();
    this.failures += 1;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (!this.closed) this.reconnect(() => this.open());
    }, wait);
    this.reconnectTimer.unref();
  }

  private reconnect(open: () => Promise<void>): void {
    this.connecting = open().then(
      () => {
        this.connecting = undefined;
      },
      (err: unknown) => {
        this.connecting = undefined;
        if (err instanceof SchemaTooNewError) this.options.log.error({ err: err.message }, 'ledger: database refused');
        this.scheduleReconnect();
      },
    );
  }

  /**
   * The SQLite file was deleted or replaced under the open database (found by the writer thread
   * after a batch, or by watchFile): what was written to it is gone with it. Its connections are
   * closed and the path opened again (created and migrated when nothing is there), and a batch
   * that found out goes to the new file.
   */
  private reopen(gone: LedgerDatabase): void {
    const { target, log } = this.options;
    if (this.database !== gone || this.closed || target.kind !== 'sqlite') return;
    this.database = undefined;
    this.unwatch?.();
    log.error(
      { file: target.file },
      'ledger: the SQLite file was deleted or replaced while open; opening the path again, later calls are written there',
    );
    this.reconnect(async () => {
      // A batch in flight is settled first (written before the file went, or sent back to the queue).
      await this.writing;
      await gone.close().catch(() => undefined);
      try {
        await this.open();
      } catch (err) {
        log.warn({ file: target.file, err: messageOf(err) }, 'ledger: cannot open the SQLite file again; retrying');
        throw err;
      }
    });
  }

  private schedule(delayMs: number): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.writeOnce().then(() => {
        if (this.queue.length === 0) return;
        if (this.failures > 0) this.schedule(this.backoffMs());
        else if (this.queue.length >= this.options.batchSize) this.writeSoon();
        else this.schedule(this.options.flushMs);
      });
    }, delayMs);
    this.timer.unref();
  }

  /** A full batch: written on the next turn, unless a write is in progress (its end comes back here) or retrying. */
  private writeSoon(): void {
    if (this.writing) return;
    if (this.failures > 0 || !this.database) {
      this.schedule(this.options.flushMs);
      return;
    }
    clearTimeout(this.timer);
    this.timer = undefined;
    this.schedule(0);
  }

  /**
   * One batch; a batch that failed for want of the database goes back to the head of the queue
   * (it is retried, not lost). One the database refused for its rows is written call by call.
   */
  private writeOnce(): Promise<void> {
    if (this.writing) return this.writing;
    const database = this.database;
    if (!database || this.queue.length === 0) return Promise.resolve();
    const batch = this.queue.splice(0, this.options.batchSize);
    this.inFlight = batch.length;
    this.writing = this.write(database, batch).finally(() => {
      this.writing = undefined;
      this.inFlight = 0;
    });
    return this.writing;
  }

  /**
   * close() counts a batch still in flight as not written: whatever becomes of it afterwards (the
   * writer ended under it, the pool gone, or a late commit) changes no count and is not retried.
   */
  private async write(database: LedgerDatabase, batch: CallRecord[]): Promise<void> {
    try {
      await writeBatch(database, batch);
    } catch (err) {
      if (this.closed) return;
      if (rowProblem(err) === undefined) this.requeue(batch, err, database);
      else await this.writeEach(database, batch);
      return;
    }
    if (!this.closed) this.wrote(batch.length);
  }

  /**
   * A batch the database refused for what is in it rather than for being away: a value it cannot
   * hold, or rows already there (a batch committed whose answer was lost with the connection, then
   * retried). Each call alone, so that one record never holds back the ones after it: a call
   * already there counts as written, a call refused is dropped and counted, and a failure of
   * any other kind sends the rest back to the queue.
   */
  private async writeEach(database: LedgerDatabase, batch: CallRecord[]): Promise<void> {
    for (let i = 0; i < batch.length; i++) {
      const record = batch[i]!;
      let refusal: { readonly err: unknown } | undefined;
      try {
        await writeBatch(database, [record]);
      } catch (err) {
        if (this.closed) return;
        const problem = rowProblem(err);
        if (problem === undefined) {
          this.requeue(batch.slice(i), err, database);
          return;
        }
        if (problem === 'refused') refusal = { err };
      }
      if (this.closed) return;
      // What close() counts as not written is only what this loop has not settled yet.
      this.inFlight -= 1;
      if (refusal) this.refused(record, refusal.err);
      else this.wrote(1);
    }
  }

  private wrote(count: number): void {
    this.written += count;
    if (this.failures > 0)
      this.options.log.info({ database: describeTarget(this.options.target) }, 'ledger: database answers again; writing');
    this.failures = 0;
  }

  private requeue(batch: readonly CallRecord[], err: unknown, database: LedgerDatabase): void {
    if (isFileReplaced(err)) this.reopen(database);
    else if (++this.failures === 1) this.options.log.warn({ err: messageOf(err) }, 'ledger: write failed; keeping the batch and retrying');
    const room = this.options.maxQueue - this.queue.length;
    const kept = batch.slice(0, Math.max(0, room));
    this.queue.unshift(...kept);
    if (kept.length < batch.length) this.drop(batch.length - kept.length);
  }

  private refused(record: CallRecord, err: unknown): void {
    this.dropped += 1;
    this.options.onDropped?.(1);
    const now = Date.now();
    if (now - this.lastRefusal >= WARN_EVERY_MS) {
      this.options.log.warn({ requestId: record.requestId, err: messageOf(err) }, 'ledger: the database refused a call record; dropped');
      this.lastRefusal = now;
    }
  }

  private backoffMs(): number {
    const base = this.options.retryMs ?? Math.max(this.options.flushMs, 500);
    return Math.min(MAX_RETRY_MS, base * 2 ** Math.min(this.failures, 6));
  }

  private drop(count: number): void {
    this.dropped += count;
    this.droppedSinceWarning += count;
    this.options.onDropped?.(count);
    const now = Date.now();
    if (now - this.lastWarning >= WARN_EVERY_MS) {
      this.options.log.warn(
        { dropped: this.droppedSinceWarning, queued: this.queue.length },
        'ledger: queue full or database unavailable; records dropped',
      );
      this.lastWarning = now;
      this.droppedSinceWarning = 0;
    }
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Why the database refused a batch, when it refused it for its rows: `duplicate` for a row
 * already there (a unique key), `refused` for a value it cannot hold or another row it rejects;
 * undefined for anything else (the database away, a lost connection), which is retried.
 * PostgreSQL's SQLSTATE classes 22 (data exception) and 23 (integrity constraint); SQLite's
 * constraint, type and size errors.
 */
export function rowProblem(err: unknown): 'duplicate' | 'refused' | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return undefined;
  if (code === '23505' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE') return 'duplicate';
  if (/^2[23][0-9A-Z]{3}$/.test(code) || /^SQLITE_(CONSTRAINT|MISMATCH|TOOBIG|RANGE)/.test(code)) return 'refused';
  return undefined;
}
