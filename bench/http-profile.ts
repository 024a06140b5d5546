/**
 * The cost of one request through the OpenAI-compatible HTTP API, in units that do not depend on
 * the CPU share the gateway gets on a busy machine: CPU microseconds per request (the gateway
 * process's user+system time from /proc over the requests it served) and V8 heap kilobytes
 * allocated per request and the part of it scavenges promoted to the old generation
 * (bench/lib/alloc-probe.mjs), with `--cpu-prof` a profile summary by
 * area and function (bench/lib/cpuprofile.ts). Load: h2load --h1 against POST
 * /v1/chat/completions, the bench's JSON body, the bench upstream answering at once.
 *
 * Options: USAGE below (`--help` prints it).
 *
 * The gateway is DIR's dist/main.js (build it first), or `--entry src/main.ts` (run with tsx).
 * `--floor MODE` measures bench/http-floor-server.ts instead, with the gateway's Node flags: the
 * least a Node server (`node`), the same on Fastify (`fastify`) or a Fastify proxy making the
 * same upstream call (`proxy`) spends on the same requests.
 * A fixed number of requests, not a duration, so JIT warm-up and the counted rounds are the same
 * work however much CPU the machine leaves the gateway: `--warmup` requests first (not
 * counted), then `--rounds` rounds of `--requests` each (CPU and heap between the marks); the
 * median round is printed. `--stream`: `stream: true` (20 chunks in one upstream write).
 * `--heap-prof`: one more round under V8's sampling heap profiler, then KB/request by area
 * and by function (the profiler slows that round; it is not in the medians); with
 * `--heap-survivors`, only the objects no scavenge collected: where the promoted ones come from.
 * `--promises`: one more round counting the promises made per request (v8.promiseHooks; each
 * async function and await makes them, and each costs a microtask) and the sites that make them.
 */
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BENCH_DIR, ROOT, jsonBody, log, portFrom, startFlags, startGateway, startUpstream } from './fleet.js';
import { type ArgSpec, checkArgs } from './lib/args.js';
import { formatProfile, heapProfileRows, summariseProfile } from './lib/cpuprofile.js';
import { spawn } from 'node:child_process';
import { ensureH2load } from './lib/h2load.js';
import { procCpu, runIfMain, startProcess, threadCpuMs, type Started } from './lib/proc.js';
import { allocProbeArgs, probe, type Counted } from './scenarios/allocation.js';

const USAGE = `usage: npx tsx bench/http-profile.ts [--gateway-dir DIR] [--stream] [--requests 5000] [--warmup 8000]
                              [--concurrency 64] [--rounds 3] [--cpu-prof] [--heap-prof [--heap-survivors]] [--top 30]
                              [--entry dist/main.js]
                              [--env K=V ...] [--node-arg FLAG ...] [--floor node|fastify|proxy] [--promises]
`;
const ARGS: ArgSpec = {
  flags: ['stream', 'cpu-prof', 'heap-prof', 'heap-survivors', 'promises'],
  values: ['gateway-dir', 'requests', 'warmup', 'concurrency', 'rounds', 'top', 'entry', 'env', 'node-arg', 'floor'],
};

export interface HttpCostRound {
  readonly requests: number;
  readonly reqPerSec: number;
  readonly errors: number;
  /** Gateway CPU (user + system) per request served, microseconds. */
  readonly cpuUsPerRequest: number;
  /** Of it, on the main thread: the event loop, which bounds one process's throughput. */
  readonly mainUsPerRequest: number;
  /** V8 heap allocated per request, kilobytes. */
  readonly kbPerRequest: number;
  /** Of it, promoted to the old generation by scavenges, kilobytes. */
  readonly promotedKbPerRequest: number;
}

