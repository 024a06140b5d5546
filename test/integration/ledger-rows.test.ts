import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routingAnalytics } from '../../src/store/call-queries.js';
import { connect, migrate, type LedgerDatabase } from '../../src/store/database.js';
import { percentiles, usageTotals, type UsageDimension } from '../../src/store/queries.js';
import type { CallRecord } from '../../src/store/records.js';
import { writeBatch } from '../../src/store/write-batch.js';
import { startPostgres, type PostgresProcess } from '../helpers/postgres.js';

let pg: PostgresProcess;
let postgres: LedgerDatabase;
let sqlite: LedgerDatabase;
/** A SQLite file: its batches go through the writer thread, where the in-memory one's are written on the loop. */
let sqliteFile: LedgerDatabase;
const dir = mkdtempSync(join(tmpdir(), 'ledger-rows-'));
beforeAll(async () => {
  pg = await startPostgres();
  postgres = connect({ kind: 'postgres', url: pg.url });
  sqlite = connect({ kind: 'sqlite', file: ':memory:' });
  sqliteFile = connect({ kind: 'sqlite', file: join(dir, 'ledger.db') });
  await migrate(postgres);
  await migrate(sqlite);
  await migrate(sqliteFile);
}, 90_000);
afterAll(async () => {
  await postgres?.close();
  await sqlite?.close();
  await sqliteFile?.close();
  await pg?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

/** Varied records: every optional field both set and unset, text that needs escaping, awkward numbers. */
function record(i: number): CallRecord {
  const odd = i % 2 === 1;
  const text = [
    `plain ${i}`,
    'quote " and \\ backslash',
    'line\nbreak\ttab',
    'emoji 🦊 and ünïcödé',
    'cut pair \ud83e',
    `{"json": [${i}]}`,
  ][i % 6]!;
  return {
    id: `call-${String(i).padStart(4, '0')}`,
    ts: 1_780_000_000_000 + i * 7,
    requestId: `req-${i}`,
    method: odd ? '/orchestrator.v1.ChatService/Chat' : '/v1/chat/completions',
    protocol: odd ? 'grpc' : 'http',
    keyName: i % 3 === 0 ? undefined : `key ${text}`,
    requestedModel: odd ? 'gpt-4o' : undefined,
    model: i % 5 === 0 ? undefined : 'gpt-4o-mini',
    provider: i % 5 === 0 ? undefined : 'openai',
    outcome: i % 4 === 0 ? 'error' : 'success',
    code: i % 4 === 0 ? 'UNAVAILABLE' : 'OK',
    reason: i % 4 === 0 ? `UPSTREAM_ERROR ${text}` : undefined,
    usage: {
      promptTokens: i,
      completionTokens: 2 * i,
      totalTokens: 3 * i,
      cachedTokens: i >> 1,
      cacheWriteTokens: i % 5,
      reasoningTokens: i,
    },
    usageEstimated: i % 3 === 1,
    costUsd: i * 0.1 + 0.2,
    costSavedUsd: i % 7 === 0 ? 1e-7 * i : 0,
    latencyMs: 12.345678901234 * i,
    ttftMs: odd ? i / 3 : undefined,
    fallbackTriggered: i % 6 === 0,
    defaultMessage: i % 8 === 0,
    cacheHit: i % 9 === 0,
    cacheStale: i % 18 === 0,
    promptSha256: odd ? 'ab'.repeat(32) : undefined,
    prompt: odd ? text : undefined,
    answer: i % 3 === 2 ? `answer: ${text}` : undefined,
    attempts: Array.from({ length: i % 3 }, (_, seq) => ({
      model: seq === 0 ? 'gpt-4o' : 'gpt-4o-mini',
      provider: 'openai',
      outcome: seq === 0 && i % 3 === 2 ? 'error' : 'success',
      code: seq === 0 && i % 3 === 2 ? 'UNAVAILABLE' : undefined,
      reason: seq === 0 && i % 3 === 2 ? text : undefined,
      latencyMs: seq + i / 7,
      usage: {
        promptTokens: seq,
        completionTokens: i,
        totalTokens: seq + i,
        cachedTokens: seq,
        cacheWriteTokens: 0,
        reasoningTokens: i % 2,
      },
      usageEstimated: seq === 1,
      costUsd: (seq + 1) * 0.000123 * i,
      retry: seq,
      raced: i % 5 === 1,
      lost: i % 5 === 1 && seq === 1,
    })),
    decision:
      i % 4 === 1
        ? {
            profile: 'balanced',
            complexity: 'simple',
            promptTokens: i,
            chosenModel: 'gpt-4o-mini',
            candidates: [
              {
                model: 'gpt-4o-mini',
                provider: 'openai',
                score: 0.75 + i / 1000,
                quality: 0.8,
                latency: 0.5,
                cost: 0.9,
                reliability: 1,
                ttft: 0.25,
                context: 1,
                estimatedCostUsd: 0.0000123 * i,
                expectedLatencyMs: 812.125,
                expectedTtftMs: 301.5,
                contextHeadroom: 123.4567,
                eligible: true,
                excludedReason: '',
              },
              {
                model: 'gpt-4o',
                provider: 'openai',
                score: 0,
                quality: 0.95,
                latency: 0.4,
                cost: 0.2,
                reliability: 1,
                ttft: 0,
                context: 0.5,
                estimatedCostUsd: 0.01,
                expectedLatencyMs: 1500,
                expectedTtftMs: 700,
                contextHeadroom: 2,
                eligible: false,
                excludedReason: `over budget ${text}`,
              },
            ],
          }
        : undefined,
  };
}

/** Every row of the three tables, ordered, with PostgreSQL's bigint strings read as numbers. */
type Row = Record<string, unknown>;

async function rows(database: LedgerDatabase): Promise<{ calls: Row[]; attempts: Row[]; decisions: Row[] }> {
  const numeric = (row: object): Row =>
    Object.fromEntries(Object.entries(row).map(([k, v]) => [k, k === 'ts' && typeof v === 'string' ? Number(v) : v]));
  const { db } = database;
  return {
    calls: (await db.selectFrom('ledger_calls').selectAll().orderBy('id').execute()).map(numeric),
    attempts: (await db.selectFrom('ledger_attempts').selectAll().orderBy('call_id').orderBy('seq').execute()).map(numeric),
    decisions: (await db.selectFrom('ledger_decisions').selectAll().orderBy('call_id').execute()).map(numeric),
  };
}

describe('the rows the ledger writes', () => {
  it('are the same in PostgreSQL as in SQLite, value for value, and hold what the records say', async () => {
    // More than one INSERT chunk's worth of rows, in two batches.
    const records = Array.from({ length: 450 }, (_, i) => record(i));
    for (const batch of [records.slice(0, 170), records.slice(170)]) {
      await writeBatch(postgres, batch);
      await writeBatch(sqlite, batch);
      await writeBatch(sqliteFile, batch);
    }
    const fromPostgres = await rows(postgres);
    expect(fromPostgres.calls).toHaveLength(450);
    expect(fromPostgres.attempts).toHaveLength(records.reduce((n, r) => n + r.attempts.length, 0));
    expect(fromPostgres.decisions).toHaveLength(records.filter((r) => r.decision).length);
    // A lone surrogate is one U+FFFD in all three (checked below), not SQLite's three bytes of it.
    expect(await rows(sqlite)).toEqual(fromPostgres);
    expect(await rows(sqliteFile)).toEqual(fromPostgres);

    // And against the records themselves: a call, its attempts and its decision.
    const r = records[13]!;
    expect(fromPostgres.calls[13]).toMatchObject({
      id: r.id,
      ts: r.ts,
      key_name: r.keyName,
      prompt: 'quote " and \\ backslash',
      cost_usd: r.costUsd,
      latency_ms: r.latencyMs,
      ttft_ms: r.ttftMs,
      cached_tokens: 6,
      cache_write_tokens: 3,
      reasoning_tokens: 13,
      usage_estimated: 1,
      cache_hit: 0,
      answer: null,
    });
    const withPair = fromPostgres.calls.find((c) => c.id === 'call-0010');
    // A lone surrogate is stored as U+FFFD, as UTF-8 encoding a bound parameter stores it.
    expect(withPair?.key_name).toBe('key cut pair \ufffd');
    const decision = fromPostgres.decisions.find((d) => d.call_id === 'call-0013');
    expect(JSON.parse(String(decision?.candidates))).toEqual(r.decision!.candidates);
    const attempts = fromPostgres.attempts.filter((a) => a.call_id === 'call-0014');
    expect(attempts).toEqual([
      expect.objectContaining({ seq: 0, outcome: 'error', code: 'UNAVAILABLE', reason: 'line\nbreak\ttab', cost_usd: 0.000123 * 14 }),
      expect.objectContaining({
        seq: 1,
        outcome: 'success',
        code: null,
        usage_estimated: 1,
        cost_usd: 2 * 0.000123 * 14,
        cached_tokens: 1,
      }),
    ]);
  });

  it('are read alike from both: GetUsage totals with nearest-rank latency percentiles, and routing analytics', async () => {
    // The rows of the test before: 450 calls, every fourth of them routed.
    const records = Array.from({ length: 450 }, (_, i) => record(i));
    const groupings: UsageDimension[][] = [[], ['key'], ['model', 'day'], ['hour', 'method', 'provider']];
    const read = async (database: LedgerDatabase) => ({
      usage: await Promise.all(groupings.map((g) => usageTotals(database.reads, {}, g))),
      routing: await routingAnalytics(database.reads, {}),
      range: await usageTotals(database.reads, { from: records[100]!.ts, to: records[300]!.ts, keyName: records[101]!.keyName }, []),
    });
    const fromPostgres = await read(postgres);
    expect(await read(sqlite)).toEqual(fromPostgres);
    expect(await read(sqliteFile)).toEqual(fromPostgres);

    const latencies = (list: readonly CallRecord[]) => percentiles(list.map((r) => r.latencyMs));
    expect(fromPostgres.usage[0]).toEqual([expect.objectContaining({ requests: 450, latency: latencies(records) })]);
    const inRange = records.slice(100, 300).filter((r) => r.keyName === records[101]!.keyName);
    expect(fromPostgres.range).toEqual([expect.objectContaining({ requests: inRange.length, latency: latencies(inRange) })]);
    const routed = records.filter((r) => r.decision);
    expect(fromPostgres.routing).toEqual([
      {
        profile: 'balanced',
        decisions: routed.length,
        models: [
          expect.objectContaining({
            model: 'gpt-4o-mini',
            chosen: routed.length,
            successRate: routed.filter((r) => r.outcome === 'success').length / routed.length,
            latency: latencies(routed),
            fallbackRate:
              routed.filter((r) => r.fallbackTriggered || (r.model !== undefined && r.model !== 'gpt-4o-mini')).length / routed.length,
          }),
        ],
      },
    ]);
  });

  it('index calls by time, key, model and request id, and attempts and decisions only by their call (both dialects)', async () => {
    const ledgerIndexes = async (database: LedgerDatabase): Promise<string[]> => {
      const rows =
        database.dialect === 'postgres'
          ? (
              await sql<{
                name: string;
              }>`select indexname as name from pg_indexes where tablename like 'ledger_%' and indexname not like '%_pkey' and indexname not like '%_pk'`.execute(
                database.db,
              )
            ).rows
          : (
              await sql<{
                name: string;
              }>`select name from sqlite_master where type = 'index' and tbl_name like 'ledger_%' and sql is not null`.execute(database.db)
            ).rows;
      return rows.map((r) => r.name).sort();
    };
    const expected = ['ledger_calls_key_ts', 'ledger_calls_model_ts', 'ledger_calls_request_id', 'ledger_calls_ts'];
    expect(await ledgerIndexes(sqlite)).toEqual(expected);
    expect(await ledgerIndexes(postgres)).toEqual(expected);
  });

  it('leave no row of a batch PostgreSQL refuses in a later table (a COPY query also opens or commits the batch), and write the next', async () => {
    const base = record(1);
    const tooLarge = 2 ** 31;
    const refused: CallRecord[] = [
      { ...base, id: 'call-refused-attempt', attempts: [{ ...base.attempts[0]!, usage: { ...base.usage, promptTokens: tooLarge } }] },
      { ...base, id: 'call-refused-decision', decision: { ...base.decision!, promptTokens: tooLarge } },
    ];
    const rowsOf = async (id: string): Promise<number[]> =>
      Promise.all(
        (['ledger_calls', 'ledger_attempts', 'ledger_decisions'] as const).map(async (table) => {
          const column = table === 'ledger_calls' ? 'id' : 'call_id';
          const { rows } = await sql<{ n: string }>`select count(*) as n from ${sql.table(table)} where ${sql.ref(column)} = ${id}`.execute(
            postgres.db,
          );
          return Number(rows[0]?.n);
        }),
      );
    for (const r of refused) {
      await expect(writeBatch(postgres, [r])).rejects.toMatchObject({ code: '22003' });
      expect(await rowsOf(r.id)).toEqual([0, 0, 0]);
    }
    await writeBatch(postgres, [{ ...base, id: 'call-after-refusal' }]);
    expect(await rowsOf('call-after-refusal')).toEqual([1, 1, 1]);
  });

  it('hold text PostgreSQL cannot (a NUL, a lone surrogate) as U+FFFD, and text longer than its column cut to it, alike in both', async () => {
    const long = 'm'.repeat(200);
    const r = {
      ...record(1),
      id: 'call-odd',
      requestId: 'req-odd',
      prompt: 'before\u0000after',
      answer: 'half \ud83e pair',
      requestedModel: long,
      attempts: [],
    };
    for (const database of [postgres, sqlite, sqliteFile]) {
      // Each alone: PostgreSQL would refuse the whole batch for one value it cannot hold.
      await writeBatch(database, [r]);
      const row = await sql<{
        prompt: string;
        answer: string;
        requested_model: string;
      }>`select prompt, answer, requested_model from ledger_calls where id = 'call-odd'`.execute(database.db);
      expect(row.rows).toEqual([{ prompt: 'before\uFFFDafter', answer: 'half \uFFFD pair', requested_model: 'm'.repeat(128) }]);
    }
  });
});
