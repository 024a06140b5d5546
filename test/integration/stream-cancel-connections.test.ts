import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streamRequest, cancelAtFirstDelta } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';

/**
 * A cancelled StreamChat closes its upstream connection (an unfinished HTTP/1.1 response cannot
 * be reused) and opens no other: N cancels cost N upstream connections, not 2N.
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h.close());

describe('cancelled streams and upstream connections', () => {
  it('opens one upstream connection per cancelled stream, and leaves none open', async () => {
    h.upstream.injectFault({ kind: 'slow', tokensPerSecond: 20 });
    const before = h.upstream.connections().accepted;
    const cancels = 10;
    for (let i = 0; i < cancels; i++) {
      await cancelAtFirstDelta(h.clients.chat.streamChat(streamRequest({ model: 'gpt-4o', prompt: `cancel ${i}` })));
      await h.upstream.waitForIdle(2_000);
    }
    // Give a stray reconnect time to show up.
    await new Promise((r) => setTimeout(r, 200));
    expect(h.upstream.requests.slice(-cancels).map((r) => r.outcome)).toEqual(new Array(cancels).fill('client_closed'));
    expect(h.upstream.connections().accepted - before).toBe(cancels);
    expect(h.upstream.connections().open).toBe(0);
  });
});
