import { sql, type Kysely } from 'kysely';
import type { LedgerSchema } from './schema.js';

/**
 * What a key spent according to the ledger from each period's start up to `beforeMs` (the
 * moment this process started counting in memory): the spend a restart would otherwise forget.
 * One query on the (key_name, ts) index.
 */
export async function ledgerSpend(
  db: Kysely<LedgerSchema>,
  keyName: string,
  since: { readonly dayStartMs: number; readonly monthStartMs: number },
  beforeMs: number,
): Promise<{ day: number; month: number }> {
  const row = await db
    .selectFrom('ledger_calls')
    .select([
      sql<number | string | null>`sum(case when ts >= ${since.dayStartMs} then cost_usd else 0 end)`.as('day'),
      sql<number | string | null>`sum(cost_usd)`.as('month'),
    ])
    .where('key_name', '=', keyName)
    .where('ts', '>=', Math.min(since.dayStartMs, since.monthStartMs))
    .where('ts', '<', beforeMs)
    .executeTakeFirst();
  return { day: Number(row?.day ?? 0), month: Number(row?.month ?? 0) };
}
