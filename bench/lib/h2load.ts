/**
 * h2load (nghttp2-client) as the load generator: C, cheap, HTTP/2 or HTTP/1.1. Installed with
 * apt when missing and running as root. h2load counts any HTTP 200 as a success, so a gRPC
 * error (HTTP 200 + grpc-status != 0) is invisible to it: the caller checks errors another way
 * (the gateway's GetStats deltas, which count by gRPC status code).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { procCpu } from './proc.js';
import { distribution, type Distribution } from './stats.js';

export function ensureH2load(log: (line: string) => void): string {
  const found = spawnSync('sh', ['-c', 'command -v h2load'], { encoding: 'utf8' }).stdout.trim();
  if (found) return found;
  if (process.getuid?.() !== 0) {
    throw new Error('h2load is missing: install nghttp2-client (apt-get install nghttp2-client)');
  }
  log('installing h2load (apt-get install nghttp2-client) ...');
  const update = spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore' });
  const install = spawnSync('apt-get', ['install', '-y', '-qq', 'nghttp2-client'], {
    stdio: 'ignore',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (update.status !== 0 || install.status !== 0) throw new Error('apt-get install nghttp2-client failed');
  const again = spawnSync('sh', ['-c', 'command -v h2load'], { encoding: 'utf8' }).stdout.trim();
  if (!again) throw new Error('h2load still missing after apt-get install nghttp2-client');
  return again;
}

/** How long to run (h2load -D), or how many requests to send (h2load -n). */
export type H2loadLength =
  | { readonly durationS: number; readonly requests?: undefined }
  | { readonly requests: number; readonly durationS?: undefined };

export type H2loadOptions = H2loadShape & H2loadLength;

interface H2loadShape {
  readonly url: string;
  readonly h1?: boolean;
  readonly clients: number;
  /** Concurrent streams per client (HTTP/2); 1 for HTTP/1.1. */
  readonly streams: number;
  readonly warmupS?: number;
  /** Requests per second per client (open rate); omitted: as fast as possible. */
  readonly rpsPerClient?: number;
  readonly dataFile?: string;
  readonly headers?: readonly string[];
  /** Keep per-request latencies (--log-file) for percentiles. */
  readonly latencies?: boolean;
}

export interface H2loadResult {
  readonly reqPerSec: number;
  readonly total: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly errored: number;
  readonly timeout: number;
  readonly status2xx: number;
  readonly statusNon2xx: number;
  /** Milliseconds, from the per-request log. */
  readonly latency: Distribution | undefined;
  /** Cores used by h2load itself over the run. */
  readonly loadCpu: number;
  readonly seconds: number;
  readonly raw: string;
}

export async function runH2load(h2load: string, options: H2loadOptions): Promise<H2loadResult> {
  const logFile = join(tmpdir(), `h2load-${process.pid}-${Date.now()}.log`);
  const length = options.requests === undefined ? ['-D', String(options.durationS)] : ['-n', String(options.requests)];
  const args = ['-c', String(options.clients), '-m', String(options.streams), '-t', '1', ...length];
  if (options.warmupS) args.push(`--warm-up-time=${options.warmupS}`);
  if (options.rpsPerClient) args.push(`--rps=${options.rpsPerClient}`);
  if (options.h1) args.push('--h1');
  if (options.dataFile) args.push('-d', options.dataFile);
  for (const h of options.headers ?? []) args.push('-H', h);
  if (options.latencies) args.push(`--log-file=${logFile}`);
  args.push(options.url);
  // h2load's CPU: the children's times of this process grow by it once it is reaped.
  const before = procCpu('self', true).totalMs;
  const started = performance.now();
  const raw = await new Promise<string>((resolve, reject) => {
    const child = spawn(h2load, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (t: string) => (out += t));
    child.stderr.setEncoding('utf8').on('data', (t: string) => (out += t));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`h2load exited ${code}:\n${out}`))));
  });
  const seconds = (performance.now() - started) / 1000;
  const loadCpu = (procCpu('self', true).totalMs - before) / 1000 / seconds;
  const num = (re: RegExp): number => {
    const m = re.exec(raw);
    return m ? Number(m[1]) : 0;
  };
  let latency: Distribution | undefined;
  if (options.latencies && existsSync(logFile)) {
    const values: number[] = [];
    for (const line of readFileSync(logFile, 'utf8').split('\n')) {
      // <start time us> \t <status> \t <duration us>
      const parts = line.split('\t');
      if (parts.length >= 3) values.push(Number(parts[2]) / 1000);
    }
    rmSync(logFile, { force: true });
    latency = distribution(values);
  }
  const status2xx = num(/status codes: (\d+) 2xx/);
  const total = num(/requests: (\d+) total/);
  return {
    reqPerSec: num(/finished in [\d.]+\w*, ([\d.]+) req\/s/),
    total,
    succeeded: num(/(\d+) succeeded/),
    failed: num(/(\d+) failed/),
    errored: num(/(\d+) errored/),
    timeout: num(/(\d+) timeout/),
    status2xx,
    statusNon2xx: num(/2xx, (\d+) 3xx/) + num(/3xx, (\d+) 4xx/) + num(/4xx, (\d+) 5xx/),
    latency,
    loadCpu: Math.round(loadCpu * 100) / 100,
    seconds,
    raw,
  };
}
