import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseInterval } from '../../../../src/catalog/sync/interval.js';
import { inProcessSyncLock } from '../../../../src/catalog/sync/lock.js';
import { type SyncClock, SyncLockUnavailable, SyncScheduler, systemClock } from '../../../../src/catalog/sync/scheduler.js';
import type { CatalogSourceName, SyncReport, SyncRunner } from '../../../../src/catalog/sync/types.js';
import { MAX_TIMER_MS } from '../../../../src/domain/timers.js';

const T0 = Date.UTC(2026, 0, 1, 0, 0, 0);
const MIN = 60_000;
const HOUR = 60 * MIN;

/** A clock that moves only when told to; due timers fire in order, promises settle in between. */
class FakeClock implements SyncClock {
  private t = T0;
  private seq = 0;
  private timers: { at: number; seq: number; fn: () => void }[] = [];
  now(): number {
    return this.t;
  }
  setTimer(ms: number, fn: () => void): () => void {
    const timer = { at: this.t + ms, seq: this.seq++, fn };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((x) => x !== timer);
    };
  }
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await settle();
      const next = this.timers.filter((x) => x.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!next) break;
      this.timers = this.timers.filter((x) => x !== next);
      this.t = next.at;
      next.fn();
    }
    this.t = end;
    await settle();
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

let clockNow = () => Date.now();
function report(source: CatalogSourceName, ok: boolean, extra: Partial<SyncReport> = {}): SyncReport {
  const at = new Date(clockNow());
  return { source, startedAt: at, finishedAt: at, ok, models: [], matched: [], unmatched: [], ...(ok ? {} : { error: 'boom' }), ...extra };
}

/** A runner whose answers the test scripts; it records when each run started. */
function scriptedRunner(clock: FakeClock, answers: (() => Promise<SyncReport> | SyncReport)[] = []) {
  const calls: number[] = [];
  const runner: SyncRunner = {
    async run(source) {
      clockNow = () => clock.now();
      calls.push(clock.now() - T0);
      const next = answers.shift();
      return next ? next() : report(source, true);
    },
  };
  return { runner, calls };
}

function deferred<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

function every(text: string) {
  const parsed = parseInterval(text);
  if (!parsed || typeof parsed === 'string') throw new Error(`bad interval ${text}`);
  return parsed;
}

