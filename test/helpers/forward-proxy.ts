import { once } from 'node:events';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';

/**
 * A forward HTTP proxy as companies run them: `CONNECT host:port` tunnels and absolute-form
 * requests (`GET http://host/path`). Names are resolved by the proxy alone, through `hosts` (a
 * name the gateway's own resolver cannot find reaches its upstream only through here).
 * `connectPorts` refuses tunnels to other ports with 403, as Squid's default configuration does
 * for every port but 443 (`http_access deny CONNECT !SSL_ports`).
 */
export interface ForwardProxy {
  readonly url: string;
  /** `CONNECT` targets and absolute-form request URLs, in order, with the credentials each carried. */
  readonly seen: { readonly target: string; readonly auth: string | undefined }[];
  /** Client connections accepted since start. */
  connections(): number;
  close(): Promise<void>;
}

export async function startForwardProxy(
  options: { readonly hosts?: Readonly<Record<string, string>>; readonly auth?: string; readonly connectPorts?: readonly number[] } = {},
): Promise<ForwardProxy> {
  const seen: { target: string; auth: string | undefined }[] = [];
  const hosts = options.hosts ?? {};
  const resolve = (host: string) => hosts[host] ?? host;
  const allowed = (req: IncomingMessage) =>
    options.auth === undefined || req.headers['proxy-authorization'] === `Basic ${Buffer.from(options.auth).toString('base64')}`;
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((req, res) => {
    seen.push({ target: req.url ?? '', auth: req.headers['proxy-authorization'] });
    if (!allowed(req)) {
      res.writeHead(407, { 'proxy-authenticate': 'Basic' }).end();
      return;
    }
    const target = new URL(req.url ?? '');
    const headers = { ...req.headers };
    delete headers['proxy-authorization'];
    delete headers['proxy-connection'];
    delete headers.connection;
    const out = httpRequest(
      // A connection of its own per request: what reaches the upstream ends with the client's request.
      {
        host: resolve(target.hostname),
        port: target.port,
        path: target.pathname + target.search,
        method: req.method,
        headers,
        agent: false,
      },
      (answer) => {
        // Hop-by-hop: the upstream's connection closing is not the client's, whose connection stays open as a proxy's does.
        const { connection: _connection, 'keep-alive': _keepAlive, ...answerHeaders } = answer.headers;
        res.writeHead(answer.statusCode ?? 502, answerHeaders);
        answer.pipe(res);
      },
    );
    out.on('error', () => res.destroy());
    res.on('close', () => out.destroy());
    req.pipe(out);
  });
  server.on('connection', (s: Socket) => {
    accepted += 1;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    seen.push({ target: req.url ?? '', auth: req.headers['proxy-authorization'] });
    if (!allowed(req)) {
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n');
      return;
    }
    const [host = '', port = '443'] = (req.url ?? '').split(/:(?=\d+$)/);
    if (options.connectPorts && !options.connectPorts.includes(Number(port))) {
      client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    const upstream = connect(Number(port), resolve(host), () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    connections: () => accepted,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((done) => server.close(() => done()));
    },
  };
}
