import { CompiledQuery, type Kysely } from 'kysely';
import type { Dialect } from './database.js';
import type { CallRecord } from './records.js';
import type { AttemptsTable, CallsTable, DecisionsTable, LedgerSchema } from './schema.js';

/** Rows per INSERT statement: below SQLite's and PostgreSQL's bound-parameter limits. */
const ROWS_PER_INSERT = 200;

const CALL_COLUMNS: readonly (keyof CallsTable)[] = [
  'id',
  'ts',
  'request_id',
  'method',
  'protocol',
  'key_name',
  'requested_model',
  'model',
  'provider',
  'outcome',
  'code',
  'reason',
  'prompt_tokens',
  'completion_tokens',
  'total_tokens',
  'usage_estimated',
  'cost_usd',
  'cost_saved_usd',
  'latency_ms',
  'ttft_ms',
  'attempts',
  'fallback_triggered',
  'default_message',
  'cache_hit',
  'cache_stale',
  'route_profile',
  'complexity',
  'prompt_sha256',
  'prompt',
  'answer',
];

const ATTEMPT_COLUMNS: readonly (keyof AttemptsTable)[] = [
  'call_id',
  'ts',
  'seq',
  'model',
  'provider',
  'outcome',
  'code',
  'reason',
  'latency_ms',
  'prompt_tokens',
  'completion_tokens',
  'total_tokens',
  'usage_estimated',
  'cost_usd',
  'retry',
  'raced',
  'lost',
];

const DECISION_COLUMNS: readonly (keyof DecisionsTable)[] = [
  'call_id',
  'ts',
  'profile',
  'complexity',
  'prompt_tokens',
  'chosen_model',
  'candidates',
];

/**
 * One transaction for the whole batch: a batch is written entirely or not at all. The rows are
 * bound as parameters of an INSERT whose text is built once per table, row count and dialect
 * (the text kysely's query builder would compile), not compiled through the builder per row:
 * that was the ledger's whole cost on a call's allocation.
 */
export async function writeBatch(db: Kysely<LedgerSchema>, dialect: Dialect, records: readonly CallRecord[]): Promise<void> {
  const calls = records.map(callRow);
  const attempts = records.flatMap(attemptRows);
  const decisions = records.flatMap(decisionRow);
  await db.transaction().execute(async (trx) => {
    for (const chunk of chunks(calls)) await trx.executeQuery(insert(dialect, 'ledger_calls', CALL_COLUMNS, chunk));
    for (const chunk of chunks(attempts)) await trx.executeQuery(insert(dialect, 'ledger_attempts', ATTEMPT_COLUMNS, chunk));
    for (const chunk of chunks(decisions)) await trx.executeQuery(insert(dialect, 'ledger_decisions', DECISION_COLUMNS, chunk));
  });
}

function* chunks<T>(rows: readonly T[]): Generator<T[]> {
  for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) yield rows.slice(i, i + ROWS_PER_INSERT);
}

/**
 * `insert into "t" ("a", "b") values (?, ?), (?, ?)`, with `$n` placeholders in PostgreSQL.
 * Built per chunk (a string of about a hundred bytes per row), not cached: a chunk's row count
 * varies, and one text per count would keep hundreds of kilobytes.
 */
function statement(dialect: Dialect, table: string, columns: readonly string[], rows: number): string {
  const tuples: string[] = new Array<string>(rows);
  if (dialect === 'postgres') {
    let n = 0;
    for (let r = 0; r < rows; r++) tuples[r] = `(${columns.map(() => `$${++n}`).join(', ')})`;
  } else {
    tuples.fill(`(${columns.map(() => '?').join(', ')})`);
  }
  return `insert into "${table}" (${columns.map((c) => `"${c}"`).join(', ')}) values ${tuples.join(', ')}`;
}

function insert<T extends object>(
  dialect: Dialect,
  table: string,
  columns: readonly (keyof T & string)[],
  rows: readonly T[],
): CompiledQuery {
  const parameters: unknown[] = [];
  for (const row of rows) for (const column of columns) parameters.push(row[column]);
  return CompiledQuery.raw(statement(dialect, table, columns, rows.length), parameters);
}

const flag = (value: boolean): number => (value ? 1 : 0);

function callRow(r: CallRecord): CallsTable {
  return {
    id: r.id,
    ts: r.ts,
    request_id: r.requestId,
    method: r.method,
    protocol: r.protocol,
    key_name: r.keyName ?? null,
    requested_model: r.requestedModel ?? null,
    model: r.model ?? null,
    provider: r.provider ?? null,
    outcome: r.outcome,
    code: r.code,
    reason: r.reason ?? null,
    prompt_tokens: r.usage.promptTokens,
    completion_tokens: r.usage.completionTokens,
    total_tokens: r.usage.totalTokens,
    usage_estimated: flag(r.usageEstimated),
    cost_usd: r.costUsd,
    cost_saved_usd: r.costSavedUsd,
    latency_ms: r.latencyMs,
    ttft_ms: r.ttftMs ?? null,
    attempts: r.attempts.length,
    fallback_triggered: flag(r.fallbackTriggered),
    default_message: flag(r.defaultMessage),
    cache_hit: flag(r.cacheHit),
    cache_stale: flag(r.cacheStale),
    route_profile: r.decision?.profile ?? null,
    complexity: r.decision?.complexity ?? null,
    prompt_sha256: r.promptSha256 ?? null,
    prompt: r.prompt ?? null,
    answer: r.answer ?? null,
  };
}

function attemptRows(r: CallRecord): AttemptsTable[] {
  return r.attempts.map((a, seq) => ({
    call_id: r.id,
    ts: r.ts,
    seq,
    model: a.model,
    provider: a.provider,
    outcome: a.outcome,
    code: a.code ?? null,
    reason: a.reason ?? null,
    latency_ms: a.latencyMs,
    prompt_tokens: a.usage.promptTokens,
    completion_tokens: a.usage.completionTokens,
    total_tokens: a.usage.totalTokens,
    usage_estimated: flag(a.usageEstimated),
    cost_usd: a.costUsd,
    retry: a.retry,
    raced: flag(a.raced),
    lost: flag(a.lost),
  }));
}

function decisionRow(r: CallRecord): DecisionsTable[] {
  const d = r.decision;
  if (!d) return [];
  return [
    {
      call_id: r.id,
      ts: r.ts,
      profile: d.profile,
      complexity: d.complexity,
      prompt_tokens: d.promptTokens,
      chosen_model: d.chosenModel,
      candidates: JSON.stringify(d.candidates),
    },
  ];
}
