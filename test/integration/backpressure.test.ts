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

describe('StreamChat backpressure', () => {
  it('stops reading the upstream while the client does not read, and loses nothing', async () => {
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
    // Let every buffer on the way fill up: wait until the upstream has stopped sending.
    const sent = () => h.upstream.requests.at(-1)?.tokensSent ?? 0;
    let last = -1;
    let unchanged = 0;
    for (let waited = 0; waited < 8_000 && unchanged < 4; waited += 200) {
      const now = sent();
      unchanged = now === last ? unchanged + 1 : 0;
      last = now;
      await new Promise((r) => setTimeout(r, 200));
    }
    const sentWhilePaused = sent();
    expect(h.upstream.requests.at(-1)?.outcome).toBe('open');
    expect(sentWhilePaused).toBeLessThan(TOKENS);
    await new Promise((r) => setTimeout(r, 500));
    // Stalled, not merely slow: nothing more left the upstream while nobody read.
    expect(sent()).toBe(sentWhilePaused);

    call.resume();
    const status = await ended;
    expect(status.code).toBe(grpc.status.OK);
    expect(deltas).toBe(TOKENS);
    expect(text.split(' ').filter(Boolean)).toHaveLength(TOKENS);
    expect(completed?.event?.$case === 'completed' && completed.event.completed.usage?.completionTokens).toBe(TOKENS);
    expect(h.upstream.requests.at(-1)?.outcome).toBe('completed');
  });
});
