import { sql, type Kysely, type Selectable } from 'kysely';
import { groupKey, latencyPercentiles, percentiles, where, type LedgerFilter, type Percentiles } from './queries.js';
import type { AttemptsTable, CallsTable, DecisionsTable, LedgerSchema } from './schema.js';
import { storableText } from './text.js';
import { extend } from '../domain/extend.js';
import { byCodeUnit } from '../domain/order.js';

export interface CallListQuery {
  readonly filter: LedgerFilter;
  readonly requestId?: string | undefined;
  readonly successful?: boolean | undefined;
  readonly pageSize: number;
  /** From the previous page: the last call's time and id. */
  readonly after?: { readonly ts: number; readonly id: string } | undefined;
}

export interface ListedCall {
  readonly call: Selectable<CallsTable>;
  readonly attempts: readonly Selectable<AttemptsTable>[];
  readonly decision: Selectable<DecisionsTable> | undefined;
  /** A Batch's items' decisions, in item order. */
  readonly itemDecisions: readonly Selectable<DecisionsTable>[];
}

/** ListCalls: newest first, keyset-paged on (ts, id) so pages stay stable while calls arrive. */
export async function listCalls(
  db: Kysely<LedgerSchema>,
  q: CallListQuery,
): Promise<{ calls: ListedCall[]; next: { ts: number; id: string } | undefined }> {
  const rows = (
    await db
      .selectFrom('ledger_calls')
      .selectAll()
      .where((eb) => {
        const conditions = [where(eb, q.filter)];
        if (q.requestId !== undefined) conditions.push(eb('request_id', '=', storableText(q.requestId)));
        if (q.successful !== undefined) conditions.push(eb('outcome', '=', q.successful ? 'success' : 'error'));
        if (q.after) conditions.push(eb.or([eb('ts', '<', q.after.ts), eb.and([eb('ts', '=', q.after.ts), eb('id', '<', q.after.id)])]));
        return eb.and(conditions);
      })
      .orderBy('ts', 'desc')
      .orderBy('id', 'desc')
      .limit(q.pageSize + 1)
      .execute()
  ).map((c) => extend(c, { ts: Number(c.ts) }));
  const page = rows.slice(0, q.pageSize);
  const ids = page.map((c) => c.id);
  const attempts =
    ids.length === 0 ? [] : await db.selectFrom('ledger_attempts').selectAll().where('call_id', 'in', ids).orderBy('seq').execute();
  const decisions =
    ids.length === 0 ? [] : await db.selectFrom('ledger_decisions').selectAll().where('call_id', 'in', ids).orderBy('seq').execute();
  const last = page.at(-1);
  return {
    calls: page.map((call) => ({
      call,
      attempts: attempts.filter((a) => a.call_id === call.id),
      // An item's decision has its own outcome; the call's has none (its call's columns are its).
      decision: decisions.find((d) => d.call_id === call.id && d.outcome === null),
      itemDecisions: decisions.filter((d) => d.call_id === call.id && d.outcome !== null),
    })),
    next: rows.length > q.pageSize && last ? { ts: last.ts, id: last.id } : undefined,
  };
}

export interface RoutedModel {
  readonly model: string;
  readonly chosen: number;
  readonly chosenShare: number;
  readonly successRate: number;
  readonly latency: Percentiles;
  readonly fallbackRate: number;
}

export interface ProfileAnalytics {
  readonly profile: string;
  readonly decisions: number;
  readonly models: readonly RoutedModel[];
}

/**
 * GetRoutingAnalytics: each decision joined with its call's outcome and the model that answered,
 * counted per profile and chosen model in the database (latencyPercentiles for the latencies).
 */
export async function routingAnalytics(db: Kysely<LedgerSchema>, filter: LedgerFilter): Promise<ProfileAnalytics[]> {
  const decided = db
    .selectFrom('ledger_calls')
    .innerJoin('ledger_decisions', 'ledger_decisions.call_id', 'ledger_calls.id')
    .where((eb) => where(eb, filter));
  // A Batch item's decision (its outcome set) is judged by the item's own columns, a failed
  // item's null model included; any other decision by its call.
  const outcome = sql<string>`coalesce(ledger_decisions.outcome, ledger_calls.outcome)`;
  const answered = sql<string | null>`case when ledger_decisions.outcome is null then ledger_calls.model else ledger_decisions.model end`;
  const fallback = sql<number>`coalesce(ledger_decisions.fallback_triggered, ledger_calls.fallback_triggered)`;
  const latency = sql<number>`coalesce(ledger_decisions.latency_ms, ledger_calls.latency_ms)`;
  const counted = await decided
    .select((eb) => [
      'ledger_decisions.profile as g0',
      'ledger_decisions.chosen_model as g1',
      eb.fn.countAll<number | string>().as('chosen'),
      eb.fn.sum<number | string>(eb.case().when(outcome, '=', 'success').then(1).else(0).end()).as('ok'),
      eb.fn
        .sum<number | string>(
          eb
            .case()
            .when(
              eb.or([
                eb(fallback, '=', 1),
                eb.and([eb(answered, 'is not', null), eb(answered, '<>', eb.ref('ledger_decisions.chosen_model'))]),
              ]),
            )
            .then(1)
            .else(0)
            .end(),
        )
        .as('fell_back'),
    ])
    .groupBy(['ledger_decisions.profile', 'ledger_decisions.chosen_model'])
    .execute();
  const latencies = await latencyPercentiles(
    db,
    decided.select(['ledger_decisions.profile as g0', 'ledger_decisions.chosen_model as g1', latency.as('latency_ms')]),
    2,
  );
  const byProfile = new Map<string, { model: string; chosen: number; ok: number; fellBack: number; latency: Percentiles }[]>();
  for (const r of counted) {
    const models = byProfile.get(r.g0) ?? [];
    byProfile.set(r.g0, models);
    models.push({
      model: r.g1,
      chosen: Number(r.chosen),
      ok: Number(r.ok),
      fellBack: Number(r.fell_back),
      latency: latencies.get(groupKey(r, 2)) ?? percentiles([]),
    });
  }
  return [...byProfile.entries()]
    .map(([profile, models]) => {
      const decisions = models.reduce((n, m) => n + m.chosen, 0);
      return {
        profile,
        decisions,
        models: models
          .map((m) => ({
            model: m.model,
            chosen: m.chosen,
            chosenShare: m.chosen / decisions,
            successRate: m.ok / m.chosen,
            latency: m.latency,
            fallbackRate: m.fellBack / m.chosen,
          }))
          .sort((a, b) => b.chosen - a.chosen || byCodeUnit(a.model, b.model)),
      };
    })
    .sort((a, b) => byCodeUnit(a.profile, b.profile));
}
