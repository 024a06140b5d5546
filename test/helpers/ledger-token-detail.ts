import { Migrator, sql, type Kysely } from 'kysely';
import { expect } from 'vitest';
import type { UsageServiceClient } from '../../src/gen/orchestrator/v1/usage.js';
import { listCalls } from '../../src/store/call-queries.js';
import { migrate, type LedgerDatabase } from '../../src/store/database.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { usageTotals } from '../../src/store/queries.js';
import { writeBatch } from '../../src/store/write-batch.js';
import { callRecord } from './call-record.js';
import { writeConfigFile } from './config-file.js';
import { callUnary, collectStream, streamRequest } from './grpc-client.js';
import { startHarness, type Harness } from './harness.js';
import { type RecordingUpstream, startRecordingUpstream } from './recording-upstream.js';

/**
 * What an upstream reports of one answer's usage beyond prompt and completion: prompt tokens read
 * from its prompt cache and written to it, and completion tokens a reasoning model spent thinking.
 */
export const DETAIL = { prompt: 400, completion: 20, cached: 100, written: 250, reasoning: 8 } as const;

/** Long enough for DETAIL.prompt tokens: a report of more tokens than the prompt has bytes is refused. */
const PROMPT = 'a long system prompt that the provider caches '.repeat(12);

/** The answer's usage as UsageService shows it. */
export const DETAILED_USAGE = {
  promptTokens: DETAIL.prompt,
  completionTokens: DETAIL.completion,
  totalTokens: DETAIL.prompt + DETAIL.completion,
  cachedTokens: DETAIL.cached,
  reasoningTokens: DETAIL.reasoning,
  cacheWriteTokens: DETAIL.written,
};

const WIRE_USAGE = {
  prompt_tokens: DETAIL.prompt,
  completion_tokens: DETAIL.completion,
  total_tokens: DETAIL.prompt + DETAIL.completion,
  prompt_tokens_details: { cached_tokens: DETAIL.cached, cache_write_tokens: DETAIL.written },
  completion_tokens_details: { reasoning_tokens: DETAIL.reasoning },
};

