import { readFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local HTTP server on port 0 standing in for an outside catalog source. Each path answers what
 * the test set last (a fixture file, a status, headers, or no answer at all); requests are recorded.
 */
export interface Route {
  status?: number;
  body?: string;
  headers?: Record<string, string>;
  /** Never answer (a source that hangs). */
  hang?: boolean;
  /** Answer once this settles (a slow source the test lets go of). */
  hold?: Promise<unknown>;
  /** Send the status, headers and body, then keep the answer open (a body that never finishes). */
  stall?: boolean;
  /** Answer this long after each request arrives (a slow source that does answer). */
  delayMs?: number;
}

export interface SourceRequest {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** When it arrived and when its answer was sent (Date.now()), for overlap checks. */
  startedAt: number;
  endedAt?: number;
}

export interface SourceServer {
  readonly url: string;
  readonly requests: SourceRequest[];
  set(path: string, route: Route): void;
  close(): Promise<void>;
}

export const FIXTURES = 'test/fixtures/catalog-sync';

export function fixture(name: string): string {
  return readFileSync(`${FIXTURES}/${name}`, 'utf8');
}

export async function startSourceServer(): Promise<SourceServer> {
  const routes = new Map<string, Route>();
  const requests: SourceServer['requests'] = [];
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] as string;
    const record: SourceRequest = { path, headers: req.headers, startedAt: Date.now() };
    requests.push(record);
    res.on('finish', () => {
      record.endedAt = Date.now();
    });
    const route = routes.get(path);
    if (!route) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"Not Found"}');
      return;
    }
    if (route.hang) return;
    const answer = () => {
      res.writeHead(route.status ?? 200, { 'content-type': 'application/json', ...route.headers });
      if (route.stall) res.write(route.body ?? '');
      else res.end(route.body ?? '');
    };
    if (route.hold) void route.hold.then(answer, answer);
    else if (route.delayMs !== undefined) {
      const timer = setTimeout(answer, route.delayMs);
      res.on('close', () => clearTimeout(timer));
    } else answer();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    set: (path, route) => routes.set(path, route),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
