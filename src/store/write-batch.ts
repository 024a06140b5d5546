import { CompiledQuery } from 'kysely';
import type BetterSqlite3 from 'better-sqlite3';
import type { LedgerDatabase } from './database.js';
import { copyBatch, copyRows, type CopyTable } from './pg-copy.js';
import { storableText } from './text.js';
import type { AttemptEntry, CallRecord, DecisionEntry, ItemDecisionEntry } from './records.js';
import type { AttemptsTable, CallsTable, DecisionsTable } from './schema.js';
import type { WriteMessage } from './sqlite-writer-worker.js';

/** Rows per INSERT statement: below SQLite's bound-parameter limit. */
const ROWS_PER_INSERT = 200;

const flag = (value: boolean): number => (value ? 1 : 0);

/**
 * Text cut to its column's `varchar(n)` (migrations.ts). PostgreSQL refuses a longer value and
 * with it the whole batch; SQLite would keep it, so both keep the same first n characters. What
 * a caller may send is longer than some columns (a model name the request names, up to 256),
 * and such a call is still on record.
 */
function cutTo(value: string, width: number): string;
function cutTo(value: string | null | undefined, width: number): string | null;
function cutTo(value: string | null | undefined, width: number): string | null {
  if (value === null || value === undefined) return null;
  return value.length <= width ? value : value.slice(0, width);
}

/** A table's columns, in order, each with how its value is read from a row (no row object is built). */
interface Table<Row> {
  readonly name: string;
  readonly columns: readonly string[];
  readonly values: readonly ((row: Row) => unknown)[];
  /** Its single-row INSERT, the statement SQLite runs per row. */
  readonly insertOne: string;
}

function table<Row, T>(name: string, columns: { readonly [C in keyof T]-?: (row: Row) => T[C] }): Table<Row> {
  const names = Object.keys(columns);
  return { name, columns: names, values: Object.values(columns), insertOne: statement(name, names, 1) };
}

const CALLS = table<CallRecord, CallsTable>('ledger_calls', {
  id: (r) => r.id,
  ts: (r) => r.ts,
  request_id: (r) => cutTo(r.requestId, 128),
  method: (r) => cutTo(r.method, 128),
  protocol: (r) => r.protocol,
  key_name: (r) => cutTo(r.keyName, 64),
  requested_model: (r) => cutTo(r.requestedModel, 128),
  model: (r) => cutTo(r.model, 128),
  provider: (r) => cutTo(r.provider, 64),
  outcome: (r) => r.outcome,
  code: (r) => r.code,
  reason: (r) => cutTo(r.reason, 64),
  prompt_tokens: (r) => r.usage.promptTokens,
  completion_tokens: (r) => r.usage.completionTokens,
  total_tokens: (r) => r.usage.totalTokens,
  cached_tokens: (r) => r.usage.cachedTokens,
  cache_write_tokens: (r) => r.usage.cacheWriteTokens,
  reasoning_tokens: (r) => r.usage.reasoningTokens,
  usage_estimated: (r) => flag(r.usageEstimated),
  cost_usd: (r) => r.costUsd,
  cost_saved_usd: (r) => r.costSavedUsd,
  latency_ms: (r) => r.latencyMs,
  ttft_ms: (r) => r.ttftMs ?? null,
  attempts: (r) => r.attempts.length,
  fallback_triggered: (r) => flag(r.fallbackTriggered),
  default_message: (r) => flag(r.defaultMessage),
  cache_hit: (r) => flag(r.cacheHit),
  cache_stale: (r) => flag(r.cacheStale),
  route_profile: (r) => r.decision?.profile ?? null,
  complexity: (r) => r.decision?.complexity ?? null,
  prompt_sha256: (r) => r.promptSha256 ?? null,
  prompt: (r) => r.prompt ?? null,
  answer: (r) => r.answer ?? null,
});

/** An attempt row: the attempt, its place in the call, the call. */
interface AttemptRow {
  readonly attempt: AttemptEntry;
  readonly seq: number;
  readonly call: CallRecord;
}

