import { readdirSync } from 'node:fs';
import { connect as connectHttp2 } from 'node:http2';
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeStatusDetails } from '../../src/cli/status-details.js';
import { callUnary, clientsFor, type Clients } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';

/**
 * GRPC_MAX_CONNECTION_AGE_MS on a real server: the server ends each connection (GOAWAY) once
 * it is that old, and the client opens a new one for its next call. A TCP relay between
 * client and server counts the connections and sees which end closed them.
 */
interface Relay {
  port: number;
  /** One entry per client connection; serverEnded once the server has ended (FIN) its side. */
  connections: { serverEnded: boolean }[];
  close(): Promise<void>;
}

async function startRelay(targetPort: number): Promise<Relay> {
  const connections: Relay['connections'] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const record = { serverEnded: false };
    connections.push(record);
    const upstream = connect(targetPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => s.destroy());
      s.on('close', () => sockets.delete(s));
    }
    upstream.on('end', () => (record.serverEnded = true));
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    connections,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

const AGE_MS = 300;

let h: Harness;
let relay: Relay;
let clients: Clients;
beforeAll(async () => {
  h = await startHarness({ env: { GRPC_MAX_CONNECTION_AGE_MS: String(AGE_MS), GRPC_MAX_CONNECTION_AGE_GRACE_MS: '5000' } });
  relay = await startRelay(h.app.port);
  clients = clientsFor(relay.port);
});
afterAll(async () => {
  clients?.close();
  await relay?.close();
  await h?.close();
});

describe('GRPC_MAX_CONNECTION_AGE_MS', () => {
  it('closes old connections from the server side while every call still succeeds', async () => {
    const chat = clients.chat.chat.bind(clients.chat);
    const deadline = Date.now() + 15_000;
    let calls = 0;
    // Keep calling, a little apart, until the server has ended the first connection and a
    // call went through a second one (at least a few age periods on a busy machine).
    while (Date.now() < deadline && (relay.connections.length < 2 || !relay.connections[0]?.serverEnded || calls < 5)) {
      const { response } = await callUnary(chat, { model: 'gpt-4o-mini', prompt: `call ${calls}`, messages: [] });
      expect(response.model).toBe('gpt-4o-mini');
      calls += 1;
      await new Promise((r) => setTimeout(r, AGE_MS / 3));
    }
    expect(relay.connections.length).toBeGreaterThanOrEqual(2);
    expect(relay.connections[0]?.serverEnded).toBe(true);
    // The last call needed no reconnect of its own to succeed: the client follows GOAWAY.
    const { response } = await callUnary(chat, { model: 'gpt-4o-mini', prompt: 'after', messages: [] });
    expect(response.content.length).toBeGreaterThan(0);
  }, 30_000);

  it('keeps connections without it (the default): one connection for many calls', async () => {
    const plain = await startHarness();
    const plainRelay = await startRelay(plain.app.port);
    const plainClients = clientsFor(plainRelay.port);
    try {
      for (let i = 0; i < 4; i += 1) {
        await callUnary(plainClients.chat.chat.bind(plainClients.chat), { model: 'gpt-4o-mini', prompt: `call ${i}`, messages: [] });
        await new Promise((r) => setTimeout(r, AGE_MS / 2));
      }
      expect(plainRelay.connections).toEqual([{ serverEnded: false }]);
    } finally {
      plainClients.close();
      await plainRelay.close();
      await plain.close();
    }
  }, 30_000);
});

