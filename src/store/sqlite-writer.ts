import type { FileIdentity } from './sqlite-file.js';
import type { WriteMessage } from './sqlite-writer-worker.js';
import { LedgerThread } from './worker-thread.js';

/**
 * Writes ledger batches to a SQLite file from a thread of its own. better-sqlite3 is synchronous:
 * on the event loop a batch cost about 15 us per call and held the loop for the whole
 * transaction (7 ms for 500 calls); here the loop only copies each row's values to the thread
 * (about 1-3 us per call). The thread opens its own connection (the file is in WAL mode, so the
 * gateway's reads go on while a batch is written) on the first write, after the migrations have
 * run; a thread that dies fails the batches it held (the ledger queue retries them) and the next
 * write starts another. `identity` is the file the migrations ran on: a batch written anywhere
 * else fails with FILE_REPLACED (sqlite-file.ts).
 */
export class SqliteWriter {
  readonly #thread: LedgerThread<Omit<WriteMessage, 'id'>, undefined>;

  constructor(file: string, identity: FileIdentity) {
    this.#thread = new LedgerThread('sqlite-writer-worker', { file, identity }, 'writer');
  }

  /** One transaction: every row of every table, or none. */
  write(tables: WriteMessage['tables']): Promise<void> {
    return this.#thread.request({ tables });
  }

  close(): Promise<void> {
    return this.#thread.close();
  }
}
