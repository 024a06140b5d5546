import { once } from 'node:events';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type LedgerDatabase, migrate } from '../../src/store/database.js';
import { faultyProxy } from '../helpers/faulty-proxy.js';
import { clientsFor, streamRequest } from '../helpers/grpc-client.js';
import { ended, type MainProcess, startMain } from '../helpers/main-process.js';
import { startPostgres, type PostgresProcess } from '../helpers/postgres.js';

let pg: PostgresProcess;
let direct: LedgerDatabase;
beforeAll(async () => {
  pg = await startPostgres();
  direct = connect({ kind: 'postgres', url: pg.url });
  await migrate(direct);
}, 90_000);
afterAll(async () => {
  await direct?.close();
  await pg?.destroy();
});

/** An OTLP collector that takes connections and never answers (its host hung, a one-way network). */
async function silentCollector(): Promise<{ endpoint: string; close(): void }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close() {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

describe('a stop cut at the grace period while the database and the OTLP collector do not answer', () => {
  it('exits 0 within DRAIN_DELAY_MS + SHUTDOWN_GRACE_MS + 5 s, not by its watchdog', async () => {
    const proxy = await faultyProxy(pg.port);
    const collector = await silentCollector();
    let main: MainProcess | undefined;
    try {
      main = await startMain(
        {
          LOG_LEVEL: 'info',
          SIMULATOR_LATENCY_SCALE: '4',
          SHUTDOWN_GRACE_MS: '1000',
          DATABASE_URL: `postgres://postgres@127.0.0.1:${proxy.port}/postgres`,
          OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint,
        },
        { timeoutMs: 30_000 },
      );
      const { child, lines, stderr } = main;
      const clients = clientsFor(main.port);
      try {
        proxy.freeze();
        // gpt-4-turbo slowed down 4x: still streaming when the grace period ends.
        const call = clients.chat.streamChat(streamRequest({ model: 'gpt-4-turbo', prompt: 'a long answer please' }));
        call.on('error', () => undefined);
        await once(call, 'data');
        const signalled = Date.now();
        child.kill('SIGTERM');
        const [code] = await ended(child);
        const took = Date.now() - signalled;
        expect({ code, stderr: stderr.join('') }).toEqual({ code: 0, stderr: '' });
        expect(took).toBeLessThan(1_000 + 5_000);
        expect(lines.find((l) => l['msg'] === 'ledger: records not written before shutdown')).toMatchObject({ records: 1 });
        expect(lines.some((l) => String(l['msg']).startsWith('OTLP collector did not take the last spans and metrics in time'))).toBe(true);
      } finally {
        clients.close();
      }
    } finally {
      if (main?.child.exitCode === null) main.child.kill('SIGKILL');
      proxy.close();
      collector.close();
    }
  }, 90_000);
});
