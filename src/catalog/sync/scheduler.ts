import { type SyncInterval, nextRunAt } from './interval.js';
import { type SyncLock, inProcessSyncLock } from './lock.js';
import { CATALOG_SOURCES, type CatalogSourceName, type SyncReport, type SyncRunner } from './types.js';
import { MAX_TIMER_MS, timerDelay } from '../../domain/timers.js';

/** A run on demand could not take the sync lock (its database is unreachable): nothing ran. */
export class SyncLockUnavailable extends Error {
  constructor(
    readonly source: CatalogSourceName,
    cause: unknown,
  ) {
    super(`the sync lock for ${source} is unavailable`, { cause });
    this.name = 'SyncLockUnavailable';
  }
}

/**
 * Runs each source on its interval: one run at a time per source (a tick that finds the previous
 * run still going is skipped and counted), jittered retries after a failure (a source's
 * Retry-After wins over the backoff when it is longer), and a lock so that of several replicas
 * only one syncs a source at a time. Time comes from an injected clock, so tests need no sleeps.
 */
export interface SyncClock {
  now(): number;
  /** Calls `fn` after `ms`; answers a function that cancels it. */
  setTimer(ms: number, fn: () => void): () => void;
}

/** The two pino methods the scheduler logs with (a pino Logger fits). */
export interface SyncLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface SyncRetryPolicy {
  /** Runs per failed tick, the first included; 1: no retries (the next tick tries again). */
  readonly maxAttempts: number;
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
}

export type SyncEvent =
  | { readonly kind: 'run'; readonly source: CatalogSourceName; readonly report: SyncReport; readonly attempt: number }
  | { readonly kind: 'skipped'; readonly source: CatalogSourceName; readonly reason: 'overlap' | 'locked' | 'fresh' }
  | { readonly kind: 'retry'; readonly source: CatalogSourceName; readonly attempt: number; readonly delayMs: number };

export interface SyncStats {
  runs: number;
  failures: number;
  skippedOverlap: number;
  skippedLocked: number;
  /** Another replica ran this tick already (`lastRunAt`). */
  skippedFresh: number;
  retries: number;
  lastReport?: SyncReport;
}

export interface SyncSchedulerOptions {
  readonly runner: SyncRunner;
  /** The sources to run on a schedule; a source left out (or `off` in the file) runs only on demand. */
  readonly schedules: Partial<Record<CatalogSourceName, SyncInterval>>;
  /** Every finished run's report, failed ones included; the catalog applies and keeps it. */
  readonly onReport: (report: SyncReport) => void | Promise<void>;
  /** Everything that happened, for metrics. */
  readonly onEvent?: (event: SyncEvent) => void;
  readonly lock?: SyncLock;
  /**
   * When any replica last started a run of this source that reported (from the catalog's store).
   * A scheduled tick that gets the lock skips the run when that was less than half an interval
   * ago: the lock keeps replicas from running together, this keeps them from running one after
   * another on the same tick.
   */
  readonly lastRunAt?: (source: CatalogSourceName) => number | undefined | Promise<number | undefined>;
  readonly retry?: Partial<SyncRetryPolicy>;
  readonly clock?: SyncClock;
  /** 0 <= x < 1; injected for tests. */
  readonly random?: () => number;
  readonly log?: SyncLog;
}

export const DEFAULT_SYNC_RETRY: SyncRetryPolicy = { maxAttempts: 4, initialBackoffMs: 60_000, maxBackoffMs: 30 * 60_000 };

export const systemClock: SyncClock = {
  now: () => Date.now(),
  setTimer(ms, fn) {
    // A Node timer holds MAX_TIMER_MS at most: a longer wait (a long interval, a source's
    // Retry-After) is a chain of timers, so no caller wakes up before its time.
    let t: NodeJS.Timeout;
    const wait = (left: number) => {
      t = setTimeout(left > MAX_TIMER_MS ? () => wait(left - MAX_TIMER_MS) : fn, timerDelay(left));
      t.unref();
    };
    wait(ms);
    return () => clearTimeout(t);
  },
};

/** A regular tick, a retry after a failed run, or a run on demand (SyncCatalog). */
type RunMode = 'tick' | 'retry' | 'demand';

interface SourceState {
  running: Promise<SyncReport | undefined> | undefined;
  nextTick: number;
  cancelTick: (() => void) | undefined;
  cancelRetry: (() => void) | undefined;
  readonly stats: SyncStats;
}