const ATTEMPTS = table<AttemptRow, AttemptsTable>('ledger_attempts', {
  call_id: (row) => row.call.id,
  ts: (row) => row.call.ts,
  seq: (row) => row.seq,
  model: (row) => cutTo(row.attempt.model, 128),
  provider: (row) => cutTo(row.attempt.provider, 64),
  outcome: (row) => row.attempt.outcome,
  code: (row) => row.attempt.code ?? null,
  reason: (row) => cutTo(row.attempt.reason, 64),
  latency_ms: (row) => row.attempt.latencyMs,
  prompt_tokens: (row) => row.attempt.usage.promptTokens,
  completion_tokens: (row) => row.attempt.usage.completionTokens,
  total_tokens: (row) => row.attempt.usage.totalTokens,
  cached_tokens: (row) => row.attempt.usage.cachedTokens,
  cache_write_tokens: (row) => row.attempt.usage.cacheWriteTokens,
  reasoning_tokens: (row) => row.attempt.usage.reasoningTokens,
  usage_estimated: (row) => flag(row.attempt.usageEstimated),
  cost_usd: (row) => row.attempt.costUsd,
  retry: (row) => row.attempt.retry,
  raced: (row) => flag(row.attempt.raced),
  lost: (row) => flag(row.attempt.lost),
});

interface DecisionRow {
  readonly decision: DecisionEntry | ItemDecisionEntry;
  readonly call: CallRecord;
}

const itemOf = (d: DecisionEntry | ItemDecisionEntry): ItemDecisionEntry | undefined => ('index' in d ? d : undefined);

const DECISIONS = table<DecisionRow, DecisionsTable>('ledger_decisions', {
  call_id: (row) => row.call.id,
  ts: (row) => row.call.ts,
  seq: (row) => itemOf(row.decision)?.index ?? 0,
  profile: (row) => row.decision.profile,
  complexity: (row) => row.decision.complexity,
  prompt_tokens: (row) => row.decision.promptTokens,
  chosen_model: (row) => cutTo(row.decision.chosenModel, 128),
  candidates: (row) => JSON.stringify(row.decision.candidates),
  outcome: (row) => itemOf(row.decision)?.outcome ?? null,
  model: (row) => cutTo(itemOf(row.decision)?.model, 128),
  latency_ms: (row) => itemOf(row.decision)?.latencyMs ?? null,
  fallback_triggered: (row) => {
    const item = itemOf(row.decision);
    return item ? flag(item.fallbackTriggered) : null;
  },
});

/**
 * One transaction for the whole batch: a batch is written entirely or not at all.
 *
 * SQLite: one statement per table, prepared once and run row by row inside one transaction, on
 * the writer thread of a file database (sqlite-writer.ts; here only each row's values are read
 * out), on this connection for an in-memory one. Preparing a 200-row INSERT per chunk (kysely
 * prepares every query it runs) took as long as running it.
 * PostgreSQL: one COPY per table (pg-copy.ts), the server's bulk-load path, half the server's
 * work of an INSERT expanding the rows from one jsonb parameter. Binding every value as its own
 * parameter (an INSERT of 200 rows has 6,000) cost the gateway a string and a length-prefixed
 * write per value, plus the statement text with its 6,000 placeholders: 19 to 24 µs of the
 * gateway's CPU per call (bench/ledger-write.ts), against 8 to 9 µs for the rows as one JSON
 * text (docs/ledger.md). A SQLite database reached
 * through kysely (while another transaction holds the connection) still gets an INSERT per
 * chunk, its text the one kysely's query builder would compile.
 */
export async function writeBatch(database: LedgerDatabase, records: readonly CallRecord[]): Promise<void> {
  const attempts: AttemptRow[] = [];
  const decisions: DecisionRow[] = [];
  for (const r of records) {
    for (let seq = 0; seq < r.attempts.length; seq++) attempts.push({ attempt: r.attempts[seq]!, seq, call: r });
    if (r.decision) decisions.push({ decision: r.decision, call: r });
    if (r.itemDecisions) for (const decision of r.itemDecisions) decisions.push({ decision, call: r });
  }
  if (database.sqliteWriter) {
    await database.sqliteWriter.write([flatRows(CALLS, records), flatRows(ATTEMPTS, attempts), flatRows(DECISIONS, decisions)]);
    return;
  }
  // While another transaction is open on the connection (retention, the catalog, API keys, through
  // kysely, between two of its awaits), a transaction here would nest inside it and share its fate:
  // the kysely path waits for the connection instead.
  if (database.sqlite && !database.sqlite.inTransaction) {
    writeSqlite(database.sqlite, records, attempts, decisions);
    return;
  }
  if (database.dialect === 'postgres') {
    if (!database.pgPool) throw new Error('ledger: a PostgreSQL database without its connection pool');
    await copyBatch(database.pgPool, [copyTable(CALLS, records), copyTable(ATTEMPTS, attempts), copyTable(DECISIONS, decisions)]);
    return;
  }
  await database.db.transaction().execute(async (trx) => {
    for (const chunk of chunks(records)) await trx.executeQuery(insert(CALLS, chunk));
    for (const chunk of chunks(attempts)) await trx.executeQuery(insert(ATTEMPTS, chunk));
    for (const chunk of chunks(decisions)) await trx.executeQuery(insert(DECISIONS, chunk));
  });
}

