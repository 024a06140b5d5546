import type * as grpc from '@grpc/grpc-js';
import { capNetConnections, isNetServer } from '../domain/connection-cap.js';
import { boundHttp2Servers } from './http2-servers.js';

/**
 * grpc-js has no option for the number of connections a server accepts, but every port it binds is
 * a Node HTTP/2 server, a net.Server, capped by capNetConnections (before HTTP/2 sees a connection
 * past the limit, as grpc-js drops connections itself).
 */
export function capConnections(server: grpc.Server, max: number): void {
  if (max <= 0) return;
  for (const bound of boundHttp2Servers(server, 'GRPC_MAX_CONNECTIONS', 'GRPC_MAX_CONNECTIONS=0')) {
    if (!isNetServer(bound)) {
      throw new Error(
        'GRPC_MAX_CONNECTIONS cannot be applied: a bound grpc-js port is not a net.Server. ' +
          'Set GRPC_MAX_CONNECTIONS=0 to start without the limit.',
      );
    }
    capNetConnections(bound, max);
  }
}
