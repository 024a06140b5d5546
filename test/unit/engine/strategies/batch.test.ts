import { describe, expect, it } from 'vitest';
import { circuitOpen } from '../../../../src/domain/call-errors.js';
import type { AttemptRecord } from '../../../../src/domain/chat.js';
import type { Answer } from '../../../../src/engine/answer.js';
import { BatchSlots } from '../../../../src/engine/resilience/batch-slots.js';
import { runBatch, type BatchWork } from '../../../../src/engine/strategies/batch.js';
import { context } from '../../../helpers/engine-fixture.js';

const answer: Answer = {
  content: 'ok',
  model: 'm',
  provider: 'p',
  finishReason: 'stop',
  usage: { promptTokens: 1, completionTokens: 1, totalTokens: 2, cachedTokens: 0 },
  costUsd: 0.001,
  latencyMs: 1,
  attempts: [],
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('runBatch with a reader that stops', () => {
  for (const concurrency of [1, 2, 4, 8]) {
    it(`holds at most ${concurrency} results for it, counting the items still running`, async () => {
      let started = 0;
      const items: BatchWork[] = Array.from({ length: 100 }, (_, index) => ({
        index,
        requestId: `${index}`,
        error: undefined,
        run: async () => {
          started += 1;
          await sleep(1 + (index % 3));
          return answer;
        },
      }));
      const batch = runBatch(items, { concurrency, global: new BatchSlots(100) }, context());
      await batch.next();
      await sleep(150);
      // The result taken, and no more than `concurrency` waiting for the reader.
      expect(started).toBe(1 + concurrency);
      await batch.next();
      await sleep(150);
      expect(started).toBe(2 + concurrency);
      await batch.return(undefined);
    });
  }
});

describe('runBatch with a reader that keeps up', () => {
  it('runs `concurrency` items at a time', async () => {
    let running = 0;
    let most = 0;
    const items: BatchWork[] = Array.from({ length: 40 }, (_, index) => ({
      index,
      requestId: `${index}`,
      error: undefined,
      run: async () => {
        running += 1;
        most = Math.max(most, running);
        await sleep(2 + (index % 3));
        running -= 1;
        return answer;
      },
    }));
    const events = [];
    for await (const event of runBatch(items, { concurrency: 4, global: new BatchSlots(100) }, context())) events.push(event);
    expect(most).toBe(4);
    expect(
      events
        .filter((e) => e.type === 'item')
        .map((e) => (e.type === 'item' ? e.index : -1))
        .sort((a, b) => a - b),
    ).toEqual(items.map((item) => item.index));
  });
});

describe('runBatch summary', () => {
  it('averages the latency over the items that called upstream, not those whose every model was skipped', async () => {
    const skipped = circuitOpen('m', undefined);
    const attempt: AttemptRecord = {
      model: 'm',
      provider: 'p',
      outcome: 'skipped',
      error: skipped,
      latencyMs: 0,
      usage: { promptTokens: 0, completionTokens: 0, totalTokens: 0, cachedTokens: 0 },
      costUsd: 0,
      retry: 0,
      backoffMs: 0,
    };
    const items: BatchWork[] = [
      {
        index: 0,
        requestId: 'slow',
        error: undefined,
        run: async () => {
          await sleep(200);
          return answer;
        },
      },
      { index: 1, requestId: 'open', error: undefined, run: async () => Promise.reject(skipped.withAttempts([attempt])) },
      { index: 2, requestId: 'open-too', error: undefined, run: async () => Promise.reject(skipped.withAttempts([attempt])) },
    ];
    const events = [];
    for await (const event of runBatch(items, { concurrency: 3, global: new BatchSlots(100) }, context())) events.push(event);
    const summary = events.at(-1);
    if (summary?.type !== 'summary') throw new Error('no summary last');
    expect(summary).toMatchObject({ total: 3, successful: 1, failed: 2 });
    expect(summary.averageLatencyMs).toBeGreaterThanOrEqual(190);
  });
});
