import * as grpc from '@grpc/grpc-js';
import { Redis } from 'ioredis';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { periodsOf } from '../../src/access/budgets.js';
import { accessFile, sha } from '../helpers/access-file.js';
import { callUnary, unaryError } from '../helpers/grpc-client.js';
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
