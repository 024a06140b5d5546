import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { SpendRecord } from '../access/budgets.js';
import type { ApiKeyStore } from '../access/keys.js';
import { ApiKeySync } from './api-key-sync.js';
import { specOfStored } from './api-keys.js';
import { ledgerSpend } from './budget-spend.js';
import type { RunningLedger } from './index.js';
import type { LedgerSchema } from './schema.js';

// What access control reads from the ledger: each key's spend before start-up, and the runtime keys.

/** The ledger as the record of each key's spend before start-up; an unreachable database is logged at most once a minute. */
export function ledgerSpendRecord(db: () => Kysely<LedgerSchema> | undefined, log: Logger): SpendRecord {
  let warnedAt = 0;
  return {
    spendBefore: (keyName, since, beforeMs) => {
      const open = db();
      // Not reachable yet: tried again at the key's next call.
      return open ? ledgerSpend(open, keyName, since, beforeMs) : Promise.reject(new Error('the ledger database is not reachable'));
    },
    onError: (err) => {
      if (Date.now() - warnedAt < 60_000) return;
      warnedAt = Date.now();
      log.warn({ err }, 'cannot read budget spend from the ledger; counting from start-up until it can be read');
    },
  };
}

/**
 * What retention must keep while budgets are read back from the ledger: with a key that has a
 * monthly budget, the current month's calls (from 00:00 UTC on the 1st), or a restart would
 * forget spend that LEDGER_RETENTION_DAYS shorter than the month had already deleted.
 */
export function budgetedCallsFrom(keys: Pick<ApiKeyStore, 'all' | 'runtimeKeysUnread'>): (now: number) => number | undefined {
  return (now) => {
    // Runtime keys not read yet (the database was away at start-up) may have monthly budgets.
    if (!keys.runtimeKeysUnread && !keys.all().some((k) => k.spec.budgets.usdPerMonth !== undefined)) return undefined;
    const at = new Date(now);
    return Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1);
  };
}

/** Runtime API keys from the ledger database, read before the gateway listens and then every `intervalMs`. */
export async function startKeySync(
  ledger: RunningLedger,
  keys: ApiKeyStore,
  intervalMs: number,
  log: Logger,
): Promise<ApiKeySync | undefined> {
  if (!ledger.store) return undefined;
  keys.awaitRuntimeKeys();
  const sync = new ApiKeySync({
    database: () => ledger.database()?.db,
    intervalMs,
    apply: (live, issued) => keys.setRuntimeKeys(live.map(specOfStored), issued),
    log,
  });
  await sync.start();
  return sync;
}
