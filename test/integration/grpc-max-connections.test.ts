import * as grpc from '@grpc/grpc-js';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatServiceClient } from '../../src/gen/orchestrator/v1/chat.js';
import { capConnections } from '../../src/server/connection-cap.js';
import { callUnary } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';

/** GRPC_MAX_CONNECTIONS on a real server: connections past the cap are closed, and freed slots are reused. */
const request = { model: 'gpt-4o-mini', prompt: 'hello', messages: [] };

/** A client with a connection of its own (not shared through grpc-js's global subchannel pool). */
function ownClient(port: number, options: grpc.ChannelOptions = {}): ChatServiceClient {
  return new ChatServiceClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
    'grpc.use_local_subchannel_pool': 1,
    ...options,
  });
}

/** Resolves true if the server closes a plain TCP connection within `withinMs`, false if it stays open. */
function closedByServer(port: number, withinMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket: Socket = connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(false);
    }, withinMs);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
    // The HTTP/2 client preface and an empty SETTINGS frame: a server with a free slot answers and
    // keeps the connection.
    socket.on('connect', () =>
      socket.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])])),
    );
  });
}

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ env: { GRPC_MAX_CONNECTIONS: '2' } });
});
afterAll(async () => {
  await h?.close();
});

describe('GRPC_MAX_CONNECTIONS', () => {
  it('closes connections past the cap and accepts new ones once others leave', async () => {
    const first = ownClient(h.app.port);
    const second = ownClient(h.app.port);
    try {
      expect((await callUnary(first.chat.bind(first), request)).response.model).toBe('gpt-4o-mini');
      expect((await callUnary(second.chat.bind(second), request)).response.model).toBe('gpt-4o-mini');

      // Both connections stay open (no idle limit is near), so the server is at its cap.
      expect(await closedByServer(h.app.port, 2_000)).toBe(true);
      // Still at the cap: every further connection is refused, not only the first.
      expect(await closedByServer(h.app.port, 2_000)).toBe(true);
      // A gRPC client past the cap gets UNAVAILABLE. Its reconnect backoff is long so that, closed, it
      // cannot take a freed slot before the clients below.
      const third = ownClient(h.app.port, { 'grpc.initial_reconnect_backoff_ms': 60_000, 'grpc.max_reconnect_backoff_ms': 60_000 });
      const refused = await callUnary(third.chat.bind(third), request, { deadlineMs: 5_000 }).then(
        () => undefined,
        (err: grpc.ServiceError) => err,
      );
      third.close();
      expect(refused?.code).toBe(grpc.status.UNAVAILABLE);
    } finally {
      first.close();
      second.close();
    }

    // Once the two clients have gone, the server frees both slots: two new clients get through.
    const later = [ownClient(h.app.port), ownClient(h.app.port)];
    try {
      for (const client of later) {
        const deadline = Date.now() + 10_000;
        let answered = false;
        while (!answered && Date.now() < deadline) {
          answered = await callUnary(client.chat.bind(client), request, { deadlineMs: 2_000 }).then(
            ({ response }) => response.model === 'gpt-4o-mini',
            () => false,
          );
          if (!answered) await new Promise((r) => setTimeout(r, 100));
        }
        expect(answered).toBe(true);
      }
    } finally {
      for (const client of later) client.close();
    }
  });

  it('refuses to start when grpc-js no longer keeps its bound servers where the cap expects them', () => {
    const unbound = new grpc.Server();
    expect(() => capConnections(unbound, 10)).toThrow(/GRPC_MAX_CONNECTIONS cannot be applied/);
    expect(() => capConnections({} as grpc.Server, 10)).toThrow(/GRPC_MAX_CONNECTIONS cannot be applied/);
    // 0 turns the cap off: nothing to check.
    expect(() => capConnections(unbound, 0)).not.toThrow();
  });
});
