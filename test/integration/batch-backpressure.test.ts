import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatchItem, BatchResponse } from '../../src/gen/orchestrator/v1/chat.js';
import { startHarness, type Harness } from '../helpers/harness.js';

/** Tokens of each item's answer: one item's result is more than an HTTP/2 window holds. */
const TOKENS = 15_000;
const ITEMS = 60;
const CONCURRENCY = 2;

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ answerLength: { min: TOKENS, max: TOKENS } });
});
afterAll(async () => h.close());

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits until the upstream has seen no new request for 10 checks 200 ms apart; returns how many it saw. */
async function untilNoNewRequests(before: number): Promise<number> {
  let last = -1;
  let unchanged = 0;
  for (let waited = 0; waited < 30_000 && unchanged < 10; waited += 200) {
    const now = h.upstream.requests.length - before;
    unchanged = now === last ? unchanged + 1 : 0;
    last = now;
    await sleep(200);
  }
  return h.upstream.requests.length - before;
}

describe('Batch with a reader that stops reading', () => {
  it('starts no more items than it can hand on while the reader does not read, and loses nothing', { timeout: 120_000 }, async () => {
    const before = h.upstream.requests.length;
    const items: BatchItem[] = Array.from({ length: ITEMS }, (_, i) => ({
      requestId: `item-${i}`,
      request: { model: 'gpt-4o-mini', messages: [], prompt: `a long answer ${i}`, maxTokens: TOKENS },
    }));
    const call = h.clients.chat.batch({ items, concurrency: CONCURRENCY }, new grpc.Metadata(), { deadline: Date.now() + 110_000 });
    const received: BatchResponse[] = [];
    const ended = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    call.on('error', () => undefined);
    call.on('data', (m: BatchResponse) => received.push(m));
    await new Promise<void>((resolve) => {
      const check = (): void => (received.length > 0 ? resolve() : void setTimeout(check, 5));
      check();
    });
    call.pause();
    let started: number;
    try {
      started = await untilNoNewRequests(before);
    } catch (err) {
      call.cancel();
      throw err;
    }
    // What the transport holds (a window's worth and grpc-js's queue of 16 messages), the
    // results waiting for the reader and the items running: not the whole batch.
    expect(started).toBeLessThanOrEqual(16 + 4 * CONCURRENCY);

    call.resume();
    const status = await ended;
    expect(status.code).toBe(grpc.status.OK);
    const results = received.flatMap((m) => (m.event?.$case === 'item' ? [m.event.item] : []));
    expect(results.map((r) => r.index).sort((a, b) => a - b)).toEqual(items.map((_, i) => i));
    for (const r of results) expect(r.outcome?.$case).toBe('response');
    const summary = received.at(-1)?.event;
    expect(summary?.$case === 'summary' && summary.summary).toMatchObject({ total: ITEMS, successful: ITEMS, failed: 0 });
    expect(h.upstream.requests.length - before).toBe(ITEMS);
  });
});
