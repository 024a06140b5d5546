import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { listenError } from '../config/listen-error.js';

/** What the endpoint serves (Metrics.exposition). */
export interface MetricsSource {
  exposition(): Promise<{ readonly contentType: string; readonly body: string }>;
}

export interface MetricsServer {
  readonly port: number;
  /** `http://host:port/metrics` */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * `GET /metrics` on its own port (METRICS_PORT, default 9464, the port OpenTelemetry's
 * Prometheus exporter uses; 0 picks a free one), so scraping never competes with gRPC
 * traffic and can be kept off public interfaces.
 */
export function startMetricsServer(
  source: MetricsSource,
  options: { readonly host: string; readonly port: number; readonly hostSetting?: string },
): Promise<MetricsServer> {
  const server = createServer((req, res) => {
    handle(source, req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('metrics collection failed\n');
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', (err) =>
      reject(
        listenError(err, {
          host: options.host,
          port: options.port,
          what: 'metrics port',
          portSetting: 'METRICS_PORT',
          hostSetting: options.hostSetting ?? 'METRICS_HOST',
          orElse: 'METRICS=off',
        }),
      ),
    );
    server.listen(options.port, options.host, () => {
      server.removeAllListeners('error');
      const { port } = server.address() as AddressInfo;
      const host = options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host;
      resolve({
        port,
        url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/metrics`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}

async function handle(source: MetricsSource, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (path !== '/metrics') {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found: metrics are at /metrics\n');
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' });
    res.end('method not allowed\n');
    return;
  }
  const { contentType, body } = await source.exposition();
  res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
  res.end(req.method === 'HEAD' ? undefined : body);
}
