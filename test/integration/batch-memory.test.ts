import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatchItem, BatchResponse } from '../../src/gen/orchestrator/v1/chat.js';
import { startHarness, type Harness } from '../helpers/harness.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Words of each answer: about 100 KB of text an item, 4 MB over the batch. */
const TOKENS = 15_000;
const LONG_ITEMS = 40;

let h: Harness;
beforeAll(async () => {
  // LEDGER_CONTENT is left at none: the call's record keeps no answer text.
  h = await startHarness({ answerLength: { min: TOKENS, max: TOKENS } });
});
afterAll(async () => h?.close());

function heapUsed(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

describe('a Batch whose items were read', () => {
  it('does not keep the text of the answers its client has taken until the Batch ends', { timeout: 120_000 }, async () => {
    // The first item hangs upstream, so the Batch stays open once every other item is read.
    h.upstream.injectFault({ kind: 'hang', times: 1, model: 'gpt-4o' });
    const items: BatchItem[] = [
      { requestId: 'held', request: { model: 'gpt-4o', messages: [], prompt: 'hold the batch open' } },
      ...Array.from({ length: LONG_ITEMS }, (_, i) => ({
        requestId: `long-${i}`,
        request: { model: 'gpt-4o-mini', messages: [], prompt: `a long answer ${i}`, maxTokens: TOKENS },
      })),
    ];
    const call = h.clients.chat.batch({ items, concurrency: 4 }, new grpc.Metadata(), { deadline: Date.now() + 110_000 });
    const ended = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    call.on('error', () => undefined);
    let answered = 0;
    let chars = 0;
    call.on('data', (m: BatchResponse) => {
      if (m.event?.$case !== 'item' || m.event.item.outcome?.$case !== 'response') return;
      answered += 1;
      chars += m.event.item.outcome.response.content.length;
    });
    for (let waited = 0; waited < 100_000 && answered < LONG_ITEMS; waited += 50) await new Promise((r) => setTimeout(r, 50));
    expect(answered).toBe(LONG_ITEMS);
    expect(chars).toBeGreaterThan(3 * 1024 * 1024);

    const during = heapUsed();
    call.cancel();
    expect((await ended).code).toBe(grpc.status.CANCELLED);
    // The server ends the call once the hanging item is let go.
    await new Promise((r) => setTimeout(r, 500));
    const after = heapUsed();
    // What the open Batch held beyond what is left once it is over: not its answers' 4 MB.
    expect(during - after).toBeLessThan(1024 * 1024);
  });
});
