import * as grpc from '@grpc/grpc-js';
import { Redis } from 'ioredis';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { periodsOf } from '../../src/access/budgets.js';
import type { BatchResponse } from '../../src/gen/orchestrator/v1/chat.js';
import { accessFile, sha } from '../helpers/access-file.js';
import { callUnary, unaryError } from '../helpers/grpc-client.js';
import { eventually } from '../helpers/eventually.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { startRedis, type RedisProcess } from '../helpers/redis.js';

const bearer = (key: string) => ({ metadata: { authorization: `Bearer ${key}` } });
const chat = (h: Harness, key: string, prompt = 'hi') =>
  callUnary(h.clients.chat.chat.bind(h.clients.chat), { model: 'gpt-4o-mini', prompt, messages: [] }, bearer(key));
const chatError = (h: Harness, key: string) =>
  unaryError(h.clients.chat.chat.bind(h.clients.chat), { model: 'gpt-4o-mini', prompt: 'hi', messages: [] }, bearer(key));

describe('budgets from the ledger (a database, no Redis)', () => {
  let h: Harness | undefined;
  afterAll(async () => h?.close());

  it('a budget spent before a restart is still spent after it', async () => {
    const env = {
      CONFIG_FILE: accessFile(`    - { name: gail, sha256: ${sha('gail-secret')}, budgets: { usd_per_day: 0.00001 } }\n`),
      DATABASE_URL: `sqlite:${join(mkdtempSync(join(tmpdir(), 'llmo-budget-')), 'ledger.db')}`,
    };
    h = await startHarness({ env });
    const first = (await chat(h, 'gail-secret')).response;
    expect(first.costUsd).toBeGreaterThan(0.00001);
    // Spent: the next call is refused...
    expect((await chatError(h, 'gail-secret')).decoded.errorInfo?.reason).toBe('BUDGET_EXHAUSTED');
    // Written before the restart, however slow this machine is to start the ledger's writer.
    const store = h.app.ledger.store;
    await expect
      .poll(
        async () => {
          await store?.flush();
          return store?.written ?? 0;
        },
        { timeout: 10_000 },
      )
      .toBeGreaterThanOrEqual(1);
    await h.close();
    // ...and still after a restart on the same file: the spend was read back from the ledger.
    h = await startHarness({ env });
    const refused = await chatError(h, 'gail-secret');
    expect(refused.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(refused.decoded.errorInfo?.reason).toBe('BUDGET_EXHAUSTED');
    expect(Number(refused.decoded.errorInfo?.metadata['spent_usd'])).toBeCloseTo(first.costUsd, 10);
    // Another key's spend is its own.
    expect((await chat(h, 'erin-secret')).response.content.length).toBeGreaterThan(0);
  });
});

describe('a Batch the client cancelled, with the ledger as the record', () => {
  let h: Harness | undefined;
  afterAll(async () => h?.close());

  it('still counts what its finished items spent after a restart', async () => {
    const env = {
      CONFIG_FILE: accessFile(`    - { name: bart, sha256: ${sha('bart-secret')}, budgets: { usd_per_day: 0.0002 } }\n`),
      DATABASE_URL: `sqlite:${join(mkdtempSync(join(tmpdir(), 'llmo-budget-')), 'ledger.db')}`,
    };
    h = await startHarness({ env });
    const gpt4o = { model: 'gpt-4o', prompt: 'x', messages: [], maxTokens: 10 };
    // gpt-4o at 10 tokens: about $0.00011 a call, so two of them spend the $0.0002.
    const first = (await callUnary(h.clients.chat.chat.bind(h.clients.chat), gpt4o, bearer('bart-secret'))).response;
    h.upstream.injectFault({ kind: 'slow', tokensPerSecond: 1, model: 'gpt-4o-mini' });
    const metadata = new grpc.Metadata();
    metadata.set('authorization', 'Bearer bart-secret');
    // The slow item holds little, so the gpt-4o item is admitted next to it; the client leaves once that one answered.
    const batch = h.clients.chat.batch(
      {
        items: [
          { requestId: 'slow', request: { model: 'gpt-4o-mini', prompt: 'x', messages: [], maxTokens: 10 } },
          { requestId: 'paid', request: gpt4o },
        ],
        concurrency: 2,
      },
      metadata,
    );
    batch.on('error', () => undefined);
    const paid = await new Promise<BatchResponse>((resolve) => batch.on('data', resolve));
    batch.cancel();
    const item = paid.event?.$case === 'item' ? paid.event.item : undefined;
    expect(item?.requestId).toBe('paid');
    const itemCost = item?.outcome?.$case === 'response' ? item.outcome.response.costUsd : 0;
    expect(first.costUsd + itemCost).toBeGreaterThan(0.0002);
    h.upstream.clearFaults();
    expect((await chatError(h, 'bart-secret')).decoded.errorInfo?.reason).toBe('BUDGET_EXHAUSTED');
    // Written before the restart, however slow this machine is, so only the recorded cost is in question.
    const app = h;
    const batches = await eventually(
      async () => {
        await app.app.ledger.store?.flush();
        return app.app.ledger
          .database()
          ?.db.selectFrom('ledger_calls')
          .select('id')
          .where('method', '=', '/orchestrator.v1.ChatService/Batch')
          .execute();
      },
      (rows) => rows?.length === 1,
      10_000,
    );
    expect(batches).toHaveLength(1);
    await h.close();
    h = await startHarness({ env });
    const refused = await chatError(h, 'bart-secret');
    expect(refused.decoded.errorInfo?.reason).toBe('BUDGET_EXHAUSTED');
    expect(Number(refused.decoded.errorInfo?.metadata['spent_usd'])).toBeGreaterThanOrEqual(first.costUsd + itemCost - 1e-12);
  }, 30_000);
});

describe('budgets with Redis: Redis is the fast path, the ledger the record', () => {
  let redis: RedisProcess | undefined;
  let h: Harness | undefined;
  afterAll(async () => {
    await h?.close();
    await redis?.stop();
  });

  it('after a burst, the spend in Redis equals the cost the ledger recorded for the key', async () => {
    redis = await startRedis();
    h = await startHarness({
      env: {
        CONFIG_FILE: accessFile(`    - { name: burst, sha256: ${sha('burst-secret')}, budgets: { usd_per_day: 0.001 } }\n`),
        DATABASE_URL: 'sqlite::memory:',
        REDIS_URL: redis.url,
        LEDGER_FLUSH_MS: '20',
      },
    });
    const app = h;
    const outcomes = await Promise.allSettled(Array.from({ length: 60 }, (_, i) => chat(app, 'burst-secret', `q${i}`)));
    const answered = outcomes.filter((o) => o.status === 'fulfilled').length;
    // The burst ran into the budget: some answered, the rest were refused.
    expect(answered).toBeGreaterThan(0);
    expect(answered).toBeLessThan(60);
    await h.app.ledger.store?.flush();
    const rows = await h.app.ledger
      .database()!
      .db.selectFrom('ledger_calls')
      .select(['cost_usd', 'reason'])
      .where('key_name', '=', 'burst')
      .execute();
    expect(rows).toHaveLength(60);
    const recorded = rows.reduce((sum, r) => sum + r.cost_usd, 0);
    const client = new Redis(redis.url);
    try {
      const inRedis = Number(await client.get(`llmo:budget:burst:d:${periodsOf(new Date()).day}`));
      expect(inRedis).toBeGreaterThan(0);
      expect(inRedis).toBeCloseTo(recorded, 9);
    } finally {
      client.disconnect();
    }
  }, 60_000);
});
