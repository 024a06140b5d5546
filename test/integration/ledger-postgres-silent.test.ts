import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { connect, isDatabaseAway } from '../../src/store/database.js';
import { LedgerStore } from '../../src/store/ledger-store.js';
import { usageTotals } from '../../src/store/queries.js';
import { callRecord } from '../helpers/call-record.js';
import { type SilentPostgres, startSilentPostgres } from '../helpers/silent-postgres.js';

describe('a PostgreSQL ledger database that takes connections and never answers', () => {
  let silent: SilentPostgres;
  beforeAll(async () => {
    silent = await startSilentPostgres();
  });
  afterAll(async () => silent?.close());

  it('fails a read after the query timeout as a database away, and closes the connection it hung on', async () => {
    const database = connect({ kind: 'postgres', url: silent.url }, { queryTimeoutMs: 300 });
    try {
      const started = Date.now();
      await expect(usageTotals(database.reads, {}, [])).rejects.toSatisfy(isDatabaseAway);
      expect(Date.now() - started).toBeLessThan(3_000);
      // A connection still waiting for its answer would answer the next query's turn with it.
      await expect.poll(() => database.pgPool?.totalCount, { timeout: 3_000 }).toBe(0);
    } finally {
      await database.close();
    }
  }, 10_000);

  it('lets the writer start, keep its records queued and try again later, rather than wait for good', async () => {
    const store = new LedgerStore({
      target: { kind: 'postgres', url: silent.url },
      log: pino({ level: 'silent' }),
      maxQueue: 100,
      flushMs: 20,
      batchSize: 10,
      retryMs: 50,
      queryTimeoutMs: 300,
    });
    try {
      await store.start();
      expect(store.db).toBeUndefined();
      store.recordCall(callRecord('silent-1'));
      expect(store.queued).toBe(1);
    } finally {
      await store.close(200);
    }
  }, 10_000);

  it('LEDGER_QUERY_TIMEOUT_MS sets the timeout, 30 s by default', () => {
    expect(loadConfig({}).ledger.queryTimeoutMs).toBe(30_000);
    expect(loadConfig({ LEDGER_QUERY_TIMEOUT_MS: '5000' }).ledger.queryTimeoutMs).toBe(5_000);
  });
});