async function main(): Promise<void> {
  checkArgs(USAGE, ARGS);
  const arg = (name: string): string | undefined => {
    const at = process.argv.indexOf(`--${name}`);
    return at >= 0 ? process.argv[at + 1] : undefined;
  };
  const flag = (name: string): boolean => process.argv.includes(`--${name}`);
  const dir = resolve(arg('gateway-dir') ?? ROOT);
  const stream = flag('stream');
  const requestsPerRound = Number(arg('requests') ?? 5000);
  const warmup = Number(arg('warmup') ?? 8000);
  const concurrency = Number(arg('concurrency') ?? 64);
  const roundsWanted = Number(arg('rounds') ?? 3);
  const entry = arg('entry') ?? 'dist/main.js';
  const cpuProf = flag('cpu-prof');
  const h2load = ensureH2load(log);
  const outDir = join(BENCH_DIR, 'results/profiles', `http-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(outDir, { recursive: true });
  const bodyFile = join(outDir, 'body.json');
  writeFileSync(bodyFile, jsonBody('gpt-4o', stream));

  const upstream = await startUpstream();
  const alloc = await allocProbeArgs();
  const nodeArgs = [...(entry.endsWith('.ts') ? ['--import', 'tsx'] : []), ...alloc.nodeArgs];
  if (cpuProf) nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${outDir}`);
  // --node-arg X (repeatable): a V8 or Node flag for the gateway, e.g. --node-arg --max-semi-space-size=32
  process.argv.forEach((a, i) => {
    if (a === '--node-arg' && process.argv[i + 1]) nodeArgs.push(process.argv[i + 1]!);
  });
  // --env K=V (repeatable): an environment variable for the gateway, e.g. --env DATABASE_URL=off
  const extraEnv: Record<string, string> = { ...alloc.env, ...(flag('heap-survivors') ? { BENCH_ALLOC_SURVIVORS: '1' } : {}) };
  process.argv.forEach((a, i) => {
    const kv = a === '--env' ? process.argv[i + 1] : undefined;
    if (kv?.includes('=')) extraEnv[kv.slice(0, kv.indexOf('='))] = kv.slice(kv.indexOf('=') + 1);
  });
  const floor = arg('floor');
  const gateway = floor
    ? await startFloor(floor, startFlags(dir), upstream.port, nodeArgs, extraEnv)
    : await startGateway(dir, upstream.port, 'warn', nodeArgs, extraEnv, entry);
  const load = (n: number) => h2loadRequests(h2load, `http://127.0.0.1:${gateway.httpPort}/v1/chat/completions`, n, concurrency, bodyFile);
  const rounds: HttpCostRound[] = [];
  let heapText = '';
  let promiseText = '';
  try {
    await load(warmup);
    for (let i = 0; i < roundsWanted; i++) {
      await probe(alloc.port, 'start');
      const cpuBefore = procCpu(gateway.pid).totalMs;
      const mainBefore = threadCpuMs(gateway.pid);
      const r = await load(requestsPerRound);
      const cpuMs = procCpu(gateway.pid).totalMs - cpuBefore;
      const mainMs = threadCpuMs(gateway.pid) - mainBefore;
      const counted = await probe(alloc.port, 'stop');
      const requests = r.done;
      const round: HttpCostRound = {
        requests,
        reqPerSec: Math.round(r.reqPerSec),
        errors: r.errors,
        cpuUsPerRequest: Math.round((cpuMs * 1000) / requests),
        mainUsPerRequest: Math.round((mainMs * 1000) / requests),
        kbPerRequest: Math.round(((counted.allocatedBytes ?? NaN) / requests / 1024) * 10) / 10,
        promotedKbPerRequest: Math.round(((counted.promotedBytes ?? NaN) / requests / 1024) * 100) / 100,
      };
      rounds.push(round);
      log(
        `round ${i + 1}: ${round.requests} requests, ${round.reqPerSec} req/s, ${round.errors} errors, ` +
          `${round.cpuUsPerRequest} CPU us/request (main thread ${round.mainUsPerRequest}), ${round.kbPerRequest} KB/request (${round.promotedKbPerRequest} promoted)`,
      );
    }
    if (flag('heap-prof')) {
      await probe(alloc.port, 'start', true);
      const r = await load(requestsPerRound);
      const counted = await probe(alloc.port, 'stop', true);
      if (counted.profile) {
        const rows = heapProfileRows(counted.profile.head, r.done, 'request', Number(arg('top') ?? 30));
        heapText = [
          `${flag('heap-survivors') ? 'Heap allocation no scavenge collected' : 'Heap allocation'} by area (sampled, ${rows.sampledKb.toFixed(1)} KB/request):`,
          ...rows.byArea,
          '  by function:',
          ...rows.byFunction,
        ].join('\n');
      }
    }
    if (flag('promises')) {
      await probe(alloc.port, 'start', false, true);
      const r = await load(requestsPerRound);
      const counted = await probe(alloc.port, 'stop', false, true);
      if (counted.promises) promiseText = formatPromises(counted.promises, r.done, Number(arg('top') ?? 30));
    }
  } finally {
    await gateway.stop(); // SIGTERM: graceful exit, and node writes the profile
    await upstream.stop();
  }
  const median = (pick: (r: HttpCostRound) => number): number => {
    const values = rounds.map(pick).sort((a, b) => a - b);
    return values[Math.floor(values.length / 2)] ?? NaN;
  };
  const what = `${stream ? 'stream: true (20 chunks)' : 'unary'}, h2load --h1 c=${concurrency}`;
  process.stdout.write(
    `${floor ? `Floor server (${floor})` : 'HTTP API'}, ${what}: ${median((r) => r.cpuUsPerRequest)} CPU us/request (least ${Math.min(...rounds.map((r) => r.cpuUsPerRequest))}; main thread ${median((r) => r.mainUsPerRequest)}), ` +
      `${median((r) => r.kbPerRequest)} KB/request, ${median((r) => r.promotedKbPerRequest)} KB of it promoted ` +
      `(median of ${rounds.length} rounds of ${requestsPerRound} requests after ${warmup}; ${median((r) => r.reqPerSec)} req/s, not a throughput result)\n`,
  );
  if (heapText) process.stdout.write(`${heapText}\n`);
  if (promiseText) process.stdout.write(`${promiseText}\n`);
  if (cpuProf) {
    const file = readdirSync(outDir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error(`no .cpuprofile written in ${outDir}`);
    const path = join(outDir, file);
    process.stdout.write(`${formatProfile(summariseProfile(path, Number(arg('top') ?? 30)), `CPU profile, ${what} (${path})`)}\n`);
    process.stdout.write(`${formatLayers(layersOf(path))}\n`);
  }
}

/** Promises per request, then the sites that make the most (a site: the stack's first frames, innermost first). */
function formatPromises(census: NonNullable<Counted['promises']>, requests: number, top: number): string {
  const perRequest = (n: number): string => (n / requests).toFixed(2).padStart(6);
  return [
    `Promises made: ${(census.total / requests).toFixed(1)} per request (one round; sites sampled at one promise in ten)`,
    ...census.sites.slice(0, top).map(([site, n]) => `  ${perRequest(n)}  ${site}`),
  ].join('\n');
}

/** bench/http-floor-server.ts in `mode`, with `flags`, those the measured gateway starts with. */
async function startFloor(
  mode: string,
  flags: readonly string[],
  upstreamPort: number,
  nodeArgs: readonly string[],
  env: Readonly<Record<string, string>>,
): Promise<Started & { httpPort: number }> {
  if (!['node', 'fastify', 'proxy'].includes(mode)) throw new Error(`--floor: node, fastify or proxy (got ${mode})`);
  const started = await startProcess({
    name: `floor ${mode}`,
    command: process.execPath,
    args: [...flags, '--import', 'tsx', ...nodeArgs, join(BENCH_DIR, 'http-floor-server.ts')],
    env: { ...env, FLOOR: mode, UPSTREAM_PORT: String(upstreamPort) },
    portFromLine: portFrom('floor'),
  });
  return { ...started, httpPort: started.port };
}

/** `n` requests over `concurrency` HTTP/1.1 connections, one in flight on each. */
function h2loadRequests(
  h2load: string,
  url: string,
  n: number,
  concurrency: number,
  bodyFile: string,
): Promise<{ done: number; errors: number; reqPerSec: number }> {
  const args = ['--h1', '-n', String(n), '-c', String(concurrency), '-m', '1', '-t', '1', '-d', bodyFile];
  args.push('-H', 'content-type: application/json', '-H', 'authorization: Bearer bench', url);
  return new Promise((resolve, reject) => {
    const child = spawn(h2load, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (t: string) => (out += t));
    child.stderr.setEncoding('utf8').on('data', (t: string) => (out += t));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`h2load exited ${code}:\n${out}`));
      const num = (re: RegExp): number => Number(re.exec(out)?.[1] ?? 0);
      const non2xx = num(/2xx, (\d+) 3xx/) + num(/3xx, (\d+) 4xx/) + num(/4xx, (\d+) 5xx/);
      resolve({
        done: num(/(\d+) done/),
        errors: num(/(\d+) failed/) + num(/(\d+) errored/) + num(/(\d+) timeout/) + non2xx,
        reqPerSec: num(/finished in [\d.]+\w*, ([\d.]+) req\/s/),
      });
    });
  });
}

