import type { Redis } from 'ioredis';
import type { LimiterStore } from './limits.js';
import { sharedStateDown } from './limits.js';

export interface Spend {
  readonly day: number;
  readonly month: number;
}

/** UTC calendar periods: budgets reset at 00:00 UTC and on the 1st of the month. */
export function periodsOf(now: Date): { day: string; month: string; msToNextDay: number } {
  const day = now.toISOString().slice(0, 10);
  const next = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
  return { day, month: day.slice(0, 7), msToNextDay: next - now.getTime() };
}

const DAY_TTL_S = 2 * 86_400;
const MONTH_TTL_S = 32 * 86_400;

/**
 * Spend per API key in US dollars, per UTC day and month, from actual usage. In Redis
 * (INCRBYFLOAT, shared by every replica, surviving restarts) when configured; always mirrored
 * in memory so the 'local' failure policy has something to enforce while Redis is down.
 */
export class Budgets {
  private readonly local = new Map<string, number>();

  constructor(private readonly store: LimiterStore) {}

  async spent(keyName: string, now = new Date()): Promise<Spend> {
    const { day, month } = periodsOf(now);
    const dayKey = `llmo:budget:${keyName}:d:${day}`;
    const monthKey = `llmo:budget:${keyName}:m:${month}`;
    const redis = this.store.redis;
    if (redis) {
      try {
        const [d, m] = await redis.mget(dayKey, monthKey);
        return { day: Number(d ?? 0), month: Number(m ?? 0) };
      } catch (err) {
        if (this.store.failurePolicy === 'closed') throw sharedStateDown(err);
      }
    }
    return { day: this.local.get(dayKey) ?? 0, month: this.local.get(monthKey) ?? 0 };
  }

  async add(keyName: string, usd: number, now = new Date()): Promise<void> {
    if (!(usd > 0)) return;
    const { day, month } = periodsOf(now);
    const dayKey = `llmo:budget:${keyName}:d:${day}`;
    const monthKey = `llmo:budget:${keyName}:m:${month}`;
    this.local.set(dayKey, (this.local.get(dayKey) ?? 0) + usd);
    this.local.set(monthKey, (this.local.get(monthKey) ?? 0) + usd);
    const redis = this.store.redis;
    if (!redis) return;
    await redis
      .multi()
      .incrbyfloat(dayKey, usd)
      .expire(dayKey, DAY_TTL_S)
      .incrbyfloat(monthKey, usd)
      .expire(monthKey, MONTH_TTL_S)
      .exec()
      // Spend while Redis is down stays local to this replica (see README, Redis).
      .catch(() => undefined);
  }
}
