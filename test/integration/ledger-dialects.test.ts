import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, migrate, type LedgerDatabase } from '../../src/store/database.js';
import { listCalls, routingAnalytics } from '../../src/store/call-queries.js';
import { usageTotals } from '../../src/store/queries.js';
import { writeBatch } from '../../src/store/write-batch.js';
import { callRecord } from '../helpers/call-record.js';
import { startPostgres, type PostgresProcess } from '../helpers/postgres.js';

/** The same ledger in PostgreSQL and in a SQLite file: what GetUsage reads from each. */
let pg: PostgresProcess;
let postgres: LedgerDatabase;
let sqlite: LedgerDatabase;
const dir = mkdtempSync(join(tmpdir(), 'ledger-dialects-'));
beforeAll(async () => {
  pg = await startPostgres();
  postgres = connect({ kind: 'postgres', url: pg.url });
  sqlite = connect({ kind: 'sqlite', file: join(dir, 'ledger.db') });
  await migrate(postgres);
  await migrate(sqlite);
}, 90_000);
afterAll(async () => {
  await postgres?.close();
  await sqlite?.close();
  await pg?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

const START = Date.UTC(2026, 2, 1);

/** The same pseudo-random sequence on every run. */
function sequence(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('GetUsage on PostgreSQL and SQLite', () => {
  it("sums costs to the last 1e-10 USD of the calls' own costs, alike in both, however large the total", async () => {
    // A busy month of one key: 20,000 calls of up to $5 each, every cost on the 1e-10 USD grid.
    const next = sequence(7);
    const calls = Array.from({ length: 20_000 }, (_, i) =>
      callRecord(`month-${String(i).padStart(5, '0')}`, START + i * 100_000, {
        keyName: 'busy',
        costUsd: Math.round(next() * 5e10) / 1e10,
        costSavedUsd: i % 3 === 0 ? Math.round(next() * 1e11) / 1e10 : 0,
      }),
    );
    for (let i = 0; i < calls.length; i += 2_000) {
      await writeBatch(postgres, calls.slice(i, i + 2_000));
      await writeBatch(sqlite, calls.slice(i, i + 2_000));
    }
    const exact = (amounts: readonly number[]) => Number(amounts.reduce((n, usd) => n + BigInt(Math.round(usd * 1e10)), 0n)) / 1e10;
    const expected = { costUsd: exact(calls.map((c) => c.costUsd)), costSavedUsd: exact(calls.map((c) => c.costSavedUsd)) };
    for (const database of [postgres, sqlite]) {
      const [total] = await usageTotals(database.reads, { keyName: 'busy' }, []);
      expect([database.dialect, { costUsd: total?.costUsd, costSavedUsd: total?.costSavedUsd }]).toEqual([database.dialect, expected]);
    }
  }, 60_000);

  it('take a filter with a NUL character as the text the ledger stored for it (U+FFFD), where PostgreSQL failed the read', async () => {
    const decision = { profile: 'balanced', complexity: 'simple', promptTokens: 1, chosenModel: 'gpt-4o', candidates: [] };
    const odd = callRecord('nul-1', START - 1_000, { keyName: 'nul\u0000key', model: 'gpt\u0000x', requestId: 'req\u0000nul', decision });
    await writeBatch(postgres, [odd]);
    await writeBatch(sqlite, [odd]);
    const filter = { keyName: 'nul\u0000key', model: 'gpt\u0000x', provider: 'openai', method: odd.method };
    for (const database of [postgres, sqlite]) {
      const [total] = await usageTotals(database.reads, filter, []);
      const listed = await listCalls(database.reads, { filter, requestId: 'req\u0000nul', pageSize: 10 });
      const [routed] = await routingAnalytics(database.reads, filter);
      expect([database.dialect, total?.requests, listed.calls.map((c) => c.call.key_name), routed?.decisions]).toEqual([
        database.dialect,
        1,
        ['nul\uFFFDkey'],
        1,
      ]);
    }
  });

  it('list errors_by_code in the order of the code names, alike in both (the CLI prints them in that order)', async () => {
    const codes = ['UNAVAILABLE', 'DEADLINE_EXCEEDED', 'RESOURCE_EXHAUSTED', 'INVALID_ARGUMENT', 'CANCELLED', 'OK'];
    const calls = codes.flatMap((code, i) =>
      Array.from({ length: 200 }, (_, n) =>
        callRecord(`codes-${i}-${n}`, START - 10_000_000 + i * 1_000 + n, {
          keyName: 'codes',
          outcome: code === 'OK' ? 'success' : 'error',
          code,
        }),
      ),
    );
    await writeBatch(postgres, calls);
    await writeBatch(sqlite, calls);
    for (const database of [postgres, sqlite]) {
      // The whole ledger: PostgreSQL hashes its groups, in an order of its own.
      const [total] = await usageTotals(database.reads, {}, []);
      expect([database.dialect, Object.entries(total?.errorsByCode ?? {})]).toEqual([
        database.dialect,
        [
          ['CANCELLED', 200],
          ['DEADLINE_EXCEEDED', 200],
          ['INVALID_ARGUMENT', 200],
          ['RESOURCE_EXHAUSTED', 200],
          ['UNAVAILABLE', 200],
        ],
      ]);
    }
  });
});
