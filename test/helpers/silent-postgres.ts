import { once } from 'node:events';
import { type AddressInfo, createServer, type Socket } from 'node:net';

/**
 * A PostgreSQL server that lets every client in (trust authentication, ready for queries) and then
 * never answers a query: a database whose connections stay open while it answers nothing (stopped
 * in a debugger, its disk hung, a network that drops packets one way).
 */
export interface SilentPostgres {
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  readonly url: string;
  close(): Promise<void>;
}

export async function startSilentPostgres(): Promise<SilentPostgres> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let started = false;
    socket.on('data', () => {
      if (started) return;
      started = true;
      // AuthenticationOk, then ReadyForQuery (idle).
      const ok = Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 0]);
      const ready = Buffer.from([0x5a, 0, 0, 0, 5, 0x49]);
      socket.write(Buffer.concat([ok, ready]));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
