import type * as grpc from '@grpc/grpc-js';
import { capNetConnections, isNetServer } from '../domain/connection-cap.js';

/**
 * grpc-js has no option for the number of connections a server accepts, but every port it binds is
 * a Node HTTP/2 server, a net.Server, capped by capNetConnections (before HTTP/2 sees a connection
 * past the limit, as grpc-js drops connections itself). grpc-js keeps those servers in a private
 * Map (`http2Servers`, checked against grpc-js 1.14); if a later grpc-js moves it, start-up fails
 * here rather than the limit quietly disappearing.
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
    capNetConnections(bound, max);
  }
}
