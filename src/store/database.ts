import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import {
  CompiledQuery,
  Kysely,
  Migrator,
  PostgresDialect,
  type PostgresCursor,
  type PostgresPool,
  type PostgresPoolClient,
  type PostgresQueryResult,
  SqliteDialect,
  SqliteDriver,
  type DatabaseConnection,
  type Driver,
  type MigrationProvider,
  type SqliteDialectConfig,
} from 'kysely';
import type * as Pg from 'pg';
import { DEFAULT_LEDGER_QUERY_TIMEOUT_MS } from '../config/ledger-env.js';
import { MIGRATIONS } from './migrations.js';
import type { LedgerSchema } from './schema.js';
import { FILE_REPLACED, identityOf, type FileIdentity } from './sqlite-file.js';
import { sqliteReader } from './sqlite-reader.js';
import { SqliteWriter } from './sqlite-writer.js';
import { THREAD_CLOSED } from './worker-thread.js';
import { SQLITE_MEMORY, type DatabaseTarget } from './url.js';

export type Dialect = 'sqlite' | 'postgres';

/** An open ledger database with its schema up to date. */
export interface LedgerDatabase {
  readonly db: Kysely<LedgerSchema>;
  /**
   * UsageService's reads: on a SQLite file, a thread of their own (sqlite-reader.ts), so a query
   * over a large ledger does not hold the event loop; otherwise `db` (PostgreSQL does not hold it,
   * and an in-memory SQLite database exists only on `db`'s connection).
   */
  readonly reads: Kysely<LedgerSchema>;
  readonly dialect: Dialect;
  /** SQLite's own handle, for the ledger's writes to an in-memory database (write-batch.ts). */
  readonly sqlite?: BetterSqlite3.Database;
  /** A SQLite file's ledger writes, on a thread of their own (sqlite-writer.ts). */
  readonly sqliteWriter?: SqliteWriter;
  /** Which file a SQLite path named when it was opened and migrated (sqlite-file.ts). */
  readonly fileIdentity?: FileIdentity;
  /** PostgreSQL's connection pool (the one kysely uses), for the ledger's COPY (pg-copy.ts). */
  readonly pgPool?: Pg.Pool;
  close(): Promise<void>;
}

/** The database holds migrations this version does not know: a newer release migrated it. */
export class SchemaTooNewError extends Error {
  constructor(readonly unknown: readonly string[]) {
    super(
      `the database was migrated by a newer version (unknown migrations: ${unknown.join(', ')}); ` +
        'run that version or a newer one, or point DATABASE_URL at another database',
    );
    this.name = 'SchemaTooNewError';
  }
}

const MIGRATION_TABLE = 'ledger_migrations';
const MIGRATION_LOCK_TABLE = 'ledger_migrations_lock';

/**
 * Each driver is loaded by the target that uses it, when the database is first opened: a SQLite
 * ledger never loads `pg`, a PostgreSQL one never loads the native SQLite module. Both are
 * CommonJS, so a synchronous require keeps `connect` synchronous.
 */
const require = createRequire(import.meta.url);

const provider: MigrationProvider = { getMigrations: () => Promise.resolve({ ...MIGRATIONS }) };

export interface ConnectOptions {
  /** PostgreSQL: the longest a query waits for its answer (LEDGER_QUERY_TIMEOUT_MS); unset: its default. */
  readonly queryTimeoutMs?: number | undefined;
}

/** Connects without migrating (kept apart so a start-up retry can reuse it). */
export function connect(target: Exclude<DatabaseTarget, { kind: 'off' }>, options: ConnectOptions = {}): LedgerDatabase {
  if (target.kind === 'sqlite') {
    if (target.file !== SQLITE_MEMORY) mkdirSync(dirname(target.file), { recursive: true });
    const Database = require('better-sqlite3') as typeof BetterSqlite3;
    const sqlite = new Database(target.file);
    // No busy handler: it sleeps on the thread that waits, here the event loop, and every call
    // would wait with it. This connection's statements wait for another's lock in `whenUnlocked`.
    sqlite.pragma('busy_timeout = 0');
    // WAL lets readers (GetUsage) run while a batch is written; several worker processes may share the file.
    switchToWal(sqlite);
    sqlite.pragma('synchronous = NORMAL');
    const db = new Kysely<LedgerSchema>({ dialect: new WriteFirstSqliteDialect(sqlite) });
    // An in-memory database exists only on this connection: its writes stay on it.
    if (target.file === SQLITE_MEMORY) return { db, reads: db, dialect: 'sqlite', sqlite, close: () => db.destroy() };
    const fileIdentity = identityOf(target.file);
    const sqliteWriter = new SqliteWriter(target.file, fileIdentity);
    const reader = sqliteReader(target.file, fileIdentity);
    const reads = new Kysely<LedgerSchema>({ dialect: reader.dialect });
    const close = async (): Promise<void> => {
      // Not reads.destroy(): a read after it (a ListCalls between its queries when the file is
      // opened again) would meet kysely's own error, which says nothing of the database away.
      await reader.close();
      await sqliteWriter.close();
      await db.destroy();
    };
    return { db, reads, dialect: 'sqlite', sqlite, sqliteWriter, fileIdentity, close };
  }
  const pg = require('pg') as typeof Pg;
  const pool = new pg.Pool({
    connectionString: target.url,
    max: 4,
    connectionTimeoutMillis: PG_CONNECT_MS,
    idleTimeoutMillis: 30_000,
    // A server that took the connection and stopped answering would otherwise hold a flush, a
    // read or a start-up migration for good.
    query_timeout: options.queryTimeoutMs ?? DEFAULT_LEDGER_QUERY_TIMEOUT_MS,
  });
  // A client whose server went away emits 'error': an idle one on the pool, a checked-out one
  // (a COPY or a query in progress, which fails with the same error) on itself, where neither
  // pg-pool nor kysely listens. Without a listener either would crash the process.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  const db = new Kysely<LedgerSchema>({ dialect: new PostgresDialect({ pool: closingTimedOut(pool) }) });
  return { db, reads: db, dialect: 'postgres', pgPool: pool, close: () => db.destroy() };
}

