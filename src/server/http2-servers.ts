import type * as grpc from '@grpc/grpc-js';

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
