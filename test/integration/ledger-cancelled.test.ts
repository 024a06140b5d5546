import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import type { StreamChatResponse } from '../../src/gen/orchestrator/v1/chat.js';
import { StreamStrategy } from '../../src/gen/orchestrator/v1/common.js';
import { UsageServiceClient } from '../../src/gen/orchestrator/v1/usage.js';
import { accessFile } from '../helpers/access-file.js';
import { callUnary, collectStream, streamRequest } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { eventually } from '../helpers/eventually.js';

/** A call the client gave up on was charged its attempts (stats, budgets): its ledger row says the same. */
const bearer = (key: string) => ({ metadata: { authorization: `Bearer ${key}` } });
const md = (key: string) => {
  const m = new grpc.Metadata();
  m.set('authorization', `Bearer ${key}`);
  return m;
};

async function statsCost(h: Harness): Promise<number> {
  const { response } = await callUnary(h.clients.stats.getStats.bind(h.clients.stats), {}, bearer('erin-secret'));
  return response.models.reduce((s, m) => s + m.costUsd, 0);
}

/** What the call was charged (GetStats' growth), and the ledger's totals once they include it. */
async function charged(h: Harness, before: number) {
  const after = await eventually(
    () => statsCost(h),
    (c) => c > before,
  );
  const usage = new UsageServiceClient(`127.0.0.1:${h.app.port}`, grpc.credentials.createInsecure());
  try {
    const row = await eventually(
      async () => {
        await h.app.ledger.store?.flush();
        return (await callUnary(usage.getUsage.bind(usage), { groupBy: [], pageSize: 0, pageToken: '' }, bearer('erin-secret'))).response
          .rows[0];
      },
      (r) => (r?.requests ?? 0) >= 1 && (r?.costUsd ?? 0) > 0,
    );
    return { charged: after - before, row };
  } finally {
    usage.close();
  }
}

async function listedCalls(h: Harness) {
  const usage = new UsageServiceClient(`127.0.0.1:${h.app.port}`, grpc.credentials.createInsecure());
  try {
    return (await callUnary(usage.listCalls.bind(usage), { requestId: '', pageSize: 10, pageToken: '' }, bearer('erin-secret'))).response
      .calls;
  } finally {
    usage.close();
  }
}

