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

/** Every table's rows, or none: a failed COPY rolls the whole batch back. */
export async function copyBatch(pool: Pg.Pool, tables: readonly CopyTable[]): Promise<void> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('begin');
    try {
      for (const t of tables) if (t.text.length > 0) await copyIn(client, t);
      await client.query('commit');
    } catch (err) {
      // The query still waits on this connection: a rollback would wait behind it, then time out too.
      if (isQueryTimeout(err)) {
        broken = err as Error;
        throw err;
      }
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

function copyIn(client: Pg.PoolClient, t: CopyTable): Promise<void> {
  const columns = t.columns.map((c) => `"${c}"`).join(', ');
  copyStreams ??= require('pg-copy-streams') as typeof CopyStreams;
  const stream = client.query(copyStreams.from(`copy "${t.name}" (${columns}) from stdin`));
  return new Promise<void>((resolve, reject) => {
    stream.on('error', reject);
    // After the server's ReadyForQuery: the rows are in the transaction.
    stream.on('finish', resolve);
    stream.end(t.text);
  });
}

/** One row in COPY's text format, ending in a newline. */
export function copyLine(values: readonly unknown[]): string {
  let line = '';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) line += '\t';
    line += copyValue(values[i]);
  }
  return `${line}\n`;
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