export class SyncScheduler {
  private readonly clock: SyncClock;
  private readonly lock: SyncLock;
  private readonly retry: SyncRetryPolicy;
  private readonly random: () => number;
  private readonly states = new Map<CatalogSourceName, SourceState>();
  private abort = new AbortController();
  private started = false;

  constructor(private readonly options: SyncSchedulerOptions) {
    this.clock = options.clock ?? systemClock;
    this.lock = options.lock ?? inProcessSyncLock();
    this.retry = { ...DEFAULT_SYNC_RETRY, ...options.retry };
    this.random = options.random ?? Math.random;
  }

  /** Arms every scheduled source's first tick (one interval from now, not at once: start-up stays quiet). */
  start(): void {
    if (this.started) return;
    this.started = true;
    if (this.abort.signal.aborted) this.abort = new AbortController();
    for (const source of Object.keys(this.options.schedules) as CatalogSourceName[]) this.arm(source, this.clock.now());
  }

  /** Cancels timers and any run in flight. */
  stop(): void {
    this.started = false;
    this.abort.abort(new Error('the catalog sync scheduler stopped'));
    for (const state of this.states.values()) {
      state.cancelTick?.();
      state.cancelRetry?.();
    }
  }

  /**
   * Runs a source now (SyncCatalog), through the same lock and one-at-a-time rule as the schedule:
   * while a run of that source is going in this process (scheduled or on demand), its report is
   * the answer. Undefined when another replica holds the lock; rejects when the lock cannot be had.
   */
  async runNow(source: CatalogSourceName): Promise<SyncReport | undefined> {
    // A source not set up is answered by the runner's refusal alone: nothing ran, so there is no
    // run to record, count as failed or retry.
    if (!this.sources.includes(source)) return this.options.runner.run(source);
    const state = this.state(source);
    // A joined run that ended without a report (a scheduled tick that found the source fresh, or a
    // caller's lock error) is no answer to this caller: it runs the source itself.
    while (state.running) {
      const joined = await state.running.catch(() => undefined);
      if (joined) return joined;
    }
    return this.execute(source, 1, 'demand');
  }

  /** The sources SyncCatalog with no source named runs, in their fixed order. */
  get sources(): readonly CatalogSourceName[] {
    return this.options.runner.sources ?? CATALOG_SOURCES;
  }

  stats(): Partial<Record<CatalogSourceName, Readonly<SyncStats>>> {
    return Object.fromEntries([...this.states].map(([k, v]) => [k, { ...v.stats }]));
  }

  private state(source: CatalogSourceName): SourceState {
    let state = this.states.get(source);
    if (!state) {
      state = {
        running: undefined,
        nextTick: Number.POSITIVE_INFINITY,
        cancelTick: undefined,
        cancelRetry: undefined,
        stats: { runs: 0, failures: 0, skippedOverlap: 0, skippedLocked: 0, skippedFresh: 0, retries: 0 },
      };
      this.states.set(source, state);
    }
    return state;
  }

  private arm(source: CatalogSourceName, from: number): void {
    const interval = this.options.schedules[source];
    if (!interval || !this.started) return;
    const state = this.state(source);
    state.nextTick = nextRunAt(interval, from);
    if (!Number.isFinite(state.nextTick)) return;
    const wait = () => {
      const left = state.nextTick - this.clock.now();
      state.cancelTick = left > 0 ? this.clock.setTimer(left, wait) : undefined;
      if (left <= 0) this.tick(source);
    };
    state.cancelTick = this.clock.setTimer(Math.max(0, state.nextTick - this.clock.now()), wait);
  }

  private tick(source: CatalogSourceName): void {
    const state = this.state(source);
    // The cadence does not drift with run time: the next tick is counted from this one.
    this.arm(source, Math.max(state.nextTick, this.clock.now()));
    if (state.running) {
      state.stats.skippedOverlap++;
      this.options.onEvent?.({ kind: 'skipped', source, reason: 'overlap' });
      this.options.log?.warn({ source }, 'catalog sync: the previous run is still going; this tick is skipped');
      return;
    }
    state.cancelRetry?.();
    state.cancelRetry = undefined;
    void this.execute(source, 1, 'tick');
  }

  private execute(source: CatalogSourceName, attempt: number, mode: RunMode): Promise<SyncReport | undefined> {
    const state = this.state(source);
    const run = this.runLocked(source, attempt, mode).finally(() => {
      state.running = undefined;
    });
    state.running = run;
    return run;
  }

