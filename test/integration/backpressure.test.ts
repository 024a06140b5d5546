import * as grpc from '@grpc/grpc-js';
import { streamRequest } from '../helpers/grpc-client.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamChatResponse } from '../../src/gen/orchestrator/v1/chat.js';
import { startHarness, type Harness } from '../helpers/harness.js';

const TOKENS = 60_000;

let h: Harness;
beforeAll(async () => {
  // Long answers, streamed as fast as the sockets allow: far more than every buffer between
  // the simulator and the client can hold.
  h = await startHarness({ answerLength: { min: TOKENS, max: TOKENS } });
});
afterAll(async () => h.close());

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const sent = (): number => h.upstream.requests.at(-1)?.tokensSent ?? 0;

/**
 * Waits until every buffer between the paused client and the upstream is full: the upstream's
 * tokensSent has not moved for 10 checks 200 ms apart (the gateway's handler is then waiting for
 * 'drain'). Two seconds, not less: on a loaded machine the gateway can be starved of CPU for
 * most of a second, which a shorter window would take for a stall. Returns the tokens sent by then.
 */
async function untilUpstreamStalls(): Promise<number> {
  let last = -1;
  let unchanged = 0;
  for (let waited = 0; waited < 20_000 && unchanged < 10; waited += 200) {
    const now = sent();
    unchanged = now === last ? unchanged + 1 : 0;
    last = now;
    await sleep(200);
  }
  return sent();
}

/** Resolves once the first delta has arrived on the call. */
function firstDelta(call: grpc.ClientReadableStream<StreamChatResponse>): Promise<void> {
  return new Promise((resolve) => {
    const onData = (m: StreamChatResponse): void => {
      if (m.event?.$case !== 'delta') return;
      call.off('data', onData);
      resolve();
    };
    call.on('data', onData);
  });
}

describe('StreamChat backpressure', () => {
  // About 15 s on an idle machine: some 30,000 tokens fill the buffers (most of it the loopback
  // sockets'), and all 60,000 then go through one process, client and gateway alike. A machine
  // busy with other tests can take four times that.
  it('stops reading the upstream while the client does not read, and loses nothing', { timeout: 180_000 }, async () => {
    const call = h.clients.chat.streamChat(streamRequest({ model: 'o3', prompt: 'write a long essay', messages: [], maxTokens: TOKENS }));
    let deltas = 0;
    let text = '';
    let completed: StreamChatResponse | undefined;
    const ended = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    call.on('data', (m: StreamChatResponse) => {
      if (m.event?.$case === 'delta') {
        deltas += 1;
        text += m.event.delta.content;
      }
      if (m.event?.$case === 'completed') completed = m;
    });
    await new Promise<void>((resolve) => {
      const check = (): void => (deltas > 0 ? resolve() : void setTimeout(check, 5));
      check();
    });
    call.pause();
    try {
      const sentWhilePaused = await untilUpstreamStalls();
      expect(h.upstream.requests.at(-1)?.outcome).toBe('open');
      expect(sentWhilePaused).toBeLessThan(TOKENS);
      await sleep(500);
      // Stalled, not merely slow: nothing more left the upstream while nobody read.
      expect(sent()).toBe(sentWhilePaused);
    } catch (err) {
      // Not left open for the next test, which counts the calls in flight.
      call.cancel();
      throw err;
    }

    call.resume();
    const status = await ended;
    expect(status.code).toBe(grpc.status.OK);
    expect(deltas).toBe(TOKENS);
    expect(text.split(' ').filter(Boolean)).toHaveLength(TOKENS);
    expect(completed?.event?.$case === 'completed' && completed.event.completed.usage?.completionTokens).toBe(TOKENS);
    expect(h.upstream.requests.at(-1)?.outcome).toBe('completed');
  });

  it('a cancel while the handler waits for drain closes the upstream request and leaves no call in flight', {
    timeout: 60_000,
  }, async () => {
    const call = h.clients.chat.streamChat(streamRequest({ model: 'o3', prompt: 'another long essay', messages: [], maxTokens: TOKENS }));
    const ended = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    call.on('error', () => undefined); // the CANCELLED error is expected
    await firstDelta(call);
    call.pause();
    const sentWhilePaused = await untilUpstreamStalls();
    const request = h.upstream.requests.at(-1);
    expect(request?.outcome).toBe('open');
    expect(sentWhilePaused).toBeLessThan(TOKENS);
    expect(h.app.server.lifecycle.active).toBe(1);

    // 'drain' will never come now: the handler must notice the cancel instead.
    call.cancel();
    expect((await ended).code).toBe(grpc.status.CANCELLED);
    for (let waited = 0; waited < 5_000 && (request?.outcome === 'open' || h.app.server.lifecycle.active > 0); waited += 50)
      await sleep(50);
    expect(request?.outcome).toBe('client_closed');
    expect(request?.tokensSent).toBeLessThan(TOKENS);
    expect(h.app.server.lifecycle.active).toBe(0);
    expect(h.upstream.openRequests()).toBe(0);
  });
});
