import type { Kysely } from 'kysely';
import type { CallRecord } from './records.js';
import type { AttemptsTable, CallsTable, DecisionsTable, LedgerSchema } from './schema.js';

/** Rows per INSERT statement: below SQLite's and PostgreSQL's bound-parameter limits. */
const ROWS_PER_INSERT = 200;

/** One transaction for the whole batch: a batch is written entirely or not at all. */
export async function writeBatch(db: Kysely<LedgerSchema>, records: readonly CallRecord[]): Promise<void> {
  const calls = records.map(callRow);
  const attempts = records.flatMap(attemptRows);
  const decisions = records.flatMap(decisionRow);
  await db.transaction().execute(async (trx) => {
    for (const chunk of chunks(calls)) await trx.insertInto('ledger_calls').values(chunk).execute();
    for (const chunk of chunks(attempts)) await trx.insertInto('ledger_attempts').values(chunk).execute();
    for (const chunk of chunks(decisions)) await trx.insertInto('ledger_decisions').values(chunk).execute();
  });
}

function* chunks<T>(rows: readonly T[]): Generator<T[]> {
  for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) yield rows.slice(i, i + ROWS_PER_INSERT);
}

const flag = (value: boolean): number => (value ? 1 : 0);

function callRow(r: CallRecord): CallsTable {
  return {
    id: r.id,
    ts: r.ts,
    request_id: r.requestId,
    method: r.method,
    protocol: r.protocol,
    key_name: r.keyName ?? null,
    requested_model: r.requestedModel ?? null,
    model: r.model ?? null,
    provider: r.provider ?? null,
    outcome: r.outcome,
    code: r.code,
    reason: r.reason ?? null,
    prompt_tokens: r.usage.promptTokens,
    completion_tokens: r.usage.completionTokens,
    total_tokens: r.usage.totalTokens,
    usage_estimated: flag(r.usageEstimated),
    cost_usd: r.costUsd,
    cost_saved_usd: r.costSavedUsd,
    latency_ms: r.latencyMs,
    ttft_ms: r.ttftMs ?? null,
    attempts: r.attempts.length,
    fallback_triggered: flag(r.fallbackTriggered),
    default_message: flag(r.defaultMessage),
    cache_hit: flag(r.cacheHit),
    cache_stale: flag(r.cacheStale),
    route_profile: r.decision?.profile ?? null,
    complexity: r.decision?.complexity ?? null,
    prompt_sha256: r.promptSha256 ?? null,
    prompt: r.prompt ?? null,
    answer: r.answer ?? null,
  };
}

function attemptRows(r: CallRecord): AttemptsTable[] {
  return r.attempts.map((a, seq) => ({
    call_id: r.id,
    ts: r.ts,
    seq,
    model: a.model,
    provider: a.provider,
    outcome: a.outcome,
    code: a.code ?? null,
    reason: a.reason ?? null,
    latency_ms: a.latencyMs,
    prompt_tokens: a.usage.promptTokens,
    completion_tokens: a.usage.completionTokens,
    total_tokens: a.usage.totalTokens,
    usage_estimated: flag(a.usageEstimated),
    cost_usd: a.costUsd,
    retry: a.retry,
    raced: flag(a.raced),
    lost: flag(a.lost),
  }));
}

function decisionRow(r: CallRecord): DecisionsTable[] {
  const d = r.decision;
  if (!d) return [];
  return [
    {
      call_id: r.id,
      ts: r.ts,
      profile: d.profile,
      complexity: d.complexity,
      prompt_tokens: d.promptTokens,
      chosen_model: d.chosenModel,
      candidates: JSON.stringify(d.candidates),
    },
  ];
}
