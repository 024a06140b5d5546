import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

/** Where a gateway started with no DATABASE_URL keeps its ledger, relative to the folder tests run in. */
const DEFAULT_LEDGER = resolve('data/orchestrator.db');

/**
 * Vitest global set-up: a run that creates the default ledger file fails. A gateway a test starts
 * without DATABASE_URL writes there, shared by the test files running in parallel and left in the
 * working tree; tests give theirs `sqlite::memory:`, `off` or a file in a temporary folder. A file
 * that was there before the run (a gateway started by hand) is not the tests' doing.
 */
export default function guardDefaultLedger(): () => void {
  const existed = existsSync(DEFAULT_LEDGER);
  return () => {
    if (existed || !existsSync(DEFAULT_LEDGER)) return;
    console.error(
      `\nA test started a gateway on the default ledger file ${DEFAULT_LEDGER}: give it DATABASE_URL ` +
        "'sqlite::memory:' (as test/helpers/harness.ts does), 'off', or a file in a temporary folder.\n",
    );
    process.exitCode = 1;
  };
}
