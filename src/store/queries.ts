import { sql, type AliasableExpression, type Expression, type ExpressionBuilder, type Kysely, type SqlBool } from 'kysely';
import { round3 } from '../domain/latency.js';
import { USD_PRECISION } from '../domain/money.js';
import type { LedgerSchema } from './schema.js';
import { storableText } from './text.js';
import { byCodeUnit } from '../domain/order.js';

/** Which calls a query covers; undefined fields do not restrict. */
export interface LedgerFilter {
  /** Epoch ms, inclusive. */
  readonly from?: number | undefined;
  /** Epoch ms, exclusive. */
  readonly to?: number | undefined;
  readonly keyName?: string | undefined;
  readonly model?: string | undefined;
  readonly provider?: string | undefined;
  readonly method?: string | undefined;
}

export type UsageDimension = 'key' | 'model' | 'provider' | 'method' | 'day' | 'hour';

/** A row's group as its values, in the order of its dimensions: what GetUsage sorts and pages by. */
export type GroupValues = readonly (string | number)[];

export interface UsageTotals {
  readonly group: { key?: string; model?: string; provider?: string; method?: string; periodStart?: number };
  readonly requests: number;
  readonly successful: number;
  readonly errorsByCode: Record<string, number>;
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly totalTokens: number;
  /** Of promptTokens, those the provider's prompt cache served. */
  readonly cachedTokens: number;
  /** Of promptTokens, those written to the provider's prompt cache. */
  readonly cacheWriteTokens: number;
  /** Of completionTokens, those spent reasoning. */
  readonly reasoningTokens: number;
  readonly costUsd: number;
  readonly latency: Percentiles;
  readonly fallbackRate: number;
  readonly cacheHitRate: number;
  readonly costSavedUsd: number;
}

export interface Percentiles {
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
}

type Calls = ExpressionBuilder<LedgerSchema, 'ledger_calls'>;

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/**
 * The SQL for each dimension: columns, or the period's start in epoch ms (integer division works
 * alike in both dialects). A null name (a call no model answered) and an empty one (a Batch whose
 * items had several models) are one group, "", as the row shows them: two rows of the same values
 * could not be told apart, nor paged past one at a time.
 */
function dimension(eb: Calls, d: UsageDimension): AliasableExpression<unknown> {
  switch (d) {
    case 'key':
      return eb.fn.coalesce('key_name', sql.lit(''));
    case 'model':
      return eb.fn.coalesce('model', sql.lit(''));
    case 'provider':
      return eb.fn.coalesce('provider', sql.lit(''));
    case 'method':
      return eb.ref('method');
    case 'day':
      return sql`(ts / ${sql.lit(DAY_MS)}) * ${sql.lit(DAY_MS)}`;
    case 'hour':
      return sql`(ts / ${sql.lit(HOUR_MS)}) * ${sql.lit(HOUR_MS)}`;
  }
}

/**
 * Columns named with their table: the same filter serves queries that join another table with a `ts`.
 * Text is compared as the ledger stored it (storableText): PostgreSQL refuses a parameter with a
 * NUL, and the read failed there where SQLite answered.
 */
export function where(eb: Calls, f: LedgerFilter): Expression<SqlBool> {
  const conditions: Expression<SqlBool>[] = [];
  if (f.from !== undefined) conditions.push(eb('ledger_calls.ts', '>=', f.from));
  if (f.to !== undefined) conditions.push(eb('ledger_calls.ts', '<', f.to));
  if (f.keyName !== undefined) conditions.push(eb('ledger_calls.key_name', '=', storableText(f.keyName)));
  if (f.model !== undefined) conditions.push(eb('ledger_calls.model', '=', storableText(f.model)));
  if (f.provider !== undefined) conditions.push(eb('ledger_calls.provider', '=', storableText(f.provider)));
  if (f.method !== undefined) conditions.push(eb('ledger_calls.method', '=', storableText(f.method)));
  return eb.and(conditions);
}

/**
 * GetUsage: the sums are one GROUP BY (group columns + gRPC code) in the database, the latency
 * percentiles a second query (latencyPercentiles): what comes back is a few rows per group,
 * however many calls the ledger holds.
 */
