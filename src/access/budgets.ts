import { randomUUID } from 'node:crypto';
import type { LimiterStore } from './limits.js';
import { sharedStateDown } from './limits.js';
import { HOLD_SCRIPT, holdsKeyOf, type BudgetLimits, type Reservation } from './holds.js';
import { addTo, setBounded } from './bounded-map.js';
import { SpendWrites } from './spend-writes.js';

export interface Spend {
  readonly day: number;
  readonly month: number;
}

export interface Periods {
  readonly day: string;
  readonly month: string;
  /** Until 00:00 UTC tomorrow: when a daily budget resets. */
  readonly msToNextDay: number;
  /** Until 00:00 UTC on the 1st of next month: when a monthly budget resets. */
  readonly msToNextMonth: number;
}

/** UTC calendar periods: budgets reset at 00:00 UTC and on the 1st of the month. */
export function periodsOf(now: Date): Periods {
  const day = now.toISOString().slice(0, 10);
  const nextDay = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
  const nextMonth = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1);
  return { day, month: day.slice(0, 7), msToNextDay: nextDay - now.getTime(), msToNextMonth: nextMonth - now.getTime() };
}

/** Where spend is on record (the ledger): a key's spend in the current periods before a moment. */
export interface SpendRecord {
  spendBefore(keyName: string, since: { readonly dayStartMs: number; readonly monthStartMs: number }, beforeMs: number): Promise<Spend>;
  onError?(err: unknown): void;
}

/** 00:00 UTC of the day and of the 1st of the month. */
function periodStarts(now: Date): { dayStartMs: number; monthStartMs: number } {
  return {
    dayStartMs: Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()),
    monthStartMs: Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1),
  };
}

function keysOf(keyName: string, now: Date): readonly [day: string, month: string] {
  const { day, month } = periodsOf(now);
  return [`llmo:budget:${keyName}:d:${day}`, `llmo:budget:${keyName}:m:${month}`];
}

/**
 * Spend per API key in US dollars, per UTC day and month, from actual usage. In Redis
 * (INCRBYFLOAT, shared by every replica, surviving restarts) when configured; always mirrored
 * in memory so the 'local' failure policy has something to enforce while Redis is down.
 *
 * Spend that could not be written to Redis is kept (SpendWrites) and written as soon as the
 * client is ready again, once, so an outage loses none of it and counts none twice; until then
 * it is added to what Redis says.
 *
 * Calls in flight hold their estimated maximum cost (`reserve`) until they end, so a burst of
 * parallel calls sees what the others may still spend, not only what they have spent.
 */
export class Budgets {
  private readonly local = new Map<string, number>();
  /** Keys whose earlier spend (before this process) is loaded into `local`, or being loaded. */
  private readonly priorLoads = new Map<string, Promise<void>>();
  private readonly startedAt = Date.now();
  private readonly writes: SpendWrites | undefined;
  /** Held by this process's calls in flight, per key name (the memory side of `reserve`). */
  private readonly held = new Map<string, number>();
  /**
   * Redis holds no call needs any more whose removal failed (hold id -> holds key): a release
   * while the connection was down, or a reservation given up on that Redis may still run. Left
   * there, each would count against its key's budget until it expires (HOLD_MS, minutes).
   */
  private readonly orphans = new Map<string, string>();
  private dropping: Promise<void> | undefined;

  /**
   * `record`: where spend is on record when there is no Redis (the ledger). Each key's spend of
   * the current day and month from before this process started is loaded on the key's first
   * use and kept in memory, with new spend added as calls finish, so budgets survive restarts.
   */
  constructor(
    private readonly store: LimiterStore,
    private readonly record?: SpendRecord | undefined,
  ) {
    this.writes = store.redis && new SpendWrites(store.redis);
    store.redis?.on('ready', () => {
      void this.flush();
      void this.dropOrphans();
    });
  }

  async spent(keyName: string, now = new Date()): Promise<Spend> {
    const [dayKey, monthKey] = keysOf(keyName, now);
    const redis = this.store.redis;
    if (redis) {
      try {
        const [d, m] = await redis.mget(dayKey, monthKey);
        return { day: Number(d ?? 0) + this.pending(dayKey), month: Number(m ?? 0) + this.pending(monthKey) };
      } catch (err) {
        if (this.store.failurePolicy === 'closed') throw sharedStateDown(err);
      }
    }
    await this.loadPriorSpend(keyName, now);
    return this.localSpend(keyName, now);
  }

