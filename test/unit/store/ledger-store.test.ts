import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { LedgerStore } from '../../../src/store/ledger-store.js';
import type { CallRecord } from '../../../src/store/records.js';

function record(id: string): CallRecord {
  return {
    id,
    ts: Date.now(),
    requestId: id,
    method: '/orchestrator.v1.ChatService/Chat',
    protocol: 'grpc',
    keyName: undefined,
    requestedModel: 'gpt-4o-mini',
    model: 'gpt-4o-mini',
    provider: 'openai',
    outcome: 'success',
    code: 'OK',
    reason: undefined,
    usage: { promptTokens: 1, completionTokens: 2, totalTokens: 3 },
    usageEstimated: false,
    costUsd: 0.001,
    costSavedUsd: 0,
    latencyMs: 5,
    ttftMs: undefined,
    fallbackTriggered: false,
    defaultMessage: false,
    cacheHit: false,
    cacheStale: false,
    promptSha256: undefined,
    prompt: undefined,
    answer: undefined,
    attempts: [],
    decision: undefined,
  };
}

describe('the ledger queue', () => {
  it('writes full batches at once: more calls per second than batchSize per flushMs are all recorded, none dropped', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'llmo-ledger-')), 'ledger.db');
    // One batch per minute by the timer alone: 2,000 calls in about a second would overflow the
    // 500-record queue unless full batches are written without waiting for it.
    const store = new LedgerStore({
      target: { kind: 'sqlite', file },
      log: pino({ level: 'silent' }),
      maxQueue: 500,
      flushMs: 60_000,
      batchSize: 100,
    });
    await store.start();
    try {
      for (let i = 0; i < 20; i += 1) {
        for (let j = 0; j < 100; j += 1) store.recordCall(record(`c-${i}-${j}`));
        await new Promise((r) => setTimeout(r, 50));
      }
      await expect.poll(() => store.written, { timeout: 5_000 }).toBe(2_000);
      expect(store.dropped).toBe(0);
      const rows = await store.db?.db
        .selectFrom('ledger_calls')
        .select(({ fn }) => fn.countAll<number>().as('n'))
        .executeTakeFirst();
      expect(Number(rows?.n)).toBe(2_000);
    } finally {
      await store.close(1_000);
    }
  });

  it('a record that does not fill a batch waits at most flushMs', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'llmo-ledger-')), 'ledger.db');
    const store = new LedgerStore({
      target: { kind: 'sqlite', file },
      log: pino({ level: 'silent' }),
      maxQueue: 500,
      flushMs: 200,
      batchSize: 100,
    });
    await store.start();
    try {
      store.recordCall(record('alone'));
      await new Promise((r) => setTimeout(r, 50));
      expect(store.written).toBe(0);
      await expect.poll(() => store.written, { timeout: 2_000 }).toBe(1);
    } finally {
      await store.close(1_000);
    }
  });
});