export async function usageTotals(
  db: Kysely<LedgerSchema>,
  filter: LedgerFilter,
  groupBy: readonly UsageDimension[],
): Promise<UsageTotals[]> {
  const dims = usageDimensions(groupBy);
  const alias = (i: number) => `g${i}`;
  const sums = await db
    .selectFrom('ledger_calls')
    .where((eb) => where(eb, filter))
    .select((eb) => [
      ...dims.map((d, i) => dimension(eb, d).as(alias(i))),
      'code',
      eb.fn.countAll<number | string>().as('requests'),
      eb.fn.sum<number | string>('prompt_tokens').as('prompt_tokens'),
      eb.fn.sum<number | string>('completion_tokens').as('completion_tokens'),
      eb.fn.sum<number | string>('total_tokens').as('total_tokens'),
      eb.fn.sum<number | string>('cached_tokens').as('cached_tokens'),
      eb.fn.sum<number | string>('cache_write_tokens').as('cache_write_tokens'),
      eb.fn.sum<number | string>('reasoning_tokens').as('reasoning_tokens'),
      usdUnits('cost_usd').as('cost_units'),
      usdUnits('cost_saved_usd').as('cost_saved_units'),
      eb.fn.sum<number | string>('fallback_triggered').as('fallbacks'),
      eb.fn.sum<number | string>('cache_hit').as('cache_hits'),
    ])
    .groupBy([...dims.map((_, i) => sql.ref(alias(i))), 'code'])
    .execute();
  const latencies = await latencyPercentiles(
    db,
    db
      .selectFrom('ledger_calls')
      .where((eb) => where(eb, filter))
      .select((eb) => [...dims.map((d, i) => dimension(eb, d).as(alias(i))), 'latency_ms']),
    dims.length,
  );

  const groups = new Map<string, { row: Record<string, unknown>; totals: Mutable }>();
  for (const raw of sums as Record<string, unknown>[]) {
    const key = groupKey(raw, dims.length);
    let g = groups.get(key);
    if (!g) {
      g = { row: raw, totals: emptyTotals() };
      groups.set(key, g);
    }
    const n = Number(raw['requests']);
    const t = g.totals;
    t.requests += n;
    if (raw['code'] === 'OK') t.successful += n;
    else t.errorsByCode[String(raw['code'])] = (t.errorsByCode[String(raw['code'])] ?? 0) + n;
    t.promptTokens += Number(raw['prompt_tokens'] ?? 0);
    t.completionTokens += Number(raw['completion_tokens'] ?? 0);
    t.totalTokens += Number(raw['total_tokens'] ?? 0);
    t.cachedTokens += Number(raw['cached_tokens'] ?? 0);
    t.cacheWriteTokens += Number(raw['cache_write_tokens'] ?? 0);
    t.reasoningTokens += Number(raw['reasoning_tokens'] ?? 0);
    t.costUnits += Number(raw['cost_units'] ?? 0);
    t.costSavedUnits += Number(raw['cost_saved_units'] ?? 0);
    t.fallbacks += Number(raw['fallbacks'] ?? 0);
    t.cacheHits += Number(raw['cache_hits'] ?? 0);
  }
  const out: UsageTotals[] = [];
  for (const [key, { row, totals }] of groups) {
    const group: UsageTotals['group'] = {};
    dims.forEach((d, i) => {
      const value = row[alias(i)];
      if (d === 'day' || d === 'hour') group.periodStart = Number(value);
      else group[d] = value === null || value === undefined ? '' : String(value);
    });
    out.push(finished(group, totals, latencies.get(key) ?? percentiles([])));
  }
  if (out.length === 0 && dims.length === 0) out.push(finished({}, emptyTotals(), percentiles([])));
  return out.sort((a, b) => compareGroups(dims, a.group, b.group));
}

/**
 * The sum of a column of USD amounts, in whole 1e-10 USD (the grid every recorded amount is
 * rounded to): integers add up exactly in any order. Summed as doubles, PostgreSQL adds them
 * as they come and SQLite compensates for the rounding, and over a busy month their totals
 * parted in the tenth decimal.
 */
function usdUnits(column: 'cost_usd' | 'cost_saved_usd') {
  return sql<number | string>`sum(cast(round(${sql.ref(column)} * ${sql.lit(USD_PRECISION)}) as bigint))`;
}

function finished(group: UsageTotals['group'], t: Mutable, latency: Percentiles): UsageTotals {
  return {
    group,
    requests: t.requests,
    successful: t.successful,
    // In the order of the code names: the rows come in the database's order, which PostgreSQL's
    // hashing makes its own, and a map's order is what the CLI and JSON show.
    errorsByCode: Object.fromEntries(Object.entries(t.errorsByCode).sort(([a], [b]) => (a < b ? -1 : 1))),
    promptTokens: t.promptTokens,
    completionTokens: t.completionTokens,
    totalTokens: t.totalTokens,
    cachedTokens: t.cachedTokens,
    cacheWriteTokens: t.cacheWriteTokens,
    reasoningTokens: t.reasoningTokens,
    costUsd: t.costUnits / USD_PRECISION,
    latency,
    fallbackRate: t.requests === 0 ? 0 : t.fallbacks / t.requests,
    cacheHitRate: t.requests === 0 ? 0 : t.cacheHits / t.requests,
    costSavedUsd: t.costSavedUnits / USD_PRECISION,
  };
}