describe('connection limits', () => {
  it('GRPC_MAX_CONNECTION_IDLE_MS closes a connection with no call open', async () => {
    const idle = await startHarness({ env: { GRPC_MAX_CONNECTION_IDLE_MS: '300' } });
    const idleRelay = await startRelay(idle.app.port);
    const idleClients = clientsFor(idleRelay.port);
    try {
      await callUnary(idleClients.chat.chat.bind(idleClients.chat), { model: 'gpt-4o-mini', prompt: 'once', messages: [] });
      const until = Date.now() + 10_000;
      while (!idleRelay.connections[0]?.serverEnded && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      expect(idleRelay.connections).toEqual([{ serverEnded: true }]);
      // The client simply connects again for its next call.
      const { response } = await callUnary(idleClients.chat.chat.bind(idleClients.chat), {
        model: 'gpt-4o-mini',
        prompt: 'again',
        messages: [],
      });
      expect(response.content.length).toBeGreaterThan(0);
      expect(idleRelay.connections).toHaveLength(2);
    } finally {
      idleClients.close();
      await idleRelay.close();
      await idle.close();
    }
  }, 30_000);

  it('GRPC_MAX_CONCURRENT_STREAMS holds a connection to that many open calls; the next waits for a free one', async () => {
    const capped = await startHarness({ env: { GRPC_MAX_CONCURRENT_STREAMS: '2' } });
    const cappedClients = clientsFor(capped.app.port);
    const watches = [0, 1, 2].map(() => cappedClients.stats.watchStats({ intervalMs: 100 }));
    const firstMessageAt = watches.map((w) => new Promise<number>((resolve) => w.once('data', () => resolve(Date.now()))));
    for (const w of watches) w.on('error', () => undefined);
    try {
      const started = Date.now();
      const [a, b] = await Promise.all(firstMessageAt.slice(0, 2));
      const third = await Promise.race([firstMessageAt[2], new Promise<'waiting'>((r) => setTimeout(() => r('waiting'), 1_000))]);
      expect(third).toBe('waiting');
      expect(Math.max(a ?? 0, b ?? 0) - started).toBeLessThan(5_000);
      watches[0]?.cancel();
      // A stream slot is free: the waiting call starts.
      expect(await firstMessageAt[2]).toBeGreaterThan(0);
    } finally {
      for (const w of watches) w.cancel();
      cappedClients.close();
      await capped.close();
    }
  }, 30_000);
});

describe('connection churn', () => {
  const openFds = (): number => readdirSync('/proc/self/fd').length;

  it('returns the file descriptor count to its baseline after many connect/disconnect cycles', async () => {
    const churn = await startHarness();
    try {
      // One call first, so what the server opens once (its upstream connection) is in the baseline.
      const warm = clientsFor(churn.app.port);
      await callUnary(warm.chat.chat.bind(warm.chat), { model: 'gpt-4o-mini', prompt: 'warm', messages: [] });
      warm.close();
      await new Promise((r) => setTimeout(r, 200));
      const baseline = openFds();
      for (let round = 0; round < 10; round += 1) {
        await Promise.all(
          Array.from(
            { length: 30 },
            () =>
              new Promise<void>((resolve) => {
                // The HTTP/2 preface and nothing else, then gone: what a flapping client does.
                const socket = connect(churn.app.port, '127.0.0.1', () => {
                  socket.end('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
                  socket.destroy();
                });
                socket.on('error', () => undefined);
                socket.on('close', () => resolve());
              }),
          ),
        );
      }
      const until = Date.now() + 10_000;
      while (openFds() > baseline + 5 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
      expect(openFds()).toBeLessThanOrEqual(baseline + 5);
    } finally {
      await churn.close();
    }
  }, 60_000);
});

describe('GRPC_REQUEST_MESSAGE_TIMEOUT_MS', () => {
  it('ends a call whose headers came without a request message, and still serves whole calls', async () => {
    const limited = await startHarness({ env: { GRPC_REQUEST_MESSAGE_TIMEOUT_MS: '300' } });
    const session = connectHttp2(`http://127.0.0.1:${limited.app.port}`);
    session.on('error', () => undefined);
    try {
      const started = Date.now();
      // Headers only: the stream stays open, the request message never comes.
      const stream = session.request(
        { ':method': 'POST', ':path': '/orchestrator.v1.ChatService/Chat', 'content-type': 'application/grpc', te: 'trailers' },
        { endStream: false },
      );
      stream.on('error', () => undefined);
      let details: unknown;
      const status = await new Promise<string | undefined>((resolve) => {
        // The status arrives while our side of the stream is still open.
        const take = (headers: Record<string, unknown>) => {
          if (headers['grpc-status'] === undefined) return;
          details = headers['grpc-status-details-bin'];
          resolve(String(headers['grpc-status']));
        };
        stream.on('response', take);
        stream.on('trailers', take);
        setTimeout(() => resolve('still open'), 10_000);
      });
      expect(status).toBe(String(4)); // DEADLINE_EXCEEDED
      // Like every status of ours, it says why in an ErrorInfo.
      const trailers = new grpc.Metadata();
      if (typeof details === 'string') trailers.set('grpc-status-details-bin', Buffer.from(details, 'base64'));
      expect(decodeStatusDetails(trailers).errorInfo?.reason).toBe('DEADLINE_EXCEEDED');
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
      const { response } = await callUnary(limited.clients.chat.chat.bind(limited.clients.chat), {
        model: 'gpt-4o-mini',
        prompt: 'whole',
        messages: [],
      });
      expect(response.content.length).toBeGreaterThan(0);
    } finally {
      session.destroy();
      await limited.close();
    }
  }, 30_000);

  it('ends a unary call whose request message came but whose request never ended, yet leaves an open reflection stream alone', async () => {
    const limited = await startHarness({ env: { GRPC_REQUEST_MESSAGE_TIMEOUT_MS: '300' } });
    const session = connectHttp2(`http://127.0.0.1:${limited.app.port}`);
    session.on('error', () => undefined);
    const statusOf = (stream: ReturnType<typeof session.request>, waitMs: number) =>
      new Promise<string>((resolve) => {
        const take = (headers: Record<string, unknown>) => {
          if (headers['grpc-status'] !== undefined) resolve(String(headers['grpc-status']));
        };
        stream.on('response', take);
        stream.on('trailers', take);
        setTimeout(() => resolve('still open'), waitMs);
      });
    try {
      // A whole HealthCheckRequest (empty), but no END_STREAM: grpc-js runs a unary handler only
      // once the request ends, so without a limit this stream would hold its slot forever.
      const unary = session.request(
        { ':method': 'POST', ':path': '/grpc.health.v1.Health/Check', 'content-type': 'application/grpc', te: 'trailers' },
        { endStream: false },
      );
      unary.on('error', () => undefined);
      unary.write(Buffer.alloc(5));
      // A reflection stream asks, reads its answer and keeps its side open past the limit, as
      // grpcurl does: the limit is about a request that never comes, not a long conversation.
      const reflection = session.request(
        {
          ':method': 'POST',
          ':path': '/grpc.reflection.v1.ServerReflection/ServerReflectionInfo',
          'content-type': 'application/grpc',
          te: 'trailers',
        },
        { endStream: false },
      );
      reflection.on('error', () => undefined);
      // ServerReflectionRequest { list_services = "" } (field 7).
      reflection.write(Buffer.from([0, 0, 0, 0, 2, 0x3a, 0]));
      const [unaryStatus, reflectionStatus] = await Promise.all([statusOf(unary, 10_000), statusOf(reflection, 1_500)]);
      expect(unaryStatus).toBe(String(4)); // DEADLINE_EXCEEDED
      expect(reflectionStatus).toBe('still open');
    } finally {
      session.destroy();
      await limited.close();
    }
  }, 30_000);
});
