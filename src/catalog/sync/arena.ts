import { parse as parseCsv } from 'csv-parse/sync';
import { z } from 'zod';
import { SyncError } from './errors.js';
import { badSourceName, fetchOptions, fetchText, type SourceLimits, validate } from './fetch-source.js';
import type { CatalogSource, SourceModel } from './types.js';

/**
 * The Arena leaderboard (Chatbot Arena / LMArena): one row per model with its arena score (a
 * Bradley-Terry rating on the Elo scale), the 95% confidence interval and the vote count. Read as
 * CSV (a header row) or JSON (an array of rows, or an object holding one under `data`, `rows`,
 * `models` or `leaderboard`; Hugging Face dataset-viewer rows `{ row: {...} }` are unwrapped).
 * Column names are matched case-insensitively, with the spellings the public tables use.
 *
 * Quality is the expected win rate against a reference rating: 1 / (1 + 10^((reference - score) / 400)),
 * the Elo formula. The reference defaults to the table's median score, so the median model is 0.5;
 * a fixed `reference_score` keeps qualities stable from one table to the next.
 */
const COLUMNS = {
  model: ['model', 'model_name', 'name', 'key', 'model name'],
  score: ['arena score', 'arena_score', 'score', 'rating', 'elo', 'arena elo', 'elo rating'],
  ci: ['95% ci', '95% ci (±)', 'ci', 'ci95'],
  lower: ['rating_q025', 'lower', 'ci_lower'],
  upper: ['rating_q975', 'upper', 'ci_upper'],
  votes: ['votes', 'vote_count', 'num_battles', 'battles'],
  organization: ['organization', 'organisation', 'org'],
  license: ['license', 'licence'],
} as const;

const number = z.union([
  z.number(),
  z
    .string()
    .trim()
    .regex(/^-?[\d,]+(\.\d+)?$/, 'a number')
    .transform((s) => Number(s.replace(/,/g, ''))),
]);
const rowSchema = z.record(z.string(), z.unknown());
const rowsSchema = z.array(rowSchema).min(1, 'the table has no rows');

export interface ArenaRow {
  readonly model: string;
  readonly score: number;
  readonly ciLower?: number;
  readonly ciUpper?: number;
  readonly votes?: number;
  readonly organization?: string;
  readonly license?: string;
  readonly raw: Readonly<Record<string, unknown>>;
}

export interface ArenaSourceOptions extends SourceLimits {
  readonly url: string;
  readonly format?: 'auto' | 'csv' | 'json';
  /** The rating that maps to quality 0.5; default the table's median score. */
  readonly referenceScore?: number;
  /** Rows with fewer votes are left out (their rating is still moving). Default 0. */
  readonly minVotes?: number;
}

export function createArenaSource(options: ArenaSourceOptions): CatalogSource {
  return {
    name: 'arena',
    async load(signal) {
      const text = await fetchText(options.url, fetchOptions(options, signal));
      const rows = parseArenaTable(text, options.format ?? 'auto').filter(
        (r) => (r.votes ?? Number.POSITIVE_INFINITY) >= (options.minVotes ?? 0),
      );
      return arenaModels(rows, options.referenceScore);
    },
  };
}

export function arenaModels(rows: readonly ArenaRow[], referenceScore?: number): SourceModel[] {
  if (rows.length === 0) return [];
  const reference = referenceScore ?? median(rows.map((r) => r.score));
  return rows.map((row) => ({
    source: 'arena',
    externalId: row.model,
    quality: arenaQuality(row.score, reference),
    ...(row.license ? { license: row.license } : {}),
    raw: { ...row.raw, score: row.score, ciLower: row.ciLower, ciUpper: row.ciUpper, votes: row.votes, referenceScore: reference },
  }));
}

/** Expected win rate against a model rated `reference` (Elo scale: 400 points = 10:1 odds). */
export function arenaQuality(score: number, reference: number): number {
  return Math.round((1 / (1 + 10 ** ((reference - score) / 400))) * 1e4) / 1e4;
}

