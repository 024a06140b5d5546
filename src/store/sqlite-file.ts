import { statSync, type BigIntStats } from 'node:fs';
import { stat } from 'node:fs/promises';

/**
 * Which file a path named when the ledger opened it. In WAL mode SQLite goes on writing to a file
 * deleted under it (an operator cleaning up, a volume swapped): every write then lands in a file
 * no one can open again. The writer thread compares this with the path after each batch.
 */
export interface FileIdentity {
  readonly dev: bigint;
  readonly ino: bigint;
}

/** The code a writer thread answers with when its file is no longer at the path (LedgerStore opens the path again). */
export const FILE_REPLACED = 'LEDGER_FILE_REPLACED';

export function identityOf(file: string): FileIdentity {
  const { dev, ino } = statSync(file, { bigint: true });
  return { dev, ino };
}

const same = (now: BigIntStats | undefined, identity: FileIdentity): boolean =>
  now !== undefined && now.dev === identity.dev && now.ino === identity.ino;

/** Whether `file` still names the file `identity` was taken from. */
export function namesFile(file: string, identity: FileIdentity): boolean {
  return same(statSync(file, { bigint: true, throwIfNoEntry: false }), identity);
}

/** How often a gateway with no ledger writes looks at its file. */
export const FILE_CHECK_MS = 1_000;

/**
 * Calls `onGone` once `file` no longer names the file `identity` was taken from, looking every
 * FILE_CHECK_MS off the event loop; returns what stops it. The writer thread finds it at its next
 * batch; this finds it on a gateway with no calls, whose reads and runtime keys would otherwise
 * stay on the deleted file.
 */
export function watchFile(file: string, identity: FileIdentity, onGone: () => void): () => void {
  let looking = false;
  let stopped = false;
  const timer = setInterval(() => {
    if (looking) return;
    looking = true;
    void stat(file, { bigint: true })
      .then(
        (now) => same(now, identity),
        // Another error (a permission, a volume not answering) says nothing of which file is there.
        (err: unknown) => (err as { code?: unknown }).code !== 'ENOENT',
      )
      .then((named) => {
        looking = false;
        if (!named && !stopped) onGone();
      });
  }, FILE_CHECK_MS);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}

export function fileReplaced(file: string): Error {
  return Object.assign(new Error(`the ledger file ${file} was deleted or replaced while open`), { code: FILE_REPLACED });
}

export const isFileReplaced = (err: unknown): boolean => (err as { code?: unknown } | null)?.code === FILE_REPLACED;
