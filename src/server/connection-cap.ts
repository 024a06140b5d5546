import type * as grpc from '@grpc/grpc-js';
import type { Server as NetServer } from 'node:net';

/**
 * grpc-js has no option for the number of connections a server accepts, but every port it binds is
 * a Node HTTP/2 server, a net.Server whose `maxConnections` closes each connection past the limit
 * as soon as it is accepted. grpc-js keeps those servers in a private Map (`http2Servers`, checked
 * against grpc-js 1.14); if a later grpc-js moves it, start-up fails here rather than the limit
 * quietly disappearing.
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
    bound.maxConnections = max;
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
