/**
 * The ledger's SQLite writer thread (sqlite-writer.ts starts it): its own connection to the
 * ledger file, each batch one transaction. Messages: `{ id, tables: [{ text, width, values }] }`,
 * a table's rows one after another in one array, `width` values each in the INSERT's column
 * order; the answer is `{ id }` or `{ id, error, code }` (worker-thread.ts), with code
 * FILE_REPLACED when the path no longer names the file the gateway opened (sqlite-file.ts).
 */
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';
import type BetterSqlite3 from 'better-sqlite3';
import { fileReplaced, namesFile, type FileIdentity } from './sqlite-file.js';
import { storableText } from './text.js';
import { answerOf, type ThreadAnswer } from './worker-thread.js';

export interface WriteMessage {
  readonly id: number;
  /**
   * One flat array per table rather than an array per row: the event loop's copy of a batch for
   * this thread (a structured clone) costs about half as much without the row objects.
   */
  readonly tables: readonly { readonly text: string; readonly width: number; readonly values: readonly unknown[] }[];
}

const require = createRequire(import.meta.url);
const Database = require('better-sqlite3') as typeof BetterSqlite3;
const { file, identity } = workerData as { file: string; identity: FileIdentity };

type Write = (tables: WriteMessage['tables']) => void;

/**
 * Opened on the first batch, and only if the path still names the file the gateway migrated:
 * a path deleted meanwhile would otherwise become a new file without the ledger's tables.
 */
function open(): Write {
  if (!namesFile(file, identity)) throw fileReplaced(file);
  const db = new Database(file, { fileMustExist: true });
  // The gateway's own connection may hold the write lock (retention, the catalog): wait for it here,
  // off the event loop, rather than fail the batch.
  db.pragma('busy_timeout = 5000');
  db.pragma('synchronous = NORMAL');

  const statements = new Map<string, BetterSqlite3.Statement>();
  const statement = (text: string): BetterSqlite3.Statement => {
    let prepared = statements.get(text);
    if (!prepared) {
      prepared = db.prepare(text);
      statements.set(text, prepared);
    }
    return prepared;
  };

  return db.transaction((tables: WriteMessage['tables']) => {
    for (const { text, width, values } of tables) {
      if (values.length === 0) continue;
      const row = values as unknown[];
      for (let i = 0; i < row.length; i++) {
        const value = row[i];
        if (typeof value === 'string') row[i] = storableText(value);
      }
      const insert = statement(text);
      // Spread: better-sqlite3 binds separate arguments about 1 µs per 30-value row faster than
      // one array argument.
      for (let at = 0; at < values.length; at += width) insert.run(...values.slice(at, at + width));
    }
  });
}

let write: Write | undefined;

parentPort?.on('message', (message: WriteMessage) => {
  let answer: ThreadAnswer<undefined>;
  try {
    write ??= open();
    write(message.tables);
    answer = { id: message.id };
  } catch (err) {
    answer = answerOf(message.id, err);
  }
  // Checked after the commit, not before: a batch committed to a file deleted meanwhile is lost
  // with it, and this answer sends it back to the queue, to be written to the file opened anew.
  if (!namesFile(file, identity)) answer = answerOf(message.id, fileReplaced(file));
  parentPort?.postMessage(answer);
});