interface SqliteWriter {
  readonly run: (records: readonly CallRecord[], attempts: readonly AttemptRow[], decisions: readonly DecisionRow[]) => void;
}

const sqliteWriters = new WeakMap<BetterSqlite3.Database, SqliteWriter>();

function writeSqlite(
  sqlite: BetterSqlite3.Database,
  records: readonly CallRecord[],
  attempts: readonly AttemptRow[],
  decisions: readonly DecisionRow[],
): void {
  let writer = sqliteWriters.get(sqlite);
  if (!writer) {
    const row = <Row>(t: Table<Row>) => {
      const statement = sqlite.prepare(t.insertOne);
      const values = valuesOf(t);
      return (r: Row): void => {
        statement.run(...values(r));
      };
    };
    const call = row(CALLS);
    const attempt = row(ATTEMPTS);
    const decision = row(DECISIONS);
    writer = {
      run: sqlite.transaction((rs: readonly CallRecord[], as: readonly AttemptRow[], ds: readonly DecisionRow[]) => {
        for (const r of rs) call(r);
        for (const a of as) attempt(a);
        for (const d of ds) decision(d);
      }),
    };
    sqliteWriters.set(sqlite, writer);
  }
  writer.run(records, attempts, decisions);
}

/** A row's values in its table's column order (what the writer thread binds). */
const valuesOf =
  <Row>(t: Table<Row>) =>
  (row: Row): unknown[] =>
    t.values.map((value) => {
      const v = value(row);
      return typeof v === 'string' ? storableText(v) : v;
    });

/** A table's rows for the writer thread: its single-row INSERT and every row's values in one array. */
function flatRows<Row>(t: Table<Row>, rows: readonly Row[]): WriteMessage['tables'][number] {
  const values: unknown[] = [];
  for (const row of rows) for (const value of t.values) values.push(value(row));
  return { text: t.insertOne, width: t.values.length, values };
}

const TABLES = { ledger_calls: CALLS, ledger_attempts: ATTEMPTS, ledger_decisions: DECISIONS } as const;

/** SQLite's INSERT text of `rows` rows of a ledger table (what a chunk is written with). */
export function insertText(name: keyof typeof TABLES, rows: number): string {
  return statement(name, TABLES[name].columns, rows);
}

function* chunks<T>(rows: readonly T[]): Generator<T[]> {
  for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) yield rows.slice(i, i + ROWS_PER_INSERT);
}

/**
 * `insert into "t" ("a", "b") values (?, ?), (?, ?)`. Built per chunk (a string of about a
 * hundred bytes per row), not cached: a chunk's row count varies, and one text per count would
 * keep hundreds of kilobytes.
 */
function statement(name: string, columns: readonly string[], rows: number): string {
  const tuples = new Array<string>(rows).fill(`(${columns.map(() => '?').join(', ')})`);
  return `insert into "${name}" (${columns.map((c) => `"${c}"`).join(', ')}) values ${tuples.join(', ')}`;
}

function insert<Row>(t: Table<Row>, rows: readonly Row[]): CompiledQuery {
  return CompiledQuery.raw(statement(t.name, t.columns, rows.length), rows.flatMap(valuesOf(t)));
}

/** A table's rows in COPY's text format. */
function copyTable<Row>(t: Table<Row>, rows: readonly Row[]): CopyTable {
  return { name: t.name, columns: t.columns, text: copyRows(rows, t.values) };
}
