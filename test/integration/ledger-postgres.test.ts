import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyServiceClient } from '../../src/gen/orchestrator/v1/keys.js';
import { UsageServiceClient, type GetUsageResponse } from '../../src/gen/orchestrator/v1/usage.js';
import Pg from 'pg';
import { connect } from '../../src/store/database.js';
import { LedgerStore } from '../../src/store/ledger-store.js';
import { RetentionJob } from '../../src/store/retention.js';
import type { CallRecord } from '../../src/store/records.js';
import { accessFile } from '../helpers/access-file.js';
import { callRecord } from '../helpers/call-record.js';
import { callUnary, unaryError } from '../helpers/grpc-client.js';
import { checkBatchDecisions, checkDecisionsUpgrade } from '../helpers/ledger-decisions.js';
import { checkTokenDetail, checkTokenDetailUpgrade, startDetailGateway, startDetailUpstream } from '../helpers/ledger-token-detail.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { startPostgres, type PostgresProcess } from '../helpers/postgres.js';
import { checkSyncRunRetention } from '../helpers/sync-runs.js';

let pg: PostgresProcess;
beforeAll(async () => {
  pg = await startPostgres();
}, 90_000);
afterAll(async () => pg?.destroy());

const chatOnce = (h: Harness, prompt: string) =>
  callUnary(h.clients.chat.chat.bind(h.clients.chat), { model: 'gpt-4o-mini', prompt, messages: [] }).then((r) => r.response);

async function usageOf(h: Harness): Promise<GetUsageResponse> {
  const client = new UsageServiceClient(`127.0.0.1:${h.app.port}`, grpc.credentials.createInsecure());
  try {
    return (await callUnary(client.getUsage.bind(client), { groupBy: [], pageSize: 0, pageToken: '' })).response;
  } finally {
    client.close();
  }
}

const record = (ts: number, id: string): CallRecord => callRecord(id, ts);

