import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

export interface HeldLock {
  /** Resolves once the lock is let go (the holder's thread has closed its connection). */
  readonly released: Promise<void>;
}

/**
 * Holds a SQLite file's write lock from another thread for `ms`, as another process's writer
 * would: a thread, so that the lock is let go even while this thread blocks inside SQLite.
 * `setup` runs first on the holder's connection (to give a new file a table, say); `during`, in
 * its transaction, so others see it only once the lock is let go (another replica's write).
 */
export async function holdWriteLock(file: string, ms: number, setup = '', during = ''): Promise<HeldLock> {
  const betterSqlite = createRequire(import.meta.url).resolve('better-sqlite3');
  const holder = new Worker(
    `const Database = require(${JSON.stringify(betterSqlite)});
const { parentPort, workerData } = require('node:worker_threads');
const db = new Database(workerData.file);
if (workerData.setup) db.exec(workerData.setup);
db.exec('BEGIN IMMEDIATE');
if (workerData.during) db.exec(workerData.during);
parentPort.postMessage('held');
setTimeout(() => { db.exec('COMMIT'); db.close(); }, workerData.ms);`,
    { eval: true, workerData: { file, ms, setup, during } },
  );
  const released = new Promise<void>((resolve, reject) => {
    holder.once('error', reject);
    holder.once('exit', () => resolve());
  });
  await Promise.race([new Promise((resolve) => holder.once('message', resolve)), released]);
  return { released };
}
