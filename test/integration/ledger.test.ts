import * as grpc from '@grpc/grpc-js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheMode } from '../../src/gen/orchestrator/v1/chat.js';
import { accessFile } from '../helpers/access-file.js';
import { callUnary, unaryError } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';

const bearer = (key: string) => ({ metadata: { authorization: `Bearer ${key}` } });

/** Every row the ledger holds, calls in arrival order with their attempts and decision. */
async function ledgerRows(h: Harness) {
  const db = h.app.ledger.database()?.db;
  if (!db) throw new Error('ledger not open');
  await h.app.ledger.store?.flush();
  const calls = await db.selectFrom('ledger_calls').selectAll().orderBy('ts').execute();
  const attempts = await db.selectFrom('ledger_attempts').selectAll().orderBy('call_id').orderBy('seq').execute();
  const decisions = await db.selectFrom('ledger_decisions').selectAll().execute();
  return { calls, attempts, decisions };
}

describe('the ledger on a SQLite file', () => {
  let h: Harness;
  let file: string;
  beforeAll(async () => {
    file = join(mkdtempSync(join(tmpdir(), 'llmo-ledger-')), 'ledger.db');
    h = await startHarness({ latencyScale: 1, env: { CONFIG_FILE: accessFile(), DATABASE_URL: `sqlite:${file}`, LEDGER_FLUSH_MS: '20' } });
  });
  afterAll(async () => h?.close());

  it('records one row per call, one per attempt and the routing decision', async () => {
    const chat = h.clients.chat.chat.bind(h.clients.chat);
    const race = h.clients.chat.race.bind(h.clients.chat);
    const fallback = h.clients.chat.fallback.bind(h.clients.chat);
    const answers: { costUsd: number; usage?: { totalTokens: number } | undefined }[] = [];

    // success
    answers.push((await callUnary(chat, { model: 'gpt-4o-mini', prompt: 'hello', messages: [] }, bearer('erin-secret'))).response);
    // fallback: the primary fails once, the next model answers
    h.upstream.injectFault({ kind: 'http_error', status: 503, model: 'gpt-4o', times: 1 });
    answers.push((await callUnary(fallback, { model: '', prompt: 'fall', messages: [], models: ['gpt-4o', 'gpt-4o-mini'], disableDefaultMessage: false }, bearer('erin-secret'))).response);
    // race with a loser
    answers.push((await callUnary(race, { model: '', prompt: 'race', messages: [], models: ['gpt-4-turbo', 'gpt-4o-mini'] }, bearer('erin-secret'))).response);
    // cache: a miss, then a hit
    const cached = { model: 'gpt-4o-mini', prompt: 'same question', messages: [], temperature: 0, cache: { mode: CacheMode.CACHE_MODE_USE, allowStale: false } };
    answers.push((await callUnary(chat, cached, bearer('erin-secret'))).response);
    const hit = (await callUnary(chat, cached, bearer('erin-secret'))).response;
    expect(hit.cache?.hit).toBe(true);
    answers.push(hit);
    // routed
    answers.push((await callUnary(chat, { model: '', prompt: 'route me', messages: [], route: { profile: 2, candidates: [] } }, bearer('erin-secret'))).response);
    // failed: every attempt refused upstream
    h.upstream.injectFault({ kind: 'http_error', status: 500, model: 'gpt-4o-mini', times: 1 });
    const failed = await unaryError(chat, { model: 'gpt-4o-mini', prompt: 'fail', messages: [] }, bearer('erin-secret'));
    expect(failed.code).toBe(grpc.status.UNAVAILABLE);
    // rate-limited: alice may send 5 a minute
    for (let i = 0; i < 5; i += 1) answers.push((await callUnary(chat, { model: 'gpt-4o-mini', prompt: `a${i}`, messages: [] }, bearer('alice-secret'))).response);
    const limited = await unaryError(chat, { model: 'gpt-4o-mini', prompt: 'a5', messages: [] }, bearer('alice-secret'));
    expect(limited.code).toBe(grpc.status.RESOURCE_EXHAUSTED);

    const { calls, attempts, decisions } = await ledgerRows(h);
    expect(calls.map((c) => [c.method.split('/').pop(), c.key_name, c.code])).toEqual([
      ['Chat', 'erin', 'OK'],
      ['Fallback', 'erin', 'OK'],
      ['Race', 'erin', 'OK'],
      ['Chat', 'erin', 'OK'],
      ['Chat', 'erin', 'OK'],
      ['Chat', 'erin', 'OK'],
      ['Chat', 'erin', 'UNAVAILABLE'],
      ...Array.from({ length: 5 }, () => ['Chat', 'alice', 'OK']),
      ['Chat', 'alice', 'RESOURCE_EXHAUSTED'],
    ]);
    const [plain, fell, raced, miss, cacheHit, routed, fail] = calls;
    expect(plain).toMatchObject({ model: 'gpt-4o-mini', outcome: 'success', attempts: 1, fallback_triggered: 0, cache_hit: 0 });
    expect(fell).toMatchObject({ model: 'gpt-4o-mini', fallback_triggered: 1, attempts: 2, requested_model: 'gpt-4o,gpt-4o-mini' });
    expect(raced).toMatchObject({ model: 'gpt-4o-mini', attempts: 2 });
    expect(miss).toMatchObject({ cache_hit: 0, attempts: 1 });
    expect(cacheHit).toMatchObject({ cache_hit: 1, attempts: 0, cost_usd: 0 });
    expect(cacheHit?.cost_saved_usd).toBeCloseTo(miss?.cost_usd ?? -1, 10);
    expect(routed).toMatchObject({ route_profile: 'balanced' });
    expect(fail).toMatchObject({ outcome: 'error', reason: 'UPSTREAM_ERROR', attempts: 1 });
    expect(calls.at(-1)).toMatchObject({ outcome: 'error', reason: 'RATE_LIMITED', attempts: 0, cost_usd: 0 });
    // No message content unless LEDGER_CONTENT asks for it.
    expect(calls.every((c) => c.prompt === null && c.answer === null && c.prompt_sha256 === null)).toBe(true);

    const of = (id: string | undefined) => attempts.filter((a) => a.call_id === id).map((a) => [a.model, a.outcome, a.raced, a.lost]);
    expect(of(fell?.id)).toEqual([['gpt-4o', 'failure', 0, 0], ['gpt-4o-mini', 'success', 0, 0]]);
    expect(of(raced?.id)).toEqual([['gpt-4-turbo', 'cancelled', 1, 1], ['gpt-4o-mini', 'success', 1, 0]]);
    expect(of(cacheHit?.id)).toEqual([]);
    expect(of(fail?.id)).toEqual([['gpt-4o-mini', 'failure', 0, 0]]);
    expect(attempts.length).toBe(1 + 2 + 2 + 1 + 0 + 1 + 1 + 5);

    expect(decisions).toHaveLength(1);
    expect(decisions[0]).toMatchObject({ call_id: routed?.id, profile: 'balanced', chosen_model: routed?.model });
    expect(JSON.parse(decisions[0]?.candidates ?? '[]').length).toBeGreaterThan(1);

    // The ledger's sums are the answers' own.
    const successes = calls.filter((c) => c.outcome === 'success');
    const cost = successes.reduce((s, c) => s + c.cost_usd, 0);
    expect(cost).toBeCloseTo(answers.reduce((s, a) => s + a.costUsd, 0), 10);
    expect(successes.reduce((s, c) => s + c.total_tokens, 0)).toBe(answers.reduce((s, a) => s + (a.usage?.totalTokens ?? 0), 0));
  });
});
