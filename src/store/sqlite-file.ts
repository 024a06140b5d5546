import { statSync } from 'node:fs';

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

/** Whether `file` still names the file `identity` was taken from. */
export function namesFile(file: string, identity: FileIdentity): boolean {
  const now = statSync(file, { bigint: true, throwIfNoEntry: false });
  return now !== undefined && now.dev === identity.dev && now.ino === identity.ino;
}

export function fileReplaced(file: string): Error {
  return Object.assign(new Error(`the ledger file ${file} was deleted or replaced while open`), { code: FILE_REPLACED });
}

export const isFileReplaced = (err: unknown): boolean => (err as { code?: unknown } | null)?.code === FILE_REPLACED;