  private async runLocked(source: CatalogSourceName, attempt: number, mode: RunMode): Promise<SyncReport | undefined> {
    const state = this.state(source);
    let release: Awaited<ReturnType<SyncLock['acquire']>>;
    try {
      release = await this.lock.acquire(source);
    } catch (err) {
      // On demand, the caller is told why nothing ran.
      if (mode === 'demand') throw new SyncLockUnavailable(source, err);
      // No lock, no run: two replicas syncing at once is worse than one tick late.
      this.options.log?.warn(
        { source, err: err instanceof Error ? err.message : String(err) },
        'catalog sync: the lock is unavailable; run skipped',
      );
      release = null;
    }
    if (!release) {
      state.stats.skippedLocked++;
      this.options.onEvent?.({ kind: 'skipped', source, reason: 'locked' });
      return undefined;
    }
    let report: SyncReport;
    try {
      if (mode === 'tick' && (await this.ranThisTick(source))) {
        state.stats.skippedFresh++;
        this.options.onEvent?.({ kind: 'skipped', source, reason: 'fresh' });
        return undefined;
      }
      const startedAt = new Date();
      report = await this.options.runner.run(source, this.abort.signal).catch((err: unknown) => runFailed(source, startedAt, err));
      state.stats.runs++;
      state.stats.lastReport = report;
      this.options.onEvent?.({ kind: 'run', source, report, attempt });
      // Still under the lock: until the report is recorded, another replica would find the source
      // not run yet and run it again, or write its own run's rows in between this one's.
      try {
        await this.options.onReport(report);
      } catch (err) {
        // A caller on demand must not read "ok" for a run that was never recorded.
        if (mode === 'demand') throw err;
        this.options.log?.warn(
          { source, err: err instanceof Error ? err.message : String(err) },
          'catalog sync: applying the report failed',
        );
      }
    } finally {
      await release();
    }
    if (report.ok) {
      this.options.log?.info({ source, models: report.models.length, matched: report.matched.length }, 'catalog sync: done');
    } else {
      state.stats.failures++;
      // A run on demand answers its caller; retries belong to the schedule.
      if (mode !== 'demand') this.scheduleRetry(source, attempt, report);
    }
    return report;
  }

  private scheduleRetry(source: CatalogSourceName, attempt: number, report: SyncReport): void {
    const state = this.state(source);
    const retrying = this.started && attempt < this.retry.maxAttempts;
    const delayMs = retrying ? this.retryDelay(attempt, report.retryAfterMs) : undefined;
    // A retry due after the next regular tick is that tick's job.
    const useful = delayMs !== undefined && this.clock.now() + delayMs < state.nextTick;
    // The failure itself is logged once, where the report is applied; this line adds the retry.
    if (!useful || delayMs === undefined) return;
    this.options.log?.info({ source, attempt, retryInMs: delayMs }, 'catalog sync: retry scheduled');
    state.stats.retries++;
    this.options.onEvent?.({ kind: 'retry', source, attempt: attempt + 1, delayMs });
    state.cancelRetry = this.clock.setTimer(delayMs, () => {
      state.cancelRetry = undefined;
      if (!state.running) void this.execute(source, attempt + 1, 'retry');
    });
  }

  private async ranThisTick(source: CatalogSourceName): Promise<boolean> {
    const interval = this.options.schedules[source];
    if (!interval) return false;
    let last: number | undefined;
    try {
      last = await this.options.lastRunAt?.(source);
    } catch (err) {
      // A tick's run is nobody's to await: a throw here would end the process. The lock is held,
      // so running cannot overlap another replica's run; at worst a source runs twice on one tick.
      this.options.log?.warn(
        { source, err: err instanceof Error ? err.message : String(err) },
        'catalog sync: cannot tell when the source last ran; running it',
      );
      return false;
    }
    if (last === undefined) return false;
    const now = this.clock.now();
    return now - last < (nextRunAt(interval, now) - now) / 2;
  }

  /** Half the exponential backoff plus a random half (never zero), or the source's Retry-After if longer. */
  private retryDelay(attempt: number, retryAfterMs: number | undefined): number {
    const cap = Math.min(this.retry.maxBackoffMs, this.retry.initialBackoffMs * 2 ** (attempt - 1));
    const backoff = Math.round(cap / 2 + this.random() * (cap / 2));
    return retryAfterMs !== undefined && retryAfterMs > backoff ? retryAfterMs + Math.round(this.random() * 1_000) : backoff;
  }
}

/** A runner that threw instead of reporting: its failure is a report like any other. */
function runFailed(source: CatalogSourceName, startedAt: Date, err: unknown): SyncReport {
  return {
    source,
    startedAt,
    finishedAt: new Date(),
    ok: false,
    error: err instanceof Error ? err.message : String(err),
    models: [],
    matched: [],
    unmatched: [],
  };
}
