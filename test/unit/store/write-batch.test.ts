import Database from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { describe, expect, it } from 'vitest';
import type { LedgerSchema } from '../../../src/store/schema.js';
import { insertText } from '../../../src/store/write-batch.js';

const CALL = {
  id: 'c1',
  ts: 1,
  request_id: 'r',
  method: '/m',
  protocol: 'grpc',
  key_name: null,
  requested_model: null,
  model: null,
  provider: null,
  outcome: 'success',
  code: 'OK',
  reason: null,
  prompt_tokens: 1,
  completion_tokens: 2,
  total_tokens: 3,
  cached_tokens: 0,
  cache_write_tokens: 0,
  reasoning_tokens: 0,
  usage_estimated: 0,
  cost_usd: 0,
  cost_saved_usd: 0,
  latency_ms: 1,
  ttft_ms: null,
  attempts: 1,
  fallback_triggered: 0,
  default_message: 0,
  cache_hit: 0,
  cache_stale: 0,
  route_profile: null,
  complexity: null,
  prompt_sha256: null,
  prompt: null,
  answer: null,
};

const ATTEMPT = {
  call_id: 'c1',
  ts: 1,
  seq: 0,
  model: 'm',
  provider: 'p',
  outcome: 'success',
  code: null,
  reason: null,
  latency_ms: 1,
  prompt_tokens: 1,
  completion_tokens: 2,
  total_tokens: 3,
  cached_tokens: 0,
  cache_write_tokens: 0,
  reasoning_tokens: 0,
  usage_estimated: 0,
  cost_usd: 0,
  retry: 0,
  raced: 0,
  lost: 0,
};

const DECISION = {
  call_id: 'c1',
  ts: 1,
  seq: 0,
  profile: 'speed',
  complexity: 'simple',
  prompt_tokens: 1,
  chosen_model: 'm',
  candidates: '[]',
  outcome: null,
  model: null,
  latency_ms: null,
  fallback_triggered: null,
};

describe('the ledger INSERT text', () => {
  const db = new Kysely<LedgerSchema>({ dialect: new SqliteDialect({ database: new Database(':memory:') }) });

  it('is what kysely compiles for the same rows (SQLite)', () => {
    for (const rows of [1, 3]) {
      expect(insertText('ledger_calls', rows)).toBe(db.insertInto('ledger_calls').values(Array(rows).fill(CALL)).compile().sql);
      expect(insertText('ledger_attempts', rows)).toBe(db.insertInto('ledger_attempts').values(Array(rows).fill(ATTEMPT)).compile().sql);
      expect(insertText('ledger_decisions', rows)).toBe(db.insertInto('ledger_decisions').values(Array(rows).fill(DECISION)).compile().sql);
    }
  });
});
