import { Migrator, sql, type Kysely } from 'kysely';
import { expect } from 'vitest';
import type { BatchResponse, ChatRequest } from '../../src/gen/orchestrator/v1/chat.js';
import { RoutingProfile } from '../../src/gen/orchestrator/v1/common.js';
import type { UsageServiceClient } from '../../src/gen/orchestrator/v1/usage.js';
import { migrate, type LedgerDatabase } from '../../src/store/database.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { listCalls, routingAnalytics } from '../../src/store/call-queries.js';
import { callUnary, collectStream } from './grpc-client.js';
import type { Harness } from './harness.js';

const anyFilter = { keyName: '', model: '', provider: '', method: '' };

/**
 * A Batch of three routed items (two BALANCED that answer, one QUALITY whose model fails) and one
 * not routed: GetRoutingAnalytics counts each routed item under its profile with the item's own
 * outcome, and ListCalls shows the Batch call with every item's decision. The gateway must run
 * with retries off and no other Batch in its ledger.
 */
export async function checkBatchDecisions(h: Harness, usage: UsageServiceClient): Promise<void> {
  const routed = (profile: RoutingProfile, model: string): ChatRequest => ({
    model: '',
    prompt: 'route this item',
    messages: [],
    route: { profile, candidates: [model] },
  });
  h.upstream.injectFault({ kind: 'http_error', status: 500, model: 'gpt-4o' });
  const { messages, error } = await collectStream<BatchResponse>(
    h.clients.chat.batch({
      items: [
        { requestId: 'a', request: routed(RoutingProfile.ROUTING_PROFILE_BALANCED, 'gpt-4o-mini') },
        { requestId: 'b', request: routed(RoutingProfile.ROUTING_PROFILE_BALANCED, 'gpt-4o-mini') },
        { requestId: 'c', request: routed(RoutingProfile.ROUTING_PROFILE_QUALITY, 'gpt-4o') },
        { requestId: 'd', request: { model: 'gpt-4-turbo', prompt: 'not routed', messages: [] } },
      ],
    }),
  );
  h.upstream.clearFaults();
  expect(error).toBeUndefined();
  const summary = messages.at(-1)?.event;
  expect(summary?.$case === 'summary' && summary.summary).toMatchObject({ total: 4, successful: 3, failed: 1 });
  await h.app.ledger.store?.flush();
  const batchFilter = { ...anyFilter, method: '/orchestrator.v1.ChatService/Batch' };
  const profiles = (await callUnary(usage.getRoutingAnalytics.bind(usage), { filter: batchFilter })).response.profiles;
  expect(profiles.map((p) => [p.profile, Number(p.decisions)])).toEqual([
    [RoutingProfile.ROUTING_PROFILE_BALANCED, 2],
    [RoutingProfile.ROUTING_PROFILE_QUALITY, 1],
  ]);
  expect(profiles[0]?.models).toEqual([expect.objectContaining({ model: 'gpt-4o-mini', chosen: 2, successRate: 1, fallbackRate: 0 })]);
  expect(profiles[1]?.models).toEqual([expect.objectContaining({ model: 'gpt-4o', chosen: 1, successRate: 0 })]);

  const listed = (await callUnary(usage.listCalls.bind(usage), { filter: batchFilter, requestId: '', pageSize: 10, pageToken: '' }))
    .response.calls;
  expect(listed).toHaveLength(1);
  expect(listed[0]?.routeDecision).toBeUndefined();
  expect(
    listed[0]?.itemDecisions.map((d) => [d.index, d.routeDecision?.profile, d.routeDecision?.chosenModel, d.model, d.successful]),
  ).toEqual([
    [0, RoutingProfile.ROUTING_PROFILE_BALANCED, 'gpt-4o-mini', 'gpt-4o-mini', true],
    [1, RoutingProfile.ROUTING_PROFILE_BALANCED, 'gpt-4o-mini', 'gpt-4o-mini', true],
    [2, RoutingProfile.ROUTING_PROFILE_QUALITY, 'gpt-4o', '', false],
  ]);
  for (const d of listed[0]?.itemDecisions ?? []) expect(d.latencyMs).toBeGreaterThan(0);
}

/**
 * A ledger at the schema before Batch items' decisions (migrations up to 0004), holding a routed
 * call, upgraded by the migrations that follow: the call keeps its decision, read as before, and
 * a Batch's item decisions can be written next to it.
 */
export async function checkDecisionsUpgrade(database: LedgerDatabase): Promise<void> {
  const before = Object.fromEntries(Object.entries(MIGRATIONS).filter(([name]) => name < '0005'));
  const migrator = new Migrator({
    db: database.db,
    provider: { getMigrations: () => Promise.resolve(before) },
    migrationTableName: 'ledger_migrations',
    migrationLockTableName: 'ledger_migrations_lock',
  });
  const { error } = await migrator.migrateToLatest();
  if (error) throw error;
  const db = database.db as unknown as Kysely<unknown>;
  const ts = Date.now();
  await sql`insert into ledger_calls (id, ts, request_id, method, protocol, model, provider, outcome, code, prompt_tokens,
      completion_tokens, total_tokens, usage_estimated, cost_usd, cost_saved_usd, latency_ms, attempts, fallback_triggered,
      default_message, cache_hit, cache_stale, route_profile, complexity)
    values ('old-call', ${ts}, 'old-request', '/orchestrator.v1.ChatService/Chat', 'grpc', 'gpt-4o-mini', 'openai', 'success', 'OK',
      10, 20, 30, 0, 0.001, 0, 123, 1, 0, 0, 0, 0, 'balanced', 'simple')`.execute(db);
  await sql`insert into ledger_decisions (call_id, ts, profile, complexity, prompt_tokens, chosen_model, candidates)
    values ('old-call', ${ts}, 'balanced', 'simple', 10, 'gpt-4o-mini', '[]')`.execute(db);

  expect(await migrate(database)).toEqual(['0005_batch_item_decisions', '0006_ledger_token_detail']);

  const { calls } = await listCalls(database.db, { filter: {}, pageSize: 10 });
  expect(calls.map((c) => [c.call.id, c.decision?.chosen_model, c.decision?.seq, c.itemDecisions.length])).toEqual([
    ['old-call', 'gpt-4o-mini', 0, 0],
  ]);
  expect(await routingAnalytics(database.db, {})).toEqual([
    {
      profile: 'balanced',
      decisions: 1,
      models: [
        expect.objectContaining({
          model: 'gpt-4o-mini',
          chosen: 1,
          successRate: 1,
          fallbackRate: 0,
          latency: { p50: 123, p95: 123, p99: 123 },
        }),
      ],
    },
  ]);
  // The call id is no longer the key by itself: a second decision of the same call (a Batch's next item) fits.
  await sql`insert into ledger_decisions (call_id, ts, seq, profile, complexity, prompt_tokens, chosen_model, candidates, outcome, latency_ms, fallback_triggered)
    values ('old-call', ${ts}, 1, 'balanced', 'simple', 10, 'gpt-4o', '[]', 'error', 50, 0)`.execute(db);
  const [balanced] = await routingAnalytics(database.db, {});
  expect(balanced?.decisions).toBe(2);
}
