/**
 * The ledger's SQLite reader thread (sqlite-reader.ts starts it): a read-only connection of its
 * own to the ledger file, each message one query compiled by Kysely. Messages:
 * `{ id, sql, parameters }`; the answer is `{ id, result: rows }` or `{ id, error, code }`, with
 * code FILE_REPLACED when the path no longer names the file the gateway opened (sqlite-file.ts).
 */
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';
import type BetterSqlite3 from 'better-sqlite3';
import { fileReplaced, namesFile, type FileIdentity } from './sqlite-file.js';
import { answerOf, type ThreadAnswer } from './worker-thread.js';

export interface ReadMessage {
  readonly id: number;
  readonly sql: string;
  readonly parameters: readonly unknown[];
}

const require = createRequire(import.meta.url);
const Database = require('better-sqlite3') as typeof BetterSqlite3;
const { file, identity } = workerData as { file: string; identity: FileIdentity };

/**
 * Opened at the first query, as the writer thread opens its connection: a thread started (or a
 * file that went) after the path was emptied or given another file answers FILE_REPLACED, a
 * database away, until LedgerStore opens the path again and reads go to a new thread.
 */
function open(): BetterSqlite3.Database {
  if (!namesFile(file, identity)) throw fileReplaced(file);
  try {
    const opened = new Database(file, { readonly: true, fileMustExist: true });
    // In WAL mode a reader waits only in rare moments (a checkpoint restarting the log); it waits here, off the event loop.
    opened.pragma('busy_timeout = 5000');
    return opened;
  } catch (err) {
    // Deleted between the look and the open.
    throw namesFile(file, identity) ? err : fileReplaced(file);
  }
}

let db: BetterSqlite3.Database | undefined;

/** Queries differ by their filters and by how many ids ListCalls asks for: a few hundred texts at most. */
const MAX_STATEMENTS = 500;
const statements = new Map<string, BetterSqlite3.Statement>();
const statement = (text: string): BetterSqlite3.Statement => {
  let prepared = statements.get(text);
  if (!prepared) {
    if (statements.size >= MAX_STATEMENTS) statements.clear();
    db ??= open();
    prepared = db.prepare(text);
    statements.set(text, prepared);
  }
  return prepared;
};

parentPort?.on('message', (message: ReadMessage) => {
  let answer: ThreadAnswer<unknown[]>;
  try {
    const query = statement(message.sql);
    if (!query.reader) throw new Error('the ledger reader runs only queries that return rows');
    answer = { id: message.id, result: query.all(message.parameters) };
  } catch (err) {
    answer = answerOf(message.id, err);
  }
  parentPort?.postMessage(answer);
});
