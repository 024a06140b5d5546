import type * as grpc from '@grpc/grpc-js';
import { EventEmitter } from 'node:events';
import type { ServerHttp2Session } from 'node:http2';

/**
 * The Node HTTP/2 servers behind a grpc-js server's bound ports, for the limits grpc-js has no
 * option for. grpc-js keeps them in a private Map (`http2Servers`, checked against grpc-js 1.14);
 * if a later grpc-js moves it, start-up fails naming the setting (`setting`, turned off by
 * `off`) rather than the limit quietly disappearing.
 */
export function boundHttp2Servers(server: grpc.Server, setting: string, off: string): unknown[] {
  const servers = knownHttp2Servers(server);
  if (servers.length === 0) {
    throw new Error(
      `${setting} cannot be applied: this grpc-js version does not keep its bound HTTP/2 servers ` +
        `where expected (grpc.Server#http2Servers). Set ${off} to start without the limit.`,
    );
  }
  return servers;
}

/** The same servers, or none where grpc-js no longer keeps them there: for what can do without them. */
export function knownHttp2Servers(server: grpc.Server): unknown[] {
  const servers = (server as unknown as { http2Servers?: unknown }).http2Servers;
  return servers instanceof Map ? [...servers.keys()] : [];
}

/**
 * From now on every connection is told to go (HTTP/2 GOAWAY) once it has carried a call: those
 * open now at once, one opened later after its first call. Their calls go on to their end; the
 * client makes its next call over a new connection, which a balancer can send to another replica.
 * A gRPC client keeps one connection and retries over it: left open, it brought every retry of a
 * DRAINING refusal back here until the server closed. Called once calls are refused, not during the
 * drain delay: a cluster worker whose primary is gone is reached over the connections it has, and
 * over no new one. The sessions are where grpc-js keeps them
 * (checked against grpc-js 1.14); where it no longer does, connections close at the end as before.
 */
export function closeConnectionsAfterCalls(server: grpc.Server): void {
  const servers = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(servers instanceof Map)) return;
  for (const [bound, entry] of servers as Map<unknown, unknown>) {
    if (!(bound instanceof EventEmitter)) continue;
    const sessions = (entry as { sessions?: unknown } | undefined)?.sessions;
    if (sessions instanceof Set) for (const session of sessions as Set<ServerHttp2Session>) session.close();
    bound.on('session', (session: ServerHttp2Session) => session.once('stream', () => session.close()));
  }
}
