import { Cron } from 'croner';
import { z } from 'zod';
import { emptyAsUndefined, number, timerMs } from './env-values.js';
import { parseDatabaseUrl, type DatabaseTarget } from '../store/url.js';

/** The ledger's settings (src/store): DATABASE_URL and LEDGER_*, with their defaults. */

export interface LedgerConfig {
  /** DATABASE_URL: unset = ./data/orchestrator.db; `off` = no ledger. */
  readonly target: DatabaseTarget;
  /** What of the messages is kept: none, a SHA-256 of the prompt, or prompt and answer (sensitive). */
  readonly content: 'none' | 'hash' | 'full';
  /** A batch is written at most this often. */
  readonly flushMs: number;
  /** Records waiting to be written; beyond it new ones are dropped and counted. */
  readonly queueMax: number;
  readonly batchSize: number;
  /** Rows older than this many days are deleted; 0 keeps everything. */
  readonly retentionDays: number;
  /** When the retention job runs (cron, UTC). */
  readonly retentionCron: string;
  /** How often each replica reloads the runtime API keys (ApiKeyService) from the database. */
  readonly keysRefreshMs: number;
  /** The longest a PostgreSQL query waits for its answer before the database counts as away. */
  readonly queryTimeoutMs: number;
}

/**
 * LEDGER_QUERY_TIMEOUT_MS's default: far past any query the ledger makes on a healthy database
 * (its writes are batches of at most LEDGER_BATCH_SIZE calls, retention deletes in batches too),
 * and short enough that a read answers well before a usual client deadline passes.
 */
export const DEFAULT_LEDGER_QUERY_TIMEOUT_MS = 30_000;

export function ledgerEnv() {
  return {
    DATABASE_URL: z.preprocess(emptyAsUndefined, z.string().optional()).superRefine((value, ctx) => {
      try {
        parseDatabaseUrl(value);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : String(err) });
      }
    }),
    LEDGER_CONTENT: z.preprocess(
      // `off`, the word DATABASE_URL, METRICS and TRACING use, reads as `none`.
      (v) => (typeof v === 'string' ? v.trim().toLowerCase().replace(/^off$/, 'none') || undefined : v),
      z.enum(['none', 'hash', 'full']).default('none'),
    ),
    LEDGER_FLUSH_MS: number(z.number().int().min(10).max(60_000), 1_000),
    LEDGER_QUEUE_MAX: number(z.number().int().min(1).max(1_000_000), 10_000),
    // 100: no dearer per call than 1,000 (docs/ledger.md), and short where a batch runs on the event
    // loop (an in-memory SQLite database, which has no writer thread).
    LEDGER_BATCH_SIZE: number(z.number().int().min(1).max(5_000), 100),
    LEDGER_RETENTION_DAYS: number(z.number().int().min(0).max(36_500), 30),
    LEDGER_RETENTION_CRON: z.preprocess(emptyAsUndefined, z.string().trim().default('17 * * * *')).superRefine((pattern, ctx) => {
      try {
        // Parsed as the retention job will (a paused job, stopped at once): a bad pattern is a
        // configuration error at start-up, not a crash when the ledger opens.
        new Cron(pattern, { paused: true, timezone: 'UTC' }).stop();
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: `not a cron pattern: ${err instanceof Error ? err.message : String(err)}` });
      }
    }),
    KEYS_REFRESH_MS: number(z.number().int().min(100).max(600_000), 5_000),
    LEDGER_QUERY_TIMEOUT_MS: number(timerMs(100), DEFAULT_LEDGER_QUERY_TIMEOUT_MS),
  };
}

/**
 * A schedule that parses but names no time to come ("0 3 30 2 *", a year gone by) would leave the
 * retention job never running, every row kept whatever LEDGER_RETENTION_DAYS says, and nothing
 * logged; with 0 days the job never runs anyway.
 */
export function retentionProblems(e: { LEDGER_RETENTION_DAYS: number; LEDGER_RETENTION_CRON: string }): string[] {
  if (e.LEDGER_RETENTION_DAYS === 0) return [];
  const cron = new Cron(e.LEDGER_RETENTION_CRON, { paused: true, timezone: 'UTC' });
  const next = cron.nextRun();
  cron.stop();
  if (next) return [];
  return [
    `LEDGER_RETENTION_CRON: "${e.LEDGER_RETENTION_CRON}" names no time to come (no date matches it), so the retention job would never run; set LEDGER_RETENTION_DAYS=0 to keep every row`,
  ];
}

export function ledgerConfig(e: {
  DATABASE_URL?: string | undefined;
  LEDGER_CONTENT: 'none' | 'hash' | 'full';
  LEDGER_FLUSH_MS: number;
  LEDGER_QUEUE_MAX: number;
  LEDGER_BATCH_SIZE: number;
  LEDGER_RETENTION_DAYS: number;
  LEDGER_RETENTION_CRON: string;
  KEYS_REFRESH_MS: number;
  LEDGER_QUERY_TIMEOUT_MS: number;
}): LedgerConfig {
  return {
    target: parseDatabaseUrl(e.DATABASE_URL),
    content: e.LEDGER_CONTENT,
    flushMs: e.LEDGER_FLUSH_MS,
    queueMax: e.LEDGER_QUEUE_MAX,
    batchSize: e.LEDGER_BATCH_SIZE,
    retentionDays: e.LEDGER_RETENTION_DAYS,
    retentionCron: e.LEDGER_RETENTION_CRON,
    keysRefreshMs: e.KEYS_REFRESH_MS,
    queryTimeoutMs: e.LEDGER_QUERY_TIMEOUT_MS,
  };
}