/** pg's error for a query that got no answer within `query_timeout`. */
export function isQueryTimeout(err: unknown): boolean {
  return err instanceof Error && err.message === 'Query read timeout';
}

/**
 * The pool as kysely takes it, but a client whose query timed out is closed when it is given
 * back: pg keeps that query as the connection's current one, so each later query on it would
 * wait behind it and time out too, and a pool that hands out its last-used client first would
 * keep such a connection busy, never idle long enough to be closed.
 */
function closingTimedOut(pool: Pg.Pool): PostgresPool {
  return {
    async connect(): Promise<PostgresPoolClient> {
      const client = await pool.connect();
      let timedOut = false;
      function query<R>(sql: string, parameters: readonly unknown[]): Promise<PostgresQueryResult<R>>;
      function query<R>(cursor: PostgresCursor<R>): PostgresCursor<R>;
      function query<R>(
        sql: string | PostgresCursor<R>,
        parameters: readonly unknown[] = [],
      ): Promise<PostgresQueryResult<R>> | PostgresCursor<R> {
        // kysely's other form, a cursor, is only for streamed reads, which the ledger never makes.
        if (typeof sql !== 'string') throw new Error('ledger: streamed queries are not supported');
        return client.query<R & Pg.QueryResultRow>(sql, [...parameters]).then(
          (r) => ({ command: r.command as PostgresQueryResult<R>['command'], rowCount: r.rowCount ?? 0, rows: r.rows }),
          (err: unknown) => {
            if (isQueryTimeout(err)) timedOut = true;
            throw err;
          },
        );
      }
      return { query, release: (destroy) => client.release(destroy || timedOut) };
    },
    end: () => pool.end(),
  };
}

/**
 * How long a PostgreSQL connection may take to open. Without a bound, a server that accepts the
 * connection and never answers (stopped, its network gone) holds whoever waits for it, and a
 * pool's end, for good.
 */
export const PG_CONNECT_MS = 3_000;

/** How long a SQLite connection waits for another's lock: the threads' busy handler, `switchToWal`, `whenUnlocked`. */
const SQLITE_BUSY_WAIT_MS = 5_000;

/**
 * Switching a file to WAL takes its write lock while holding a read lock, and there SQLite
 * returns SQLITE_BUSY at once instead of calling the busy handler (waiting could deadlock): a
 * process opening a new file that another process is migrating meets that. So this retries, as
 * the busy handler would have waited (blocking, as it does; it happens once, at start-up).
 */
function switchToWal(sqlite: BetterSqlite3.Database): void {
  const deadline = Date.now() + SQLITE_BUSY_WAIT_MS;
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  for (let pause = 5; ; pause = Math.min(pause * 2, 100)) {
    try {
      sqlite.pragma('journal_mode = WAL');
      return;
    } catch (err) {
      if (!isBusy(err) || Date.now() > deadline) throw err;
      Atomics.wait(sleeper, 0, 0, pause);
    }
  }
}

/**
 * kysely begins SQLite transactions deferred: one that reads before it writes (retention, a
 * runtime model's create) then asks for the write lock while holding a read lock, and SQLite
 * answers SQLITE_BUSY at once, without the busy timeout, whenever another connection writes
 * (the ledger's writer thread, another worker process). Beginning with the write lock waits.
 * A statement that meets another connection's lock outside a transaction (`begin immediate`
 * itself, a lone write) is run again once the lock may be free, without holding the event loop.
 */
class WriteFirstSqliteDialect extends SqliteDialect {
  constructor(private readonly sqlite: BetterSqlite3.Database) {
    super({ database: sqlite });
  }

  override createDriver(): Driver {
    return new WriteFirstSqliteDriver({ database: this.sqlite }, this.sqlite);
  }
}