interface Mutable {
  requests: number;
  successful: number;
  errorsByCode: Record<string, number>;
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  cachedTokens: number;
  cacheWriteTokens: number;
  reasoningTokens: number;
  /** In 1e-10 USD (usdUnits). */
  costUnits: number;
  costSavedUnits: number;
  fallbacks: number;
  cacheHits: number;
}

function emptyTotals(): Mutable {
  return {
    requests: 0,
    successful: 0,
    errorsByCode: {},
    promptTokens: 0,
    completionTokens: 0,
    totalTokens: 0,
    cachedTokens: 0,
    cacheWriteTokens: 0,
    reasoningTokens: 0,
    costUnits: 0,
    costSavedUnits: 0,
    fallbacks: 0,
    cacheHits: 0,
  };
}

/**
 * The dimensions a row is grouped by, each once. A row has one period_start: grouped by hour and
 * day, the hour (within its day) is the group, whichever order they were named in; it sorts where
 * the first of the two was named.
 */
export function usageDimensions(groupBy: readonly UsageDimension[]): UsageDimension[] {
  return [...new Set(groupBy.map((d) => (d === 'day' && groupBy.includes('hour') ? 'hour' : d)))];
}

export function groupValues(dims: readonly UsageDimension[], g: UsageTotals['group']): GroupValues {
  return dims.map((d) => (d === 'day' || d === 'hour' ? (g.periodStart ?? 0) : (g[d] ?? '')));
}

/** Rows in the order of their group values, taken in the order group_by named them. */
function compareGroups(dims: readonly UsageDimension[], a: UsageTotals['group'], b: UsageTotals['group']): number {
  return compareValues(groupValues(dims, a), groupValues(dims, b));
}

export function compareValues(x: GroupValues, y: GroupValues): number {
  for (let i = 0; i < x.length; i += 1) {
    const [p, q] = [x[i], y[i]];
    if (p === q) continue;
    if (typeof p === 'number' && typeof q === 'number') return p - q;
    // The page a row falls on must not depend on the locale of the replica that answers.
    return byCodeUnit(String(p), String(q));
  }
  return 0;
}

/** A row's group, `count` columns g0, g1, ... (a column that is null in one dialect and missing in another alike). */
export function groupKey(row: object, count: number): string {
  return JSON.stringify(Array.from({ length: count }, (_, i) => (row as Record<string, unknown>)[`g${i}`] ?? null));
}

const RANKED = [50, 95, 99] as const;

/** The 1-based rank nearest-rank percentile p picks among n sorted values: ceil(p * n / 100), in integers as the SQL computes it. */
const rankOf = (p: number, n: number): number => Math.floor((p * n + 99) / 100);

/**
 * Nearest-rank p50, p95 and p99 of `latency_ms` in each group of `source` (a query whose columns
 * are g0, g1, ... and latency_ms), keyed as groupKey keys them. The database ranks the latencies
 * (window functions, alike in SQLite and PostgreSQL) and returns only the rows at those ranks:
 * reading every call's latency to sort it here cost the event loop longer than the query.
 */
export async function latencyPercentiles(
  db: Kysely<LedgerSchema>,
  source: Expression<unknown>,
  groups: number,
): Promise<Map<string, Percentiles>> {
  const columns = Array.from({ length: groups }, (_, i) => sql.ref(`g${i}`));
  const partition = groups === 0 ? sql`` : sql`partition by ${sql.join(columns)}`;
  const ranks = sql.join(RANKED.map((p) => sql`(${sql.lit(p)} * n + 99) / 100`));
  const { rows } = await sql<Record<string, unknown>>`
    select * from (
      select ${sql.join([...columns, sql.ref('latency_ms')])},
        row_number() over (${partition} order by latency_ms) as rn,
        count(*) over (${partition}) as n
      from ${source} as matching
    ) as ranked
    where rn in (${ranks})`.execute(db);
  const found = new Map<string, { n: number; at: Map<number, number> }>();
  for (const row of rows) {
    const key = groupKey(row, groups);
    const group = found.get(key) ?? { n: Number(row['n']), at: new Map<number, number>() };
    found.set(key, group);
    group.at.set(Number(row['rn']), Number(row['latency_ms']));
  }
  const out = new Map<string, Percentiles>();
  for (const [key, { n, at }] of found) {
    const [p50, p95, p99] = RANKED.map((p) => round3(at.get(rankOf(p, n)) ?? 0));
    out.set(key, { p50: p50 ?? 0, p95: p95 ?? 0, p99: p99 ?? 0 });
  }
  return out;
}

/** Nearest-rank percentiles. */
export function percentiles(values: number[]): Percentiles {
  if (values.length === 0) return { p50: 0, p95: 0, p99: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? 0;
  return { p50: round3(at(50)), p95: round3(at(95)), p99: round3(at(99)) };
}