export function parseArenaTable(text: string, format: 'auto' | 'csv' | 'json'): ArenaRow[] {
  const json = format === 'json' || (format === 'auto' && /^\s*[[{]/.test(text));
  const records = json ? jsonRows(text) : csvRows(text);
  const table = validate(records, rowsSchema, 'Arena leaderboard');
  const rows: ArenaRow[] = [];
  table.forEach((record, i) => {
    const row = rowOf(record, i);
    if (row) rows.push(row);
  });
  if (rows.length === 0) throw new SyncError('malformed', 'Arena leaderboard: no row has both a model name and a score');
  return rows;
}

function jsonRows(text: string): unknown {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new SyncError('malformed', `Arena leaderboard: not valid JSON (${(err as Error).message})`);
  }
  if (raw && typeof raw === 'object' && !Array.isArray(raw)) {
    const holder = raw as Record<string, unknown>;
    raw = holder.data ?? holder.rows ?? holder.models ?? holder.leaderboard ?? raw;
  }
  if (Array.isArray(raw)) {
    return raw.map((r) =>
      r && typeof r === 'object' && 'row' in r && typeof (r as { row: unknown }).row === 'object' ? (r as { row: unknown }).row : r,
    );
  }
  return raw;
}

function csvRows(text: string): unknown {
  // A mirror's error or login page answered 200: no CSV starts with a tag, and read as one it would
  // fail as a table without the columns it needs, which sends the operator after the wrong problem.
  if (/^\s*</.test(text))
    throw new SyncError('malformed', 'Arena leaderboard: not a CSV or JSON table: the answer looks like an HTML page');
  try {
    return parseCsv(text, { columns: true, skip_empty_lines: true, trim: true, bom: true, relax_column_count: true });
  } catch (err) {
    throw new SyncError('malformed', `Arena leaderboard: not valid CSV (${(err as Error).message})`);
  }
}

function rowOf(record: Record<string, unknown>, index: number): ArenaRow | undefined {
  const keys = new Map(Object.keys(record).map((k) => [k.trim().toLowerCase(), k]));
  const get = (names: readonly string[]): unknown => {
    for (const n of names) {
      const key = keys.get(n);
      if (key !== undefined && record[key] !== '' && record[key] !== null) return record[key];
    }
    return undefined;
  };
  const model = get(COLUMNS.model);
  const scoreRaw = get(COLUMNS.score);
  if (typeof model !== 'string' || model.trim() === '' || scoreRaw === undefined) return undefined;
  const badName = badSourceName(model.trim());
  if (badName) throw new SyncError('malformed', `Arena leaderboard: row ${index + 1}: expected ${badName}`);
  const score = number.safeParse(scoreRaw);
  if (!score.success)
    throw new SyncError('malformed', `Arena leaderboard: row ${index + 1} (${model}): the score "${String(scoreRaw)}" is not a number`);
  const votes = number.safeParse(get(COLUMNS.votes));
  const [lower, upper] = interval(score.data, get(COLUMNS.ci), get(COLUMNS.lower), get(COLUMNS.upper));
  const organization = get(COLUMNS.organization);
  const license = get(COLUMNS.license);
  return {
    model: model.trim(),
    score: score.data,
    ...(lower !== undefined ? { ciLower: lower } : {}),
    ...(upper !== undefined ? { ciUpper: upper } : {}),
    ...(votes.success ? { votes: votes.data } : {}),
    ...(typeof organization === 'string' ? { organization } : {}),
    ...(typeof license === 'string' ? { license } : {}),
    raw: record,
  };
}

/** The 95% interval as bounds: "+3/-4", "±4", "4" (symmetric), or explicit lower/upper columns. */
function interval(score: number, ci: unknown, lower: unknown, upper: unknown): [number | undefined, number | undefined] {
  const lo = number.safeParse(lower);
  const hi = number.safeParse(upper);
  if (lo.success && hi.success) return [lo.data, hi.data];
  if (typeof ci === 'number') return [score - ci, score + ci];
  if (typeof ci !== 'string') return [undefined, undefined];
  const plus = /\+\s*([\d.]+)/.exec(ci);
  const minus = /-\s*([\d.]+)/.exec(ci);
  if (plus && minus) return [score - Number(minus[1]), score + Number(plus[1])];
  const sym = /^[±\s]*([\d.]+)$/.exec(ci.trim());
  return sym ? [score - Number(sym[1]), score + Number(sym[1])] : [undefined, undefined];
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}
