/**
 * A PostgreSQL ledger batch written with COPY ... FROM STDIN, one COPY per table inside one
 * transaction: the server reads the rows as text in its bulk-load path. Measured on 500-row
 * batches of calls, wall time per row: 16 µs with COPY, 30 with an INSERT that expands one jsonb
 * parameter (`jsonb_array_elements`), 55 with json (docs/ledger.md). Building the text costs
 * the gateway about 1 µs a call more than JSON.stringify of the same rows did.
 */
import { createRequire } from 'node:module';
import type * as Pg from 'pg';
import type * as CopyStreams from 'pg-copy-streams';
import { isQueryTimeout } from './database.js';
import { storableText } from './text.js';

/** Loaded with the first PostgreSQL batch, as `pg` itself is (database.ts): a SQLite ledger never loads it. */
const require = createRequire(import.meta.url);
let copyStreams: typeof CopyStreams | undefined;

export interface CopyTable {
  readonly name: string;
  readonly columns: readonly string[];
  /** COPY's text format: one line per row, values separated by tabs (copyLine). */
  readonly text: string;
}

/**
 * Every table's rows, or none: a failed COPY rolls the whole batch back. One round trip per
 * table: the first COPY's query opens the transaction and the last one's commits it (a simple
 * query may hold several statements, COPY among them), where a `begin` and a `commit` of their
 * own took two more, each waking the server and the gateway once more per batch (about 1 µs of
 * the gateway's CPU per call at the default batch size, bench/ledger-write.ts).
 */
export async function copyBatch(pool: Pg.Pool, tables: readonly CopyTable[]): Promise<void> {
  const written = tables.filter((t) => t.text.length > 0);
  if (written.length === 0) return;
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    try {
      for (let i = 0; i < written.length; i++) {
        const t = written[i]!;
        await copyIn(client, `${i === 0 ? 'begin; ' : ''}${copyStatement(t)}${i === written.length - 1 ? '; commit' : ''}`, t.text);
      }
    } catch (err) {
      // The query still waits on this connection: a rollback would wait behind it, then time out too.
      if (isQueryTimeout(err)) {
        broken = err as Error;
        throw err;
      }
      // A failed statement skips the rest of its query (the commit with it): the transaction is
      // open, aborted, until this rollback.
      await client.query('rollback').catch((rollbackErr: unknown) => {
        // A connection that cannot even roll back is not given back to the pool.
        broken = rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr));
      });
      throw err;
    }
  } finally {
    client.release(broken);
  }
}

function copyStatement(t: CopyTable): string {
  return `copy "${t.name}" (${t.columns.map((c) => `"${c}"`).join(', ')}) from stdin`;
}

function copyIn(client: Pg.PoolClient, query: string, text: string): Promise<void> {
  copyStreams ??= require('pg-copy-streams') as typeof CopyStreams;
  const stream = client.query(copyStreams.from(query));
  return new Promise<void>((resolve, reject) => {
    stream.on('error', reject);
    // After the server's ReadyForQuery: every statement of the query has run.
    stream.on('finish', resolve);
    stream.end(text);
  });
}

/**
 * Rows in COPY's text format, one line per row ending in a newline, each value read from its row
 * as it is written: no array of a row's values in between, and its text made storable once.
 */
export function copyRows<Row>(rows: readonly Row[], values: readonly ((row: Row) => unknown)[]): string {
  let text = '';
  for (const row of rows) {
    for (let i = 0; i < values.length; i++) {
      if (i > 0) text += '\t';
      text += copyValue(values[i]!(row));
    }
    text += '\n';
  }
  return text;
}

const SPECIAL = /[\\\t\n\r]/;
const SPECIALS = /[\\\t\n\r]/g;
const ESCAPES: Readonly<Record<string, string>> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/**
 * `\N` for null (and for a number JSON would also have written as null); a backslash, tab,
 * newline or carriage return escaped; text as both databases keep it (a NUL or a lone surrogate
 * as U+FFFD: storableText).
 */
export function copyValue(value: unknown): string {
  if (value === null || value === undefined) return '\\N';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '\\N';
  const text = storableText(String(value));
  return SPECIAL.test(text) ? text.replace(SPECIALS, (c) => ESCAPES[c] ?? c) : text;
}