  /**
   * Checks spend plus what calls in flight hold against the budgets and, when below both,
   * holds `usd` for this call, in one step (one Lua script in Redis, so replicas cannot both
   * take the last of a budget). The call is admitted while anything is left, as before; what
   * the others hold now counts as spent.
   */
  async reserve(keyName: string, limits: BudgetLimits, usd: number, holdMs: number, now = new Date()): Promise<Reservation> {
    const redis = this.store.redis;
    if (redis) {
      const [dayKey, monthKey] = keysOf(keyName, now);
      const id = randomUUID();
      const holdsKey = holdsKeyOf(keyName);
      // Not connected: the client refuses the script without sending it, so it holds nothing.
      const sent = redis.status === 'ready';
      try {
        const raw = (await redis.eval(
          HOLD_SCRIPT,
          3,
          dayKey,
          monthKey,
          holdsKey,
          String(now.getTime()),
          limits.usdPerDay === undefined ? '' : String(limits.usdPerDay),
          limits.usdPerMonth === undefined ? '' : String(limits.usdPerMonth),
          String(this.pending(dayKey)),
          String(this.pending(monthKey)),
          id,
          String(usd),
          String(now.getTime() + holdMs),
          String(holdMs),
        )) as [string, string, string, string];
        const [verdict, day, month, held] = raw;
        const spend = { day: Number(day), month: Number(month) };
        // Redis answers: the connection is back even when no 'ready' said so (a hung Redis that recovered).
        if (this.orphans.size > 0) void this.dropOrphans();
        if (verdict !== 'ok') return { admitted: false, over: verdict === 'month' ? 'month' : 'day', spend, heldUsd: Number(held) };
        const release = async (): Promise<void> => {
          await redis.hdel(holdsKey, id).catch(() => this.orphan(id, holdsKey));
        };
        return { admitted: true, spend, heldUsd: Number(held), release };
      } catch (err) {
        // A timed-out script may still run once Redis answers again: its hold must not outlive this
        // call. An HDEL sent now runs after it; the other orphans wait for a sign Redis is back.
        if (sent) {
          this.orphan(id, holdsKey);
          void redis.hdel(holdsKey, id).then(
            () => this.orphans.delete(id),
            () => undefined,
          );
        }
        if (this.store.failurePolicy === 'closed') throw sharedStateDown(err);
      }
    }
    await this.loadPriorSpend(keyName, now);
    return this.reserveLocally(keyName, limits, usd, now);
  }

  async add(keyName: string, usd: number, now = new Date()): Promise<void> {
    if (!(usd > 0)) return;
    const keys = keysOf(keyName, now);
    for (const key of keys) addTo(this.local, key, usd);
    const writes = this.writes;
    if (!writes) return;
    if ((await writes.write(keys.map((key) => [key, usd]))) && writes.waiting) await writes.flush();
  }

  /** Writes the spend Redis has not confirmed yet; what fails stays for the next 'ready'. */
  flush(): Promise<void> {
    return this.writes?.flush() ?? Promise.resolve();
  }

  private pending(redisKey: string): number {
    return this.writes?.pending.get(redisKey) ?? 0;
  }

  private orphan(id: string, holdsKey: string): void {
    // Beyond the bound the oldest are left to expire on their own.
    setBounded(this.orphans, id, holdsKey);
  }

  /** Removes the orphaned holds, one HDEL per key's holds, one pass at a time; what fails stays for the next pass. */
  private dropOrphans(): Promise<void> {
    const redis = this.store.redis;
    if (!redis) return Promise.resolve();
    if (this.dropping) return this.dropping;
    const idsByHoldsKey = new Map<string, string[]>();
    for (const [id, holdsKey] of this.orphans) {
      const ids = idsByHoldsKey.get(holdsKey);
      if (ids) ids.push(id);
      else idsByHoldsKey.set(holdsKey, [id]);
    }
    this.dropping = Promise.all(
      [...idsByHoldsKey].map(([holdsKey, ids]) =>
        redis.hdel(holdsKey, ...ids).then(
          () => {
            for (const id of ids) this.orphans.delete(id);
          },
          () => undefined,
        ),
      ),
    )
      .then(() => undefined)
      .finally(() => (this.dropping = undefined));
    return this.dropping;
  }

  /**
   * Loads the key's spend before this process from the record, once; a record that cannot be
   * read is tried again at the key's next call (spend after start-up is counted in memory
   * meanwhile, and only spend before start-up is read, so nothing is counted twice).
   */
  private loadPriorSpend(keyName: string, now: Date): Promise<void> {
    const record = this.record;
    if (!record || this.store.redis) return Promise.resolve();
    let loading = this.priorLoads.get(keyName);
    if (!loading) {
      const { dayStartMs, monthStartMs } = periodStarts(new Date(this.startedAt));
      loading = record
        .spendBefore(keyName, { dayStartMs, monthStartMs }, this.startedAt)
        .then((spend) => {
          // Only what still belongs to the current periods (the process may have crossed midnight since).
          const [dayKey, monthKey] = keysOf(keyName, new Date(this.startedAt));
          if (dayKey === keysOf(keyName, now)[0]) addTo(this.local, dayKey, spend.day);
          if (monthKey === keysOf(keyName, now)[1]) addTo(this.local, monthKey, spend.month);
        })
        .catch((err: unknown) => {
          this.priorLoads.delete(keyName);
          record.onError?.(err);
        });
      this.priorLoads.set(keyName, loading);
    }
    return loading;
  }

  /** Redis down ('local' policy) or absent: everything this process has spent, unsent included. */
  private localSpend(keyName: string, now: Date): Spend {
    const [dayKey, monthKey] = keysOf(keyName, now);
    return { day: this.local.get(dayKey) ?? 0, month: this.local.get(monthKey) ?? 0 };
  }

  /** No await between the check and the hold: parallel calls in this process see each other's holds. */
  private reserveLocally(keyName: string, limits: BudgetLimits, usd: number, now: Date): Reservation {
    const spend = this.localSpend(keyName, now);
    const heldUsd = this.held.get(keyName) ?? 0;
    const over =
      limits.usdPerMonth !== undefined && spend.month + heldUsd >= limits.usdPerMonth
        ? 'month'
        : limits.usdPerDay !== undefined && spend.day + heldUsd >= limits.usdPerDay
          ? 'day'
          : undefined;
    if (over) return { admitted: false, over, spend, heldUsd };
    addTo(this.held, keyName, usd);
    let released = false;
    const release = async (): Promise<void> => {
      if (released) return;
      released = true;
      addTo(this.held, keyName, -usd);
    };
    return { admitted: true, spend, heldUsd, release };
  }
}
