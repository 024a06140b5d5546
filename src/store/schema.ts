import type { ApiKeysTable } from './api-key-schema.js';

/**
 * The ledger's tables, the same in SQLite and PostgreSQL. Times are epoch milliseconds
 * (bigint), flags are 0/1 integers, so one query works in both dialects.
 */
export interface CallsTable {
  id: string;
  ts: number;
  request_id: string;
  method: string;
  protocol: string;
  key_name: string | null;
  requested_model: string | null;
  model: string | null;
  provider: string | null;
  outcome: string;
  code: string;
  reason: string | null;
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  cached_tokens: number;
  cache_write_tokens: number;
  reasoning_tokens: number;
  usage_estimated: number;
  cost_usd: number;
  cost_saved_usd: number;
  latency_ms: number;
  ttft_ms: number | null;
  attempts: number;
  fallback_triggered: number;
  default_message: number;
  cache_hit: number;
  cache_stale: number;
  route_profile: string | null;
  complexity: string | null;
  prompt_sha256: string | null;
  prompt: string | null;
  answer: string | null;
}

export interface AttemptsTable {
  call_id: string;
  ts: number;
  seq: number;
  model: string;
  provider: string;
  outcome: string;
  code: string | null;
  reason: string | null;
  latency_ms: number;
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  cached_tokens: number;
  cache_write_tokens: number;
  reasoning_tokens: number;
  usage_estimated: number;
  cost_usd: number;
  retry: number;
  raced: number;
  lost: number;
}

export interface DecisionsTable {
  call_id: string;
  ts: number;
  /** 0 for a call's decision; a Batch item's index for the item's. */
  seq: number;
  profile: string;
  complexity: string;
  prompt_tokens: number;
  chosen_model: string;
  /** JSON: every candidate's scores, eligibility and exclusion reason, best first. */
  candidates: string;
  /** A Batch item's outcome, answering model, latency and fallback; null: the call's (ledger_calls) are the decision's. */
  outcome: string | null;
  model: string | null;
  latency_ms: number | null;
  fallback_triggered: number | null;
}

export interface LedgerSchema {
  ledger_calls: CallsTable;
  ledger_attempts: AttemptsTable;
  ledger_decisions: DecisionsTable;
  api_keys: ApiKeysTable;
}