describe('the ledger row of a call the client gave up on', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('of a Chat it cancelled holds the cost its attempt was charged', async () => {
    h = await startHarness({ env: { CONFIG_FILE: accessFile(), LEDGER_FLUSH_MS: '20' } });
    const hh = h;
    hh.upstream.injectFault({ kind: 'delay', delayMs: 30_000, model: 'gpt-4o' });
    const before = await statsCost(hh);
    const sent = hh.upstream.requests.length;
    const call = hh.clients.chat.chat(
      { model: 'gpt-4o', prompt: 'a question never answered', messages: [] },
      md('erin-secret'),
      () => undefined,
    );
    await eventually(
      async () => hh.upstream.requests.length,
      (n) => n > sent,
    );
    call.cancel();
    const { charged: cost, row } = await charged(hh, before);
    expect(cost).toBeGreaterThan(0);
    expect(row).toMatchObject({ requests: 1, errorsByCode: { CANCELLED: 1 } });
    expect(row?.costUsd).toBeCloseTo(cost, 10);
  });

  it('of a stream it cancelled midway holds what the stream was charged', async () => {
    h = await startHarness({ env: { CONFIG_FILE: accessFile(), LEDGER_FLUSH_MS: '20' } });
    h.upstream.injectFault({ kind: 'slow', tokensPerSecond: 20, model: 'gpt-4o' });
    const before = await statsCost(h);
    const startedAt = performance.now();
    const call = h.clients.chat.streamChat(streamRequest({ model: 'gpt-4o', prompt: 'a slow answer please' }), md('erin-secret'));
    call.on('error', () => undefined);
    await new Promise<void>((resolve) => {
      let deltas = 0;
      call.on('data', (m: StreamChatResponse) => {
        if (m.event?.$case === 'delta' && ++deltas === 3) resolve();
      });
    });
    const firstTokenBy = performance.now() - startedAt;
    call.cancel();
    const { charged: cost, row } = await charged(h, before);
    expect(cost).toBeGreaterThan(0);
    expect(row?.requests).toBe(1);
    expect(row?.costUsd).toBeCloseTo(cost, 10);
    // Its client read tokens: the call had a time to first token, as a completed stream has.
    const [listed] = await listedCalls(h);
    expect(listed?.timeToFirstTokenMs).toBeGreaterThan(0);
    expect(listed?.timeToFirstTokenMs).toBeLessThan(firstTokenBy);
  });

  // The deadline travels as the grpc-timeout header alone, as from a client whose own timer fires
  // after the server's: grpc-js's timer then ends the call with DEADLINE_EXCEEDED by itself.
  const withTimeout = (ms: number) => {
    const m = md('erin-secret');
    m.set('grpc-timeout', `${ms}m`);
    return m;
  };

  it('of a stream whose deadline passed midway holds what the stream was charged', async () => {
    h = await startHarness({ env: { CONFIG_FILE: accessFile(), LEDGER_FLUSH_MS: '20' } });
    // At 2 tokens a second no simulated answer (12 words or more) ends within the 3 s deadline,
    // which still leaves a loaded machine ample time for the first delta.
    h.upstream.injectFault({ kind: 'slow', tokensPerSecond: 2, model: 'gpt-4o' });
    const before = await statsCost(h);
    const { messages, error } = await collectStream(
      h.clients.chat.streamChat(streamRequest({ model: 'gpt-4o', prompt: 'a slow answer please' }), withTimeout(3_000)),
    );
    expect(messages.some((m) => m.event?.$case === 'delta')).toBe(true);
    expect(error?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    const { charged: cost, row } = await charged(h, before);
    expect(cost).toBeGreaterThan(0);
    expect(row).toMatchObject({ requests: 1, errorsByCode: { DEADLINE_EXCEEDED: 1 } });
    expect(row?.costUsd).toBeCloseTo(cost, 10);
  });

  it('of a Chat whose deadline passed holds the cost its attempt was charged', async () => {
    h = await startHarness({ env: { CONFIG_FILE: accessFile(), LEDGER_FLUSH_MS: '20' } });
    // The deadline must outlast a fresh gateway's first call reaching upstream (that attempt is what is charged).
    h.upstream.injectFault({ kind: 'delay', delayMs: 30_000, model: 'gpt-4o' });
    const before = await statsCost(h);
    const failed = await new Promise<grpc.ServiceError | null>((resolve) =>
      h?.clients.chat.chat({ model: 'gpt-4o', prompt: 'a question never answered', messages: [] }, withTimeout(2_000), (err) =>
        resolve(err),
      ),
    );
    expect(failed?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    const { charged: cost, row } = await charged(h, before);
    expect(cost).toBeGreaterThan(0);
    expect(row).toMatchObject({ requests: 1, errorsByCode: { DEADLINE_EXCEEDED: 1 } });
    expect(row?.costUsd).toBeCloseTo(cost, 10);
  });
});

describe('the attempts of a Race the client gave up on', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  async function attemptsOf(hh: Harness, method: string) {
    const db = hh.app.ledger.database()?.db;
    if (!db) throw new Error('ledger not open');
    return eventually(
      async () => {
        await hh.app.ledger.store?.flush();
        return db
          .selectFrom('ledger_attempts')
          .innerJoin('ledger_calls', 'ledger_calls.id', 'ledger_attempts.call_id')
          .select([
            'ledger_calls.code as callCode',
            'ledger_attempts.model',
            'ledger_attempts.outcome',
            'ledger_attempts.raced',
            'ledger_attempts.lost',
          ])
          .where('ledger_calls.method', '=', method)
          .orderBy('ledger_attempts.seq')
          .execute();
      },
      (rows) => rows.length > 0,
    );
  }

  it('of a streamed Race cancelled midway: the racer that was streaming is not marked lost, the one it beat is', async () => {
    h = await startHarness({ env: { LEDGER_FLUSH_MS: '20' } });
    h.upstream.injectFault({ kind: 'slow', tokensPerSecond: 20 });
    const call = h.clients.chat.streamChat(
      streamRequest({ models: ['gpt-4o', 'gpt-4o-mini'], strategy: StreamStrategy.STREAM_STRATEGY_RACE, prompt: 'a slow race please' }),
    );
    call.on('error', () => undefined);
    const winner = await new Promise<string>((resolve) => {
      let deltas = 0;
      let model = '';
      call.on('data', (m: StreamChatResponse) => {
        if (m.event?.$case === 'started') model = m.event.started.model;
        if (m.event?.$case === 'delta' && ++deltas === 3) resolve(model);
      });
    });
    call.cancel();
    const rows = await attemptsOf(h, '/orchestrator.v1.ChatService/StreamChat');
    expect(rows.every((r) => r.callCode === 'CANCELLED' && r.raced)).toBe(true);
    expect(rows.filter((r) => r.model === winner).map((r) => [r.outcome, r.lost])).toEqual([['cancelled', 0]]);
    expect(rows.filter((r) => r.model !== winner).map((r) => r.lost)).toEqual([1]);
  });

  it('of a unary Race cancelled before any racer answered: no racer is marked lost (none won)', async () => {
    h = await startHarness({ env: { LEDGER_FLUSH_MS: '20' } });
    const hh = h;
    hh.upstream.injectFault({ kind: 'delay', delayMs: 30_000 });
    const sent = hh.upstream.requests.length;
    const call = hh.clients.chat.race(
      { model: '', models: ['gpt-4o', 'gpt-4o-mini'], prompt: 'a race never answered', messages: [] },
      new grpc.Metadata(),
      () => undefined,
    );
    await eventually(
      async () => hh.upstream.requests.length,
      (n) => n >= sent + 2,
    );
    call.cancel();
    const rows = await attemptsOf(hh, '/orchestrator.v1.ChatService/Race');
    expect(rows.map((r) => [r.callCode, r.outcome, r.raced, r.lost])).toEqual([
      ['CANCELLED', 'cancelled', 1, 0],
      ['CANCELLED', 'cancelled', 1, 0],
    ]);
  });
});
