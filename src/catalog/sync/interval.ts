import { Cron } from 'croner';

/**
 * A source's schedule as the config file gives it: `off`, a duration ("30m", "6h", "1d", "1h30m")
 * counted from the previous run's start, or a cron pattern (UTC, croner syntax: "0 3 * * *").
 */
export type SyncInterval = { readonly kind: 'every'; readonly ms: number } | { readonly kind: 'cron'; readonly pattern: string };

const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
/** Outside sources change daily at most; polling faster only spends their rate limits. */
export const MIN_INTERVAL_MS = 60_000;

/** The parsed interval, undefined for `off`, or a string saying what is wrong. */
export function parseInterval(text: string): SyncInterval | undefined | string {
  const value = text.trim().toLowerCase();
  if (value === '' || value === 'off') return undefined;
  if (/^(\d+[smhd])+$/.test(value)) {
    let ms = 0;
    for (const [, n, unit] of value.matchAll(/(\d+)([smhd])/g)) ms += Number(n) * (UNIT_MS[unit as string] as number);
    if (ms < MIN_INTERVAL_MS) return `at least 1m (got ${text})`;
    return { kind: 'every', ms };
  }
  try {
    new Cron(value, { paused: true, timezone: 'UTC' }).stop();
  } catch (err) {
    return `"${text}" is neither off, a duration like 6h, nor a cron pattern (${(err as Error).message})`;
  }
  return { kind: 'cron', pattern: value };
}

/** When the run after `from` (ms since the epoch) is due. */
export function nextRunAt(interval: SyncInterval, from: number): number {
  if (interval.kind === 'every') return from + interval.ms;
  const cron = new Cron(interval.pattern, { paused: true, timezone: 'UTC' });
  const next = cron.nextRun(new Date(from))?.getTime();
  cron.stop();
  return next ?? Number.POSITIVE_INFINITY;
}
