import type { Server as NetServer, Socket } from 'node:net';

/**
 * Closes connections past `max` as soon as they are accepted, before the protocol on top sees
 * them; `0`: no limit. Not with the server's `maxConnections`: in a cluster worker (WORKERS > 1)
 * that hands the connection back to the primary, which offers it to the next worker, and when
 * all are at their cap it goes round them for good, never served nor closed, and keeps the
 * processes busy. Both doors cap their ports with it (GRPC_MAX_CONNECTIONS, HTTP_MAX_CONNECTIONS).
 */
export function capNetConnections(server: NetServer, max: number): void {
  if (max <= 0) return;
  let open = 0;
  server.prependListener('connection', (socket: Socket) => {
    if (open >= max) {
      socket.destroy();
      return;
    }
    open += 1;
    socket.once('close', () => {
      open -= 1;
    });
  });
}

export function isNetServer(value: unknown): value is NetServer {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { listen?: unknown }).listen === 'function' &&
    typeof (value as { getConnections?: unknown }).getConnections === 'function'
  );
}
