import type * as grpc from '@grpc/grpc-js';
import type { Server as NetServer, Socket } from 'node:net';

/**
 * grpc-js has no option for the number of connections a server accepts, but every port it binds is
 * a Node HTTP/2 server, a net.Server, whose connections past the limit are closed as soon as they
 * are accepted (before HTTP/2 sees them, as grpc-js drops connections itself). Not with the
 * server's `maxConnections`: in a cluster worker (WORKERS > 1) that hands the connection back to
 * the primary, which offers it to the next worker, and when all are at their cap it goes round
 * them for good, never served nor closed, and keeps the processes busy. grpc-js keeps those
 * servers in a private Map (`http2Servers`, checked against grpc-js 1.14); if a later grpc-js
 * moves it, start-up fails here rather than the limit quietly disappearing.
 */
export function capConnections(server: grpc.Server, max: number): void {
  if (max <= 0) return;
  const servers = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(servers instanceof Map) || servers.size === 0) {
    throw new Error(
      'GRPC_MAX_CONNECTIONS cannot be applied: this grpc-js version does not keep its bound HTTP/2 servers ' +
        'where expected (grpc.Server#http2Servers). Set GRPC_MAX_CONNECTIONS=0 to start without the limit.',
    );
  }
  for (const bound of servers.keys()) {
    if (!isNetServer(bound)) {
      throw new Error(
        'GRPC_MAX_CONNECTIONS cannot be applied: a bound grpc-js port is not a net.Server. ' +
          'Set GRPC_MAX_CONNECTIONS=0 to start without the limit.',
      );
    }
    let open = 0;
    bound.prependListener('connection', (socket: Socket) => {
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
}

function isNetServer(value: unknown): value is NetServer {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { listen?: unknown }).listen === 'function' &&
    typeof (value as { getConnections?: unknown }).getConnections === 'function'
  );
}