/**
 * Self time charged to the layer that caused it: each sample goes to the innermost frame on its
 * stack that belongs to a layer, so node internals, natives and JSON builtins count for the code
 * that called them (a socket write under Fastify's reply is the HTTP server's, one under undici
 * the upstream client's).
 */
const LAYERS: readonly (readonly [string, RegExp])[] = [
  [
    'HTTP server (fastify, node:http)',
    /node_modules\/(fastify|@fastify|find-my-way|avvio|secure-json-parse|fast-json-stringify|light-my-request)\/|^node:_http_(server|common|incoming|outgoing)/,
  ],
  ['src/http (parse, map, encode, SSE)', /\/(src|dist)\/http\//],
  ['upstream client (providers, openai, undici)', /\/(src|dist)\/providers\/|node_modules\/(openai|undici)\/|^node:internal\/deps\/undici/],
  ['metrics, logs, tracing (telemetry, prom-client, pino)', /\/(src|dist)\/telemetry\/|node_modules\/(prom-client|pino|@opentelemetry)/],
  ['ledger (store, kysely, better-sqlite3)', /\/(src|dist)\/store\/|node_modules\/(kysely|better-sqlite3)\//],
  ['engine (engine, domain, routing, catalog, access, ...)', /\/(src|dist)\//],
];

interface ProfileFile {
  readonly nodes: readonly { id: number; callFrame: { functionName: string; url: string }; children?: readonly number[] }[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export function layersOf(path: string): Map<string, number> {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as ProfileFile;
  const parent = new Map<number, number>();
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const layerOfNode = new Map<number, string>();
  const layerOf = (id: number): string => {
    const known = layerOfNode.get(id);
    if (known) return known;
    const f = byId.get(id)!.callFrame;
    let layer: string;
    if (f.functionName === '(idle)') layer = '(idle)';
    else if (f.functionName === '(garbage collector)') layer = 'garbage collector';
    else {
      const own = LAYERS.find(([, re]) => re.test(f.url))?.[0];
      const up = parent.get(id);
      layer = own ?? (up === undefined ? 'other (event loop, module loading, program)' : layerOf(up));
    }
    layerOfNode.set(id, layer);
    return layer;
  };
  const out = new Map<string, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const layer = layerOf(profile.samples[i]!);
    out.set(layer, (out.get(layer) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  return out;
}

function formatLayers(layers: Map<string, number>): string {
  const busy = [...layers].filter(([l]) => l !== '(idle)').reduce((a, [, us]) => a + us, 0);
  const rows = [...layers].filter(([l]) => l !== '(idle)').sort((a, b) => b[1] - a[1]);
  return ['  by layer (self time charged to the innermost layer on the stack):']
    .concat(rows.map(([l, us]) => `    ${((us / busy) * 100).toFixed(1).padStart(5)}%  ${l}`))
    .join('\n');
}

runIfMain(import.meta.url, main);