describe('catalog sync scheduler', () => {
  it('runs each source on its interval, and a cron pattern at its times', async () => {
    const clock = new FakeClock();
    const { runner, calls } = scriptedRunner(clock);
    const reports: SyncReport[] = [];
    const scheduler = new SyncScheduler({
      runner,
      schedules: { openrouter: every('1h'), arena: every('0 */6 * * *') },
      onReport: (r) => {
        reports.push(r);
      },
      clock,
    });
    scheduler.start();
    await clock.advance(12 * HOUR);
    scheduler.stop();
    expect(reports.filter((r) => r.source === 'openrouter')).toHaveLength(12);
    expect(reports.filter((r) => r.source === 'arena').map((r) => r.startedAt.getTime() - T0)).toEqual([6 * HOUR, 12 * HOUR]);
    expect(calls).toHaveLength(14);
    expect(scheduler.stats().openrouter).toMatchObject({ runs: 12, failures: 0 });
  });

  it('never overlaps a run: a tick while the previous run is going is skipped and counted', async () => {
    const clock = new FakeClock();
    const slow = deferred<SyncReport>();
    const { runner, calls } = scriptedRunner(clock, [() => slow.promise]);
    const warnings: { obj: object; msg: string }[] = [];
    const scheduler = new SyncScheduler({
      runner,
      schedules: { openrouter: every('1h') },
      onReport: () => {},
      clock,
      log: { info: () => {}, warn: (obj, msg) => void warnings.push({ obj, msg }) },
    });
    scheduler.start();
    await clock.advance(3 * HOUR + MIN);
    expect(calls).toEqual([HOUR]);
    expect(scheduler.stats().openrouter?.skippedOverlap).toBe(2);
    // What an operator sees of it: the log line docs/catalog-sync.md names, once per skipped tick.
    expect(warnings).toEqual(
      Array.from({ length: 2 }, () => ({
        obj: { source: 'openrouter' },
        msg: 'catalog sync: the previous run is still going; this tick is skipped',
      })),
    );
    slow.resolve(report('openrouter', true));
    await clock.advance(HOUR);
    expect(calls).toEqual([HOUR, 4 * HOUR]);
    scheduler.stop();
  });

  it('retries a failed run with a jittered backoff, and waits a Retry-After when the source asks', async () => {
    const clock = new FakeClock();
    const { runner, calls } = scriptedRunner(clock, [
      () => report('openrouter', false),
      () => report('openrouter', false, { error: '429', retryAfterMs: 10 * MIN }),
      () => report('openrouter', true),
    ]);
    const events: string[] = [];
    const lines: { obj: object; msg: string }[] = [];
    const scheduler = new SyncScheduler({
      runner,
      schedules: { openrouter: every('6h') },
      onReport: () => {},
      onEvent: (e) => events.push(e.kind === 'retry' ? `retry:${e.attempt}:${e.delayMs}` : e.kind),
      clock,
      random: () => 0.5,
      retry: { maxAttempts: 4, initialBackoffMs: MIN, maxBackoffMs: HOUR },
      log: { info: (obj, msg) => void lines.push({ obj, msg }), warn: (obj, msg) => void lines.push({ obj, msg }) },
    });
    scheduler.start();
    await clock.advance(7 * HOUR);
    // First failure: backoff 1 min, half of it fixed plus half of the other half (random 0.5).
    // Second: the source's Retry-After of 10 min is longer than the 2 min backoff, so it wins.
    expect(calls).toEqual([6 * HOUR, 6 * HOUR + 45_000, 6 * HOUR + 45_000 + 10 * MIN + 500]);
    expect(events).toEqual(['run', 'retry:2:45000', 'run', 'retry:3:600500', 'run']);
    expect(scheduler.stats().openrouter).toMatchObject({ runs: 3, failures: 2, retries: 2 });
    // The log line docs/catalog-sync.md names for a planned retry; `attempt` is the run that failed.
    expect(lines.filter((l) => l.msg === 'catalog sync: retry scheduled').map((l) => l.obj)).toEqual([
      { source: 'openrouter', attempt: 1, retryInMs: 45_000 },
      { source: 'openrouter', attempt: 2, retryInMs: 600_500 },
    ]);
    scheduler.stop();
  });

  it('gives up retrying after the last attempt and leaves it to the next tick', async () => {
    const clock = new FakeClock();
    const { runner, calls } = scriptedRunner(
      clock,
      Array.from({ length: 10 }, () => () => report('arena', false)),
    );
    const scheduler = new SyncScheduler({
      runner,
      schedules: { arena: every('1h') },
      onReport: () => {},
      clock,
      random: () => 0,
      retry: { maxAttempts: 2, initialBackoffMs: MIN, maxBackoffMs: HOUR },
    });
    scheduler.start();
    await clock.advance(HOUR + 30 * MIN);
    expect(calls).toEqual([HOUR, HOUR + 30_000]);
    scheduler.stop();
  });

  it('with several replicas sharing a lock, only the holder syncs', async () => {
    const clock = new FakeClock();
    const lock = inProcessSyncLock();
    // The catalog's store, which every replica reads: when the source last ran anywhere.
    let lastRunAt: number | undefined;
    const onReport = (r: SyncReport) => {
      lastRunAt = r.startedAt.getTime();
    };
    const slow = deferred<SyncReport>();
    const a = scriptedRunner(clock, [() => slow.promise]);
    const b = scriptedRunner(clock);
    const replica = (runner: SyncRunner) =>
      new SyncScheduler({ runner, schedules: { openrouter: every('1h') }, onReport, clock, lock, lastRunAt: () => lastRunAt });
    const replicaA = replica(a.runner);
    const replicaB = replica(b.runner);
    replicaA.start();
    replicaB.start();
    await clock.advance(HOUR);
    expect(a.calls).toEqual([HOUR]);
    expect(b.calls).toEqual([]);
    expect(replicaB.stats().openrouter?.skippedLocked).toBe(1);
    slow.resolve(report('openrouter', true, { startedAt: new Date(T0 + HOUR) }));
    for (let tick = 2; tick <= 4; tick++) await clock.advance(HOUR);
    // Each later tick: one replica takes the lock and runs, the other finds the run done.
    expect([...a.calls, ...b.calls].sort((x, y) => x - y)).toEqual([HOUR, 2 * HOUR, 3 * HOUR, 4 * HOUR]);
    const skipped = (replicaA.stats().openrouter?.skippedFresh ?? 0) + (replicaB.stats().openrouter?.skippedFresh ?? 0);
    expect(skipped).toBe(3);
    replicaA.stop();
    replicaB.stop();
  });

  it("runs every tick when its own last run started a little after the previous tick (a lock wait): only a run within half an interval counts as this tick's", async () => {
    const clock = new FakeClock();
    let lastRunAt: number | undefined;
    const onReport = (r: SyncReport) => {
      lastRunAt = r.startedAt.getTime();
    };
    // Each run starts a minute after its tick, as when the lock or the database was slow to answer.
    const late = () => report('openrouter', true, { startedAt: new Date(clock.now() + MIN) });
    const { runner, calls } = scriptedRunner(clock, [late, late, late]);
    const scheduler = new SyncScheduler({ runner, schedules: { openrouter: every('1h') }, onReport, clock, lastRunAt: () => lastRunAt });
    scheduler.start();
    await clock.advance(3 * HOUR);
    expect(calls).toEqual([HOUR, 2 * HOUR, 3 * HOUR]);
    expect(scheduler.stats().openrouter?.skippedFresh).toBe(0);
    scheduler.stop();
  });

  it('holds the lock until the report is recorded: a replica ticking while it is written neither runs nor overlaps', async () => {
    const clock = new FakeClock();
    const lock = inProcessSyncLock();
    let lastRunAt: number | undefined;
    const writing = deferred<void>();
    let slowWrite = true;
    const onReport = async (r: SyncReport) => {
      // The first report's write is slow (a busy database); the store learns of the run only when it ends.
      if (slowWrite) {
        slowWrite = false;
        await writing.promise;
      }
      lastRunAt = r.startedAt.getTime();
    };
    const a = scriptedRunner(clock);
    const b = scriptedRunner(clock);
    const replica = (runner: SyncRunner) =>
      new SyncScheduler({ runner, schedules: { openrouter: every('1h') }, onReport, clock, lock, lastRunAt: () => lastRunAt });
    const replicaA = replica(a.runner);
    replicaA.start();
    // The second replica started a minute later: its ticks come a minute after the first's.
    await clock.advance(MIN);
    const replicaB = replica(b.runner);
    replicaB.start();
    await clock.advance(HOUR);
    expect(a.calls).toEqual([HOUR]);
    // A's report is still being written: B's tick must not get the lock and run the source again.
    expect(b.calls).toEqual([]);
    expect(replicaB.stats().openrouter?.skippedLocked).toBe(1);
    writing.resolve();
    await clock.advance(MIN);
    expect(b.calls).toEqual([]);
    replicaA.stop();
    replicaB.stop();
  });

  it('skips the run, and does not crash, when the lock cannot be had (database down)', async () => {
    const clock = new FakeClock();
    const { runner, calls } = scriptedRunner(clock);
    const warnings: string[] = [];
    const scheduler = new SyncScheduler({
      runner,
      schedules: { openrouter: every('1h') },
      onReport: () => {},
      clock,
      lock: { acquire: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5432')) },
      log: { info: () => {}, warn: (_obj, msg) => void warnings.push(msg) },
    });
    scheduler.start();
    await clock.advance(2 * HOUR);
    expect(calls).toEqual([]);
    expect(scheduler.stats().openrouter?.skippedLocked).toBe(2);
    expect(warnings).toEqual(expect.arrayContaining([expect.stringMatching(/lock is unavailable/)]));
    scheduler.stop();
  });

  it('runs a tick, and does not crash, when the store cannot say when the source last ran (database not reachable yet)', async () => {
    const clock = new FakeClock();
    const { runner, calls } = scriptedRunner(clock);
    const warnings: string[] = [];
    const unhandled: unknown[] = [];
    const onUnhandled = (err: unknown) => void unhandled.push(err);
    process.on('unhandledRejection', onUnhandled);
    try {
      const scheduler = new SyncScheduler({
        runner,
        schedules: { openrouter: every('1h') },
        onReport: () => {},
        clock,
        lastRunAt: () => Promise.reject(new Error('the catalog database is not reachable')),
        log: { info: () => {}, warn: (_obj, msg) => void warnings.push(msg) },
      });
      scheduler.start();
      await clock.advance(HOUR);
      await new Promise((r) => setTimeout(r, 20));
      expect(unhandled).toEqual([]);
      // The lock is held, so the run cannot overlap another replica's: it goes ahead.
      expect(calls).toEqual([HOUR]);
      expect(warnings).toEqual(expect.arrayContaining([expect.stringMatching(/cannot tell when the source last ran/)]));
      scheduler.stop();
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('runs a source now on demand, joining a run already going', async () => {
    const clock = new FakeClock();
    const slow = deferred<SyncReport>();
    const { runner, calls } = scriptedRunner(clock, [() => slow.promise]);
    const scheduler = new SyncScheduler({ runner, schedules: {}, onReport: () => {}, clock });
    const first = scheduler.runNow('huggingface');
    const second = scheduler.runNow('huggingface');
    slow.resolve(report('huggingface', true));
    expect(await first).toBe(await second);
    expect(calls).toHaveLength(1);
    await expect(scheduler.runNow('huggingface')).resolves.toMatchObject({ ok: true });
    expect(calls).toHaveLength(2);
  });

  it('a run on demand during a scheduled run of the source waits for it and answers its report', async () => {
    const clock = new FakeClock();
    const slow = deferred<SyncReport>();
    const { runner, calls } = scriptedRunner(clock, [() => slow.promise]);
    const applied: SyncReport[] = [];
    const scheduler = new SyncScheduler({
      runner,
      schedules: { openrouter: every('1h') },
      onReport: (r) => void applied.push(r),
      clock,
      lock: inProcessSyncLock(),
    });
    scheduler.start();
    await clock.advance(HOUR);
    expect(calls).toEqual([HOUR]);
    const onDemand = scheduler.runNow('openrouter');
    await clock.advance(MIN);
    expect(calls).toEqual([HOUR]);
    const scheduled = report('openrouter', true);
    slow.resolve(scheduled);
    await expect(onDemand).resolves.toBe(scheduled);
    expect(applied).toEqual([scheduled]);
    // And the other way round: a tick while a run on demand is going is skipped.
    const slower = deferred<SyncReport>();
    const second = scriptedRunner(clock, [() => slower.promise]);
    const other = new SyncScheduler({ runner: second.runner, schedules: { openrouter: every('1h') }, onReport: () => {}, clock });
    other.start();
    const manual = other.runNow('openrouter');
    await clock.advance(HOUR);
    expect(second.calls).toHaveLength(1);
    expect(other.stats().openrouter?.skippedOverlap).toBe(1);
    slower.resolve(report('openrouter', true));
    await expect(manual).resolves.toMatchObject({ ok: true });
    scheduler.stop();
    other.stop();
  });

  it('on demand: undefined when another replica holds the lock, the lock error when it cannot be had, no retries', async () => {
    const clock = new FakeClock();
    const { runner, calls } = scriptedRunner(clock, [() => report('arena', false)]);
    const held = new SyncScheduler({ runner, schedules: {}, onReport: () => {}, clock, lock: { acquire: async () => null } });
    held.start();
    await expect(held.runNow('arena')).resolves.toBeUndefined();
    expect(held.stats().arena?.skippedLocked).toBe(1);
    const down = new SyncScheduler({
      runner,
      schedules: {},
      onReport: () => {},
      clock,
      lock: { acquire: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5432')) },
    });
    const refused = await down.runNow('arena').catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(SyncLockUnavailable);
    expect(((refused as SyncLockUnavailable).cause as Error).message).toMatch(/ECONNREFUSED/);
    expect(calls).toEqual([]);
    // A failed run on demand is answered, not retried behind the caller's back.
    const free = new SyncScheduler({ runner, schedules: {}, onReport: () => {}, clock, random: () => 0 });
    free.start();
    await expect(free.runNow('arena')).resolves.toMatchObject({ ok: false });
    await clock.advance(24 * HOUR);
    expect(calls).toHaveLength(1);
    expect(free.stats().arena).toMatchObject({ runs: 1, failures: 1, retries: 0 });
    held.stop();
    free.stop();
  });

  it('a report that cannot be applied fails the caller on demand, and is logged on a schedule', async () => {
    const clock = new FakeClock();
    const { runner } = scriptedRunner(clock, [() => report('arena', true), () => report('arena', true)]);
    const warnings: string[] = [];
    const scheduler = new SyncScheduler({
      runner,
      schedules: { arena: every('1h') },
      onReport: () => Promise.reject(new Error('database is read-only')),
      clock,
      log: { info: () => {}, warn: (_obj, msg) => void warnings.push(msg) },
    });
    scheduler.start();
    await expect(scheduler.runNow('arena')).rejects.toThrow(/read-only/);
    await clock.advance(HOUR);
    expect(scheduler.stats().arena?.runs).toBe(2);
    expect(warnings).toEqual(['catalog sync: applying the report failed']);
    scheduler.stop();
  });

  it('a runner that throws is a failed report, not an unhandled rejection', async () => {
    const clock = new FakeClock();
    const runner: SyncRunner = { run: () => Promise.reject(new Error('arena: no URL configured')) };
    const applied: SyncReport[] = [];
    const scheduler = new SyncScheduler({
      runner,
      schedules: { arena: every('1h') },
      onReport: (r) => void applied.push(r),
      clock,
      retry: { maxAttempts: 1, initialBackoffMs: MIN, maxBackoffMs: HOUR },
    });
    await expect(scheduler.runNow('arena')).resolves.toMatchObject({ ok: false, error: 'arena: no URL configured' });
    scheduler.start();
    await clock.advance(HOUR);
    expect(applied.map((r) => r.error)).toEqual(['arena: no URL configured', 'arena: no URL configured']);
    scheduler.stop();
  });

  it('reads intervals as off, durations or cron patterns', () => {
    expect(parseInterval('off')).toBeUndefined();
    expect(parseInterval('1h30m')).toEqual({ kind: 'every', ms: 90 * MIN });
    expect(parseInterval('0 3 * * *')).toEqual({ kind: 'cron', pattern: '0 3 * * *' });
    expect(parseInterval('10s')).toMatch(/at least 1m/);
    expect(parseInterval('every tuesday')).toMatch(/neither off/);
  });
});

describe('catalog sync scheduler on the system clock', () => {
  const DAY = 24 * HOUR;
  afterEach(() => {
    vi.useRealTimers();
  });

  it("waits a delay longer than a Node timer holds (about 24.8 days) in full, neither at once nor at the timer's limit", () => {
    vi.useFakeTimers();
    const fired: number[] = [];
    const started = Date.now();
    systemClock.setTimer(MAX_TIMER_MS * 2 + 5, () => void fired.push(Date.now() - started));
    vi.advanceTimersByTime(MAX_TIMER_MS * 2);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(5);
    expect(fired).toEqual([MAX_TIMER_MS * 2 + 5]);
  });

  it('cancels a long delay in any of its legs', () => {
    vi.useFakeTimers();
    const fn = vi.fn();
    const cancel = systemClock.setTimer(MAX_TIMER_MS + 1_000, fn);
    vi.advanceTimersByTime(MAX_TIMER_MS + 1);
    cancel();
    vi.advanceTimersByTime(2 * MAX_TIMER_MS);
    expect(fn).not.toHaveBeenCalled();
  });

  it("retries after a source's Retry-After of 30 days, not after 24.8 days", async () => {
    vi.useFakeTimers();
    const started = Date.now();
    const calls: number[] = [];
    const runner: SyncRunner = {
      async run(source) {
        calls.push(Date.now() - started);
        return calls.length === 1 ? report(source, false, { retryAfterMs: 30 * DAY }) : report(source, true);
      },
    };
    const scheduler = new SyncScheduler({ runner, schedules: { arena: every('60d') }, onReport: () => {}, random: () => 0 });
    scheduler.start();
    await vi.advanceTimersByTimeAsync(60 * DAY);
    expect(calls).toEqual([60 * DAY]);
    await vi.advanceTimersByTimeAsync(30 * DAY - 1);
    expect(calls).toEqual([60 * DAY]);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toEqual([60 * DAY, 90 * DAY]);
    scheduler.stop();
  });
});