/** An OpenAI-compatible upstream whose every answer, unary or streamed, reports DETAIL. */
export function startDetailUpstream(): Promise<RecordingUpstream> {
  return startRecordingUpstream((body, res) => {
    const head = { id: 'c', created: 1, model: 'detail-chat' };
    if (body.stream !== true) {
      res.writeHead(200, { 'content-type': 'application/json' });
      const message = { role: 'assistant', content: 'an answer' };
      res.end(
        JSON.stringify({ ...head, object: 'chat.completion', choices: [{ index: 0, message, finish_reason: 'stop' }], usage: WIRE_USAGE }),
      );
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const chunk = (fields: object) => `data: ${JSON.stringify({ ...head, object: 'chat.completion.chunk', ...fields })}\n\n`;
    res.end(
      chunk({ choices: [{ index: 0, delta: { role: 'assistant', content: 'an answer' }, finish_reason: null }] }) +
        chunk({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }) +
        chunk({ choices: [], usage: WIRE_USAGE }) +
        'data: [DONE]\n\n',
    );
  });
}

/** A gateway whose one model, detail-chat, is served by `upstream`, writing its ledger to `databaseUrl`. */
export function startDetailGateway(upstream: RecordingUpstream, databaseUrl: string): Promise<Harness> {
  const file = writeConfigFile(`providers:
  - { name: openai, kind: openai, base_url: "${upstream.baseURL}", api_key_env: DETAIL_KEY }
include_builtin_models: false
models:
  - { id: detail-chat, provider: openai, upstream_id: "gpt-4o-mini", context_window: 8000, max_output_tokens: 1000, input_price_per_million: 1, output_price_per_million: 2, family: a, tier: small, quality: 0.5 }
`);
  return startHarness({
    noOpenAiShorthand: true,
    env: { CONFIG_FILE: file, DEFAULT_MODEL: 'detail-chat', DATABASE_URL: databaseUrl, LEDGER_FLUSH_MS: '20' },
    processEnv: { DETAIL_KEY: 'k' },
  });
}

/**
 * A Chat and a StreamChat, each answered with DETAIL: ListCalls shows each call's and each
 * attempt's cached, cache-write and reasoning tokens as the answer had them, and GetUsage sums them.
 */
export async function checkTokenDetail(h: Harness, usage: UsageServiceClient): Promise<void> {
  const { response } = await callUnary(h.clients.chat.chat.bind(h.clients.chat), { model: 'detail-chat', prompt: PROMPT, messages: [] });
  expect(response.usage).toEqual(DETAILED_USAGE);
  const streamed = await collectStream(h.clients.chat.streamChat(streamRequest({ model: 'detail-chat', prompt: PROMPT })));
  expect(streamed.error).toBeUndefined();
  await h.app.ledger.store?.flush();

  const filter = { keyName: '', model: 'detail-chat', provider: '', method: '' };
  const { calls } = (await callUnary(usage.listCalls.bind(usage), { filter, requestId: '', pageSize: 10, pageToken: '' })).response;
  expect(calls).toHaveLength(2);
  for (const call of calls) {
    expect(call.usage).toEqual(DETAILED_USAGE);
    expect(call.attempts.map((a) => a.usage)).toEqual([DETAILED_USAGE]);
  }
  const { rows } = (await callUnary(usage.getUsage.bind(usage), { filter, groupBy: [], pageSize: 0, pageToken: '' })).response;
  expect(rows).toEqual([
    expect.objectContaining({
      requests: 2,
      promptTokens: 2 * DETAIL.prompt,
      cachedTokens: 2 * DETAIL.cached,
      cacheWriteTokens: 2 * DETAIL.written,
      reasoningTokens: 2 * DETAIL.reasoning,
    }),
  ]);
}

/**
 * A ledger at the schema before the token detail (migrations up to 0005), holding a call with its
 * attempt, upgraded by the migrations that follow: the call and its attempt are kept with 0 for
 * the counts they did not record, and a call written after the upgrade keeps its own.
 */
export async function checkTokenDetailUpgrade(database: LedgerDatabase): Promise<void> {
  const before = Object.fromEntries(Object.entries(MIGRATIONS).filter(([name]) => name < '0006'));
  const migrator = new Migrator({
    db: database.db,
    provider: { getMigrations: () => Promise.resolve(before) },
    migrationTableName: 'ledger_migrations',
    migrationLockTableName: 'ledger_migrations_lock',
  });
  const { error } = await migrator.migrateToLatest();
  if (error) throw error;
  const db = database.db as unknown as Kysely<unknown>;
  const ts = Date.now() - 1000;
  await sql`insert into ledger_calls (id, ts, request_id, method, protocol, model, provider, outcome, code, prompt_tokens,
      completion_tokens, total_tokens, usage_estimated, cost_usd, cost_saved_usd, latency_ms, attempts, fallback_triggered,
      default_message, cache_hit, cache_stale)
    values ('old-call', ${ts}, 'old-request', '/orchestrator.v1.ChatService/Chat', 'grpc', 'gpt-4o-mini', 'openai', 'success', 'OK',
      10, 20, 30, 0, 0.001, 0, 123, 1, 0, 0, 0, 0)`.execute(db);
  await sql`insert into ledger_attempts (call_id, ts, seq, model, provider, outcome, latency_ms, prompt_tokens, completion_tokens,
      total_tokens, usage_estimated, cost_usd, retry, raced, lost)
    values ('old-call', ${ts}, 0, 'gpt-4o-mini', 'openai', 'success', 120, 10, 20, 30, 0, 0.001, 0, 0, 0)`.execute(db);

  expect(await migrate(database)).toEqual(['0006_ledger_token_detail']);

  const old = await listCalls(database.db, { filter: {}, pageSize: 10 });
  const detailOf = (row: { cached_tokens: number; cache_write_tokens: number; reasoning_tokens: number }) =>
    [row.cached_tokens, row.cache_write_tokens, row.reasoning_tokens].map(Number);
  expect(old.calls.map((c) => [c.call.id, Number(c.call.prompt_tokens), ...detailOf(c.call), ...c.attempts.flatMap(detailOf)])).toEqual([
    ['old-call', 10, 0, 0, 0, 0, 0, 0],
  ]);

  const counts = {
    promptTokens: 400,
    completionTokens: 20,
    totalTokens: 420,
    cachedTokens: 100,
    cacheWriteTokens: 250,
    reasoningTokens: 8,
  };
  const fresh = callRecord('new-call', Date.now(), { usage: counts });
  await writeBatch(database, [{ ...fresh, attempts: fresh.attempts.map((a) => ({ ...a, usage: counts })) }]);
  const both = await listCalls(database.db, { filter: {}, pageSize: 10 });
  expect(both.calls.map((c) => [c.call.id, ...detailOf(c.call), ...c.attempts.flatMap(detailOf)])).toEqual([
    ['new-call', 100, 250, 8, 100, 250, 8],
    ['old-call', 0, 0, 0, 0, 0, 0],
  ]);
  const [totals] = await usageTotals(database.db, {}, []);
  expect(totals).toMatchObject({ requests: 2, promptTokens: 410, cachedTokens: 100, cacheWriteTokens: 250, reasoningTokens: 8 });
}
