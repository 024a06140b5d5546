import {
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type QueryResult,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
} from 'kysely';
import type { FileIdentity } from './sqlite-file.js';
import type { ReadMessage } from './sqlite-reader-worker.js';
import { LedgerThread } from './worker-thread.js';

/**
 * The ledger's reads of a SQLite file (UsageService), on a thread of their own. better-sqlite3 is
 * synchronous: on the event loop a GetUsage over 100,000 calls held the loop for about half a
 * second, and every call on the gateway waited for it. Here the loop only sends the SQL Kysely
 * compiled and gets the rows back; the thread holds a read-only connection to the same file (in
 * WAL mode, so it reads while the writer thread writes). Queries are the same Kysely queries as
 * on PostgreSQL; they aggregate in the database, so the rows that come back are few.
 */
export function sqliteReader(file: string, identity: FileIdentity): { readonly dialect: Dialect; close(): Promise<void> } {
  const thread = new LedgerThread<Omit<ReadMessage, 'id'>, unknown[]>('sqlite-reader-worker', { file, identity }, 'reader');
  const dialect: Dialect = {
    createAdapter: () => new SqliteAdapter(),
    createDriver: () => new ReadDriver(thread),
    createQueryCompiler: () => new SqliteQueryCompiler(),
    createIntrospector: (db) => new SqliteIntrospector(db),
  };
  // Closed, the thread fails the reads in flight and those after as the database away (THREAD_CLOSED).
  return { dialect, close: () => thread.close() };
}

class ReadDriver implements Driver {
  readonly #thread: LedgerThread<Omit<ReadMessage, 'id'>, unknown[]>;
  readonly #connection: DatabaseConnection;

  constructor(thread: LedgerThread<Omit<ReadMessage, 'id'>, unknown[]>) {
    this.#thread = thread;
    // One connection for every query: the thread runs them one after another, none holds it between queries.
    this.#connection = {
      executeQuery: async <R>({ sql, parameters }: { sql: string; parameters: readonly unknown[] }): Promise<QueryResult<R>> => ({
        rows: (await thread.request({ sql, parameters })) as R[],
      }),
      streamQuery: () => {
        throw new Error('the ledger reader does not stream');
      },
    };
  }

  init(): Promise<void> {
    return Promise.resolve();
  }

  acquireConnection(): Promise<DatabaseConnection> {
    return Promise.resolve(this.#connection);
  }

  beginTransaction(): Promise<void> {
    return Promise.reject(new Error('the ledger reader runs no transactions'));
  }

  commitTransaction(): Promise<void> {
    return this.beginTransaction();
  }

  rollbackTransaction(): Promise<void> {
    return this.beginTransaction();
  }

  releaseConnection(): Promise<void> {
    return Promise.resolve();
  }

  destroy(): Promise<void> {
    return this.#thread.close();
  }
}