describe('the ledger on PostgreSQL', () => {
  it('two replicas started together migrate once, write one ledger, and each sees both', async () => {
    const env = { DATABASE_URL: `${pg.url}`, LEDGER_FLUSH_MS: '20' };
    const [a, b] = await Promise.all([startHarness({ env }), startHarness({ env })]);
    try {
      const answers = await Promise.all([chatOnce(a, 'one'), chatOnce(a, 'two'), chatOnce(b, 'three')]);
      await Promise.all([a.app.ledger.store?.flush(), b.app.ledger.store?.flush()]);
      const cost = answers.reduce((s, x) => s + x.costUsd, 0);
      const tokens = answers.reduce((s, x) => s + (x.usage?.totalTokens ?? 0), 0);
      for (const h of [a, b]) {
        const row = (await usageOf(h)).rows[0];
        expect(row).toMatchObject({ requests: 3, successful: 3, totalTokens: tokens });
        expect(row?.costUsd).toBeCloseTo(cost, 10);
      }
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  }, 60_000);

  it('a database stopped mid-load loses no answer, counts what it dropped, and is written again when back', async () => {
    const h = await startHarness({ env: { DATABASE_URL: pg.url, LEDGER_FLUSH_MS: '20', LEDGER_QUEUE_MAX: '5' } });
    try {
      const store = h.app.ledger.store;
      if (!store) throw new Error('no ledger');
      const before = (await usageOf(h)).rows[0]?.requests ?? 0;
      await pg.stop();
      // Every call still answers while the database is down; the queue holds 5, the rest are dropped.
      const answers = [];
      for (let i = 0; i < 12; i += 1) answers.push(await chatOnce(h, `down ${i}`));
      expect(answers.every((x) => x.content.length > 0)).toBe(true);
      expect(store.dropped).toBe(12 - 5);
      const dropped = await fetch(`${h.app.metricsServer?.url}`).then((r) => r.text());
      expect(dropped).toMatch(/llm_orchestrator_ledger_records_dropped_total 7\b/);
      await pg.start();
      // The 5 queued records are written once a retry reaches the database (backoff at most 10 s)...
      await expect.poll(() => store.queued, { timeout: 30_000, interval: 100 }).toBe(0);
      // ...and a call after that is recorded too.
      await chatOnce(h, 'back');
      // Retries back off to at most 10 s, so the queue is written within about that once the database is back.
      await expect
        .poll(async () => (await usageOf(h).catch(() => undefined))?.rows[0]?.requests, { timeout: 30_000, interval: 200 })
        .toBe(before + 5 + 1);
    } finally {
      await h.close();
    }
  }, 90_000);

  it('a database stopped after start-up: UsageService, ApiKeyService and the catalog admin answer UNAVAILABLE (LEDGER_UNAVAILABLE), then answer again once it is back', async () => {
    const h = await startHarness({ env: { DATABASE_URL: pg.url, LEDGER_FLUSH_MS: '20' } });
    const client = new UsageServiceClient(`127.0.0.1:${h.app.port}`, grpc.credentials.createInsecure());
    const keys = new ApiKeyServiceClient(`127.0.0.1:${h.app.port}`, grpc.credentials.createInsecure());
    const models = h.clients.models;
    try {
      await chatOnce(h, 'before');
      await h.app.ledger.store?.flush();
      await pg.stop();
      const seen = [
        await unaryError(client.getUsage.bind(client), { groupBy: [], pageSize: 0, pageToken: '' }),
        await unaryError(client.listCalls.bind(client), { requestId: '', pageSize: 1, pageToken: '' }),
        await unaryError(client.getRoutingAnalytics.bind(client), {}),
        await unaryError(keys.listApiKeys.bind(keys), { includeRevoked: false }),
        await unaryError(models.listModelHistory.bind(models), { model: 'gpt-4o', field: '', limit: 0 }),
      ].map((e) => [e.code, e.decoded.errorInfo?.reason]);
      expect(seen).toEqual(Array.from({ length: 5 }, () => [grpc.status.UNAVAILABLE, 'LEDGER_UNAVAILABLE']));
      await pg.start();
      await expect
        .poll(async () => (await usageOf(h).catch(() => undefined))?.rows[0]?.requests, { timeout: 30_000, interval: 200 })
        .toBeGreaterThanOrEqual(1);
    } finally {
      client.close();
      keys.close();
      await h.close();
    }
  }, 60_000);

  it('the retention job removes only rows older than the retention period, on one replica at a time', async () => {
    const log = pino({ level: 'silent' });
    const store = new LedgerStore({ target: { kind: 'postgres', url: pg.url }, log, maxQueue: 100, flushMs: 10, batchSize: 50 });
    await store.start();
    try {
      const now = Date.now();
      const day = 86_400_000;
      for (let i = 0; i < 7; i += 1) store.recordCall(record(now - 40 * day - i, `old-${i}`));
      for (let i = 0; i < 3; i += 1) store.recordCall(record(now - 29 * day - i, `kept-${i}`));
      await store.flush();
      const job = (size: number) => new RetentionJob({ database: () => store.db, days: 30, cron: '0 0 * * *', log, batchSize: size });
      const [first, second] = await Promise.all([job(2).runOnce(now), job(2).runOnce(now)]);
      const removed = [first, second].filter((r) => !r.skipped);
      expect(removed.reduce((n, r) => n + r.calls, 0)).toBe(7);
      expect(removed.reduce((n, r) => n + r.attempts, 0)).toBe(7);
      const left = await store.db?.db.selectFrom('ledger_calls').select('id').where('id', 'like', '%-%').execute();
      const ids = (left ?? [])
        .map((r) => r.id)
        .filter((id) => id.startsWith('old-') || id.startsWith('kept-'))
        .sort();
      expect(ids).toEqual(['kept-0', 'kept-1', 'kept-2']);
    } finally {
      await store.close(1_000);
    }
  }, 60_000);

  it('the retention job deletes old catalog sync runs too, keeping those model history names and the newest of each source', async () => {
    const log = pino({ level: 'silent' });
    const store = new LedgerStore({ target: { kind: 'postgres', url: pg.url }, log, maxQueue: 100, flushMs: 10, batchSize: 50 });
    await store.start();
    try {
      const database = store.db;
      if (!database) throw new Error('the ledger database is not open');
      await checkSyncRunRetention(
        database,
        (size) => new RetentionJob({ database: () => database, days: 30, cron: '0 0 * * *', log, batchSize: size }),
      );
    } finally {
      await store.close(1_000);
    }
  }, 60_000);

  // A config-file key: the keys the database may hold are unknown until it answers, and callers without a known key wait for it.
  it('an unreachable database at start-up: the gateway serves a config-file key, and records once the database answers', async () => {
    await pg.stop();
    const h = await startHarness({ env: { DATABASE_URL: pg.url, LEDGER_FLUSH_MS: '20', CONFIG_FILE: accessFile() } });
    try {
      expect(h.app.ledger.database()).toBeUndefined();
      const { response: answer } = await callUnary(
        h.clients.chat.chat.bind(h.clients.chat),
        { model: 'gpt-4o-mini', prompt: 'while down', messages: [] },
        { metadata: { authorization: 'Bearer erin-secret' } },
      );
      expect(answer.content.length).toBeGreaterThan(0);
      const client = new UsageServiceClient(`127.0.0.1:${h.app.port}`, grpc.credentials.createInsecure());
      const err = await unaryError(
        client.getUsage.bind(client),
        { groupBy: [], pageSize: 0, pageToken: '' },
        { metadata: { authorization: 'Bearer erin-secret' } },
      );
      client.close();
      expect(err.code).toBe(grpc.status.UNAVAILABLE);
      await pg.start();
      await expect.poll(() => h.app.ledger.database() !== undefined, { timeout: 20_000, interval: 200 }).toBe(true);
      await h.app.ledger.store?.flush();
      const calls = await h.app.ledger
        .database()
        ?.db.selectFrom('ledger_calls')
        .select('id')
        .where('requested_model', '=', 'gpt-4o-mini')
        .execute();
      expect(calls?.length).toBeGreaterThanOrEqual(1);
    } finally {
      await h.close();
    }
  }, 60_000);

  it('a database migrated by a newer version stops start-up with a clear configuration error', async () => {
    const store = new LedgerStore({
      target: { kind: 'postgres', url: pg.url },
      log: pino({ level: 'silent' }),
      maxQueue: 1,
      flushMs: 10,
      batchSize: 1,
    });
    await store.start();
    const db = store.db?.db as unknown as import('kysely').Kysely<{ ledger_migrations: { name: string; timestamp: string } }>;
    await db.insertInto('ledger_migrations').values({ name: '9999_from_the_future', timestamp: new Date().toISOString() }).execute();
    try {
      await expect(startHarness({ env: { DATABASE_URL: pg.url } })).rejects.toThrow(
        /DATABASE_URL: the database was migrated by a newer version \(unknown migrations: 9999_from_the_future\)/,
      );
    } finally {
      await db.deleteFrom('ledger_migrations').where('name', '=', '9999_from_the_future').execute();
      await store.close(100);
    }
  }, 60_000);

  it('a page token ListCalls never issues (its time past 64 bits) is INVALID_ARGUMENT on PostgreSQL, as on SQLite', async () => {
    for (const DATABASE_URL of [pg.url, 'sqlite::memory:']) {
      const h = await startHarness({ env: { DATABASE_URL, LEDGER_FLUSH_MS: '20' } });
      const client = new UsageServiceClient(`127.0.0.1:${h.app.port}`, grpc.credentials.createInsecure());
      try {
        await chatOnce(h, 'one');
        await h.app.ledger.store?.flush();
        const pageToken = Buffer.from('100000000000000000000:0190').toString('base64url');
        const page = await unaryError(client.listCalls.bind(client), { requestId: '', pageSize: 1, pageToken });
        expect([DATABASE_URL, page.code, page.details]).toEqual([
          DATABASE_URL,
          grpc.status.INVALID_ARGUMENT,
          expect.stringContaining('page_token'),
        ]);
      } finally {
        client.close();
        await h.close();
      }
    }
  }, 60_000);

  it("a Batch's routed items each have their decision, counted with the item's outcome; an older ledger upgrades", async () => {
    const admin = new Pg.Client({ connectionString: pg.url });
    await admin.connect();
    try {
      await admin.query('create database batch_decisions');
      await admin.query('create database decisions_upgrade');
    } finally {
      await admin.end();
    }
    const urlOf = (name: string) => pg.url.replace(/\/postgres$/, `/${name}`);
    const h = await startHarness({ env: { DATABASE_URL: urlOf('batch_decisions'), LEDGER_FLUSH_MS: '20', RETRY_MAX_ATTEMPTS: '1' } });
    const client = new UsageServiceClient(`127.0.0.1:${h.app.port}`, grpc.credentials.createInsecure());
    try {
      await checkBatchDecisions(h, client);
    } finally {
      client.close();
      await h.close();
    }
    const database = connect({ kind: 'postgres', url: urlOf('decisions_upgrade') });
    try {
      await checkDecisionsUpgrade(database);
    } finally {
      await database.close();
    }
  }, 60_000);

  it('cached, cache-write and reasoning tokens are recorded, listed and summed; an older ledger upgrades with 0 for them', async () => {
    const admin = new Pg.Client({ connectionString: pg.url });
    await admin.connect();
    try {
      await admin.query('create database token_detail');
      await admin.query('create database token_detail_upgrade');
    } finally {
      await admin.end();
    }
    const urlOf = (name: string) => pg.url.replace(/\/postgres$/, `/${name}`);
    const upstream = await startDetailUpstream();
    const h = await startDetailGateway(upstream, urlOf('token_detail'));
    const client = new UsageServiceClient(`127.0.0.1:${h.app.port}`, grpc.credentials.createInsecure());
    try {
      await checkTokenDetail(h, client);
    } finally {
      client.close();
      await h.close();
      await upstream.close();
    }
    const database = connect({ kind: 'postgres', url: urlOf('token_detail_upgrade') });
    try {
      await checkTokenDetailUpgrade(database);
    } finally {
      await database.close();
    }
  }, 60_000);
});