class WriteFirstSqliteDriver extends SqliteDriver {
  constructor(
    settings: SqliteDialectConfig,
    private readonly sqlite: BetterSqlite3.Database,
  ) {
    super(settings);
  }

  override async acquireConnection(): Promise<DatabaseConnection> {
    const connection = await super.acquireConnection();
    return {
      executeQuery: (query) => whenUnlocked(this.sqlite, SQLITE_BUSY_WAIT_MS, () => connection.executeQuery(query)),
      streamQuery: (query, chunkSize) => connection.streamQuery(query, chunkSize),
    };
  }

  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

/**
 * Runs `statement`, again and again while another connection holds the lock it needs, for up to
 * `waitMs`, pausing on timers in between. Not inside a transaction: one that holds the write lock
 * does not meet it, and a statement of a deferred one would only meet it again.
 */
async function whenUnlocked<T>(sqlite: BetterSqlite3.Database, waitMs: number, statement: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + waitMs;
  for (let pause = 5; ; pause = Math.min(pause * 2, 100)) {
    try {
      return await statement();
    } catch (err) {
      if (!isBusy(err) || sqlite.inTransaction || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, pause));
    }
  }
}

const isBusy = (err: unknown): boolean => /^SQLITE_BUSY(_|$)/.test(String((err as { code?: unknown } | null)?.code));

/**
 * Applies pending migrations, each once however many replicas start together: on PostgreSQL
 * kysely's migrator holds an advisory lock inside its transaction; on SQLite it takes no lock
 * and no transaction (it counts SQLite's DDL as not transactional), so this holds the file's
 * write lock around the whole run. Two processes would otherwise both apply a migration whose
 * steps do not fail when repeated (a table rebuilt under a new name), and a process stopped
 * half way would leave the schema half changed.
 */
export async function migrate(database: LedgerDatabase): Promise<readonly string[]> {
  const sqlite = database.sqlite;
  return sqlite ? withWriteLock(sqlite, () => migrateNow(database)) : migrateNow(database);
}

/** How long a SQLite start-up waits for another process's migrations to finish. */
const MIGRATION_LOCK_WAIT_MS = 120_000;

async function withWriteLock<T>(sqlite: BetterSqlite3.Database, run: () => Promise<T>): Promise<T> {
  // Waited for on timers, not in SQLite's busy handler: that blocks the thread, and the process
  // holding the lock may be this one (two ledgers on one file) with work left on this loop.
  await whenUnlocked(sqlite, MIGRATION_LOCK_WAIT_MS, async () => sqlite.exec('BEGIN IMMEDIATE'));
  try {
    const result = await run();
    sqlite.exec('COMMIT');
    return result;
  } catch (err) {
    if (sqlite.inTransaction) sqlite.exec('ROLLBACK');
    throw err;
  }
}

async function migrateNow(database: LedgerDatabase): Promise<readonly string[]> {
  const migrator = new Migrator({
    db: database.db,
    provider,
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: MIGRATION_LOCK_TABLE,
  });
  const known = new Set(Object.keys(MIGRATIONS));
  await checkNotNewer(database, known);
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    // A newer replica may have migrated between our check and our run.
    await checkNotNewer(database, known);
    throw error instanceof Error ? error : new Error(String(error));
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

async function checkNotNewer(database: LedgerDatabase, known: ReadonlySet<string>): Promise<void> {
  const tables = await database.db.introspection.getTables();
  if (!tables.some((t) => t.name === MIGRATION_TABLE)) return;
  const rows = await (database.db as unknown as Kysely<Record<string, { name: string }>>)
    .selectFrom(MIGRATION_TABLE)
    .select('name')
    .execute();
  const unknown = rows.map((r) => r.name).filter((n) => !known.has(n));
  if (unknown.length > 0) throw new SchemaTooNewError(unknown);
}

/** Node's codes for a server that cannot be reached or dropped the connection. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * Whether a query failed because the database is away (not answering, shutting down or starting
 * up, its connection lost, a SQLite file another process kept locked past the busy timeout or
 * deleted under the gateway, which opens the path again and closes the old file's threads) rather
 * than for the query: a reader may retry it shortly.
 */
export function isDatabaseAway(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  // PostgreSQL's connection exceptions (class 08), shutdown and start-up (57P01-57P03), too many
  // connections; SQLite's SQLITE_BUSY and its extended codes (SQLITE_BUSY_SNAPSHOT, ...).
  if (typeof code === 'string')
    return (
      NETWORK_CODES.has(code) ||
      /^08[0-9A-Z]{3}$/.test(code) ||
      /^57P0[1-3]$/.test(code) ||
      code === '53300' ||
      isBusy(err) ||
      code === FILE_REPLACED ||
      code === THREAD_CLOSED
    );
  // pg's own errors for a connection it lost or could not open, or a query it gave up waiting for, carry no code.
  return (
    isQueryTimeout(err) ||
    (err instanceof Error && /^Connection terminated|timeout exceeded when trying to connect|not queryable/.test(err.message))
  );
}
