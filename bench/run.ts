/**
 * `npm run bench`: one run, one machine, every number in one table (and bench/results/latest.json).
 *
 *   npm run bench                 full run (about 4 minutes on 2 cores)
 *   npm run bench -- --quick      about 1 minute, fewer rounds and shorter runs
 *   options: --no-peer            skip the Portkey peer
 *            --no-build           use the gateway's dist/ as it is
 *            --gateway-dir DIR    benchmark another checkout (built there), e.g. a before/after
 *            --log-level LEVEL    the gateway's LOG_LEVEL (default warn; info logs every call)
 *            --transport          also run the client transport micro-benchmark (bench/transport.ts)
 *            --profile            also profile the gateway under load (bench/profile.ts)
 *            --out FILE           JSON path (default bench/results/latest.json)
 *
 * Processes (all on this machine, loopback only): the bench upstream (bench/upstream.ts), the
 * gateway (node dist/main.js), a bare grpc-js echo server (the floor for any grpc-js gateway),
 * the Portkey gateway 1.15.2 (installed on demand into bench/.peer), h2load, and this process
 * as the client for the sequential and streaming scenarios.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ChatRequest,
  FallbackRequest,
  FallbackResponse,
  RaceRequest,
  StreamChatRequest,
} from '../src/gen/orchestrator/v1/chat.js';
import { GetStatsRequest, GetStatsResponse } from '../src/gen/orchestrator/v1/stats.js';
import { GrpcH2Client, grpcFrame } from './lib/grpc-h2.js';
import { ensureH2load, runH2load, type H2loadResult } from './lib/h2load.js';
import { HttpTarget } from './lib/http-client.js';
import { CpuMeter, freePort, procMemory, resetPeak, sleep, startProcess, waitForQuiet, type Started } from './lib/proc.js';
import { distribution, median, round, type Distribution } from './lib/stats.js';
import { fmt, int, table } from './lib/table.js';
import { formatTransportRows, runTransportBench, type TransportRow } from './transport.js';
import { profileGateway, type ProfileResult } from './profile.js';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(BENCH_DIR, '..');
const PEER_DIR = join(BENCH_DIR, '.peer');
const PEER_PACKAGE = '@portkey-ai/gateway@1.15.2';
const PEER_ENTRY = join(PEER_DIR, 'node_modules/@portkey-ai/gateway/build/start-server.js');

// ---------------------------------------------------------------------------------- options

interface Options {
  readonly quick: boolean;
  readonly peer: boolean;
  readonly build: boolean;
  readonly gatewayDir: string;
  readonly logLevel: string;
  readonly transport: boolean;
  readonly profile: boolean;
  readonly out: string;
  /** The gateway with WORKERS=n as extra throughput rows; 1: none. */
  readonly workers: number;
}

function parseOptions(argv: readonly string[]): Options {
  const value = (name: string): string | undefined => {
    const at = argv.indexOf(`--${name}`);
    return at >= 0 ? argv[at + 1] : undefined;
  };
  return {
    quick: argv.includes('--quick'),
    peer: !argv.includes('--no-peer'),
    build: !argv.includes('--no-build'),
    gatewayDir: resolve(value('gateway-dir') ?? ROOT),
    logLevel: value('log-level') ?? 'warn',
    transport: argv.includes('--transport'),
    profile: argv.includes('--profile'),
    out: resolve(value('out') ?? join(BENCH_DIR, 'results/latest.json')),
    workers: Number(value('workers') ?? 2),
  };
}

/** Every knob of the run, by mode. */
function plan(quick: boolean) {
  return quick
    ? {
        rounds: 4,
        seqN: 100,
        seqPeerN: 40,
        ttftN: 50,
        ttftPeerN: 10,
        tputSeconds: 3,
        tputWarmup: 1,
        levels: [16, 64, 256],
        rateSeconds: 4,
        streams: 1000,
        streamRampMs: 1000,
        streamWindowMs: 4000,
        raceRounds: 3,
        raceN: 50,
      }
    : {
        rounds: 10,
        seqN: 200,
        seqPeerN: 100,
        ttftN: 100,
        ttftPeerN: 20,
        tputSeconds: 8,
        tputWarmup: 2,
        levels: [16, 64, 256],
        rateSeconds: 10,
        streams: 1000,
        streamRampMs: 2000,
        streamWindowMs: 10000,
        raceRounds: 6,
        raceN: 100,
      };
}

const TOKEN_RATE = 50;
/** Other processes may share this machine: scenarios wait until they use less than this. */
const QUIET_CORES = 0.3;
const PACED_TOKENS = 250;
const RATE_RPS = 1000;

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

// ---------------------------------------------------------------------------------- requests

const PROMPT = 'Say hello.';
const jsonBody = (model: string, stream = false): string =>
  JSON.stringify({
    model,
    messages: [{ role: 'user', content: PROMPT }],
    temperature: 0.7,
    max_tokens: 50,
    ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
  });
const conversation = { messages: [{ role: 'ROLE_USER', content: PROMPT }], maxTokens: 50 };
export const chatFrame = (model: string): Buffer =>
  grpcFrame(ChatRequest.encode(ChatRequest.fromJSON({ model, ...conversation })).finish());
export const streamFrame = (model: string): Buffer =>
  grpcFrame(StreamChatRequest.encode(StreamChatRequest.fromJSON({ model, ...conversation })).finish());
const raceFrame = (models: string[]): Buffer =>
  grpcFrame(RaceRequest.encode(RaceRequest.fromJSON({ models, ...conversation })).finish());
const fallbackFrame = (models: string[]): Buffer =>
  grpcFrame(
    FallbackRequest.encode(FallbackRequest.fromJSON({ models, disableDefaultMessage: true, ...conversation })).finish(),
  );

const CHAT = '/orchestrator.v1.ChatService/Chat';
const STREAM = '/orchestrator.v1.ChatService/StreamChat';
const RACE = '/orchestrator.v1.ChatService/Race';
const FALLBACK = '/orchestrator.v1.ChatService/Fallback';
const GET_STATS = '/orchestrator.v1.StatsService/GetStats';
/** StreamChatResponse's oneof: field 2 (delta), wire type 2 -> first byte 0x12. */
const DELTA_TAG = 0x12;

// ---------------------------------------------------------------------------------- processes

interface Fleet {
  readonly upstream: Started;
  readonly gateway: Started;
  readonly echo: Started;
  readonly peer: Started | undefined;
  stop(): Promise<void>;
}

const tsxArgs = (script: string): string[] => ['--import', 'tsx', join(BENCH_DIR, script)];
const portFrom = (key: string) => (line: string): number | undefined => {
  try {
    const parsed = JSON.parse(line) as Record<string, unknown>;
    return parsed[key] === 'listening' && typeof parsed.port === 'number' ? parsed.port : undefined;
  } catch {
    return undefined;
  }
};

function gatewayEnv(upstreamPort: number, port: number, logLevel: string): Record<string, string> {
  return {
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: logLevel,
    OPENAI_API_KEY: 'bench',
    OPENAI_BASE_URL: `http://127.0.0.1:${upstreamPort}/v1`,
    SIMULATOR: 'off',
    DEFAULT_MODEL: 'gpt-4o',
    // Each scenario measures one upstream call per model: no retries, and breakers that never
    // open (the fallback scenario fails its primary on purpose, every time).
    RETRY_MAX_ATTEMPTS: '1',
    BREAKER_CONSECUTIVE_FAILURES: '1000000000',
    BREAKER_FAILURE_RATE: '1',
    // Metrics stay on (the default) but on a free loopback port: two gateways may run at once.
    METRICS_HOST: '127.0.0.1',
    METRICS_PORT: '0',
    NODE_ENV: 'production',
  };
}

export async function startUpstream(): Promise<Started> {
  return startProcess({
    name: 'upstream',
    command: process.execPath,
    args: tsxArgs('upstream.ts'),
    env: { PORT: '0', TOKEN_RATE: String(TOKEN_RATE), PACED_TOKENS: String(PACED_TOKENS) },
    portFromLine: portFrom('upstream'),
  });
}

/** Calls the gateway logged, by gRPC code (it logs every call that is not OK at warn or above). */
export const gatewayCallCodes = new Map<string, number>();

function countCallLine(line: string): void {
  if (!line.includes('"msg":"call"')) return;
  const code = /"code":"([A-Z_]+)"/.exec(line)?.[1];
  if (code) gatewayCallCodes.set(code, (gatewayCallCodes.get(code) ?? 0) + 1);
}

export async function startGateway(
  gatewayDir: string,
  upstreamPort: number,
  logLevel: string,
  nodeArgs: readonly string[] = [],
  extraEnv: Readonly<Record<string, string>> = {},
): Promise<Started> {
  const port = await freePort();
  const gateway = await startProcess({
    name: 'gateway',
    command: process.execPath,
    args: [...nodeArgs, join(gatewayDir, 'dist/main.js')],
    cwd: gatewayDir,
    env: { ...gatewayEnv(upstreamPort, port, logLevel), ...extraEnv },
    port,
    onLine: countCallLine,
  });
  // Listening is not serving: wait for a successful GetStats.
  const client = new GrpcH2Client(`http://127.0.0.1:${port}`);
  try {
    for (let i = 0; ; i++) {
      const r = await client.unary(GET_STATS, grpcFrame(GetStatsRequest.encode({}).finish())).catch(() => undefined);
      if (r?.grpcStatus === 0) break;
      if (i > 100) throw new Error(`gateway does not answer GetStats:\n${gateway.tail()}`);
      await sleep(50);
    }
  } finally {
    client.close();
  }
  return gateway;
}

function buildGateway(dir: string): void {
  log(`building the gateway in ${dir} (npm run build) ...`);
  const r = spawnSync('npm', ['run', 'build', '--silent'], { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(`npm run build failed in ${dir} (use --no-build to run the existing dist/):\n${r.stdout}\n${r.stderr}`);
  }
}

function ensurePeer(): void {
  if (existsSync(PEER_ENTRY)) return;
  log(`installing the peer ${PEER_PACKAGE} into bench/.peer (not a project dependency) ...`);
  mkdirSync(PEER_DIR, { recursive: true });
  if (!existsSync(join(PEER_DIR, 'package.json'))) {
    writeFileSync(join(PEER_DIR, 'package.json'), `${JSON.stringify({ name: 'bench-peer', private: true }, null, 2)}\n`);
  }
  // Its only install script is `patch-package` with no patches shipped: not needed.
  const r = spawnSync(
    'npm',
    ['install', '--prefix', PEER_DIR, '--no-audit', '--no-fund', '--ignore-scripts', '--save-exact', PEER_PACKAGE],
    { encoding: 'utf8' },
  );
  if (r.status !== 0 || !existsSync(PEER_ENTRY)) throw new Error(`npm install ${PEER_PACKAGE} failed:\n${r.stdout}\n${r.stderr}`);
}

async function startPeer(): Promise<Started> {
  const port = await freePort();
  return startProcess({
    name: 'peer (Portkey)',
    command: process.execPath,
    args: ['--import', join(BENCH_DIR, 'peer/portkey-sse-fix.mjs'), PEER_ENTRY, `--port=${port}`, '--headless'],
    cwd: PEER_DIR,
    env: { NODE_ENV: 'production' },
    port,
  });
}

// ---------------------------------------------------------------------------------- clients

interface Clients {
  readonly direct: HttpTarget;
  readonly peer: HttpTarget | undefined;
  readonly gateway: GrpcH2Client;
  readonly echo: GrpcH2Client;
  close(): Promise<void>;
}

function peerHeaders(upstreamPort: number): Record<string, string> {
  return {
    'content-type': 'application/json',
    authorization: 'Bearer bench',
    'x-portkey-provider': 'openai',
    'x-portkey-custom-host': `http://127.0.0.1:${upstreamPort}/v1`,
  };
}

function clientsFor(fleet: Fleet, connections = 1): Clients {
  const up = fleet.upstream.port;
  const direct = new HttpTarget(`http://127.0.0.1:${up}`, '/v1/chat/completions', {
    'content-type': 'application/json',
    authorization: 'Bearer bench',
  }, connections);
  const peer = fleet.peer
    ? new HttpTarget(`http://127.0.0.1:${fleet.peer.port}`, '/v1/chat/completions', peerHeaders(up), connections)
    : undefined;
  const gateway = new GrpcH2Client(`http://127.0.0.1:${fleet.gateway.port}`);
  const echo = new GrpcH2Client(`http://127.0.0.1:${fleet.echo.port}`);
  return {
    direct,
    peer,
    gateway,
    echo,
    close: async () => {
      gateway.close();
      echo.close();
      await direct.close();
      await peer?.close();
    },
  };
}

interface GatewayCounts {
  readonly total: number;
  readonly ok: number;
  readonly failed: number;
}

async function gatewayCounts(client: GrpcH2Client): Promise<GatewayCounts> {
  const r = await client.unary(GET_STATS, grpcFrame(GetStatsRequest.encode({}).finish()));
  if (r.grpcStatus !== 0 || !r.message) throw new Error(`GetStats failed (grpc-status ${r.grpcStatus})`);
  const s = GetStatsResponse.decode(r.message);
  return { total: s.totalRequests, ok: s.successfulRequests, failed: s.failedRequests };
}

/**
 * Runs a measurement up to `attempts` times while other processes took more than QUIET_CORES
 * of the machine during it, and keeps the run they disturbed least.
 */
async function leastDisturbed<T>(run: () => Promise<T>, others: (result: T) => number, what: string, attempts = 3): Promise<T> {
  let best: T | undefined;
  for (let i = 0; i < attempts; i++) {
    const result = await run();
    if (best === undefined || others(result) < others(best)) best = result;
    if (others(result) <= QUIET_CORES) break;
    if (i < attempts - 1) log(`  ${what}: other processes used ${others(result).toFixed(2)} cores during the run; running it again`);
  }
  return best!;
}

// ---------------------------------------------------------------------------------- 1. overhead

type Probe = () => Promise<boolean>;

/** `n` sequential calls; latencies (ms) of the successful ones, and the failure count. */
async function sequential(probe: Probe, n: number): Promise<{ ms: number[]; failures: number }> {
  const ms: number[] = [];
  let failures = 0;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const ok = await probe().catch(() => false);
    const t = performance.now() - t0;
    if (ok) ms.push(t);
    else failures += 1;
  }
  return { ms, failures };
}

interface RoundsResult {
  /** Per target: median of the round medians (ms). */
  readonly medianMs: Record<string, number>;
  /** Per target: the round medians. */
  readonly roundMedians: Record<string, number[]>;
  readonly failures: Record<string, number>;
  /** Per target: P99 over every sample of every round (ms). */
  readonly p99Ms: Record<string, number>;
}

/** Interleaved rounds: each round runs every target once, in the same order. */
async function rounds(
  targets: Readonly<Record<string, { probe: Probe; n: number }>>,
  count: number,
  label: string,
): Promise<RoundsResult> {
  const names = Object.keys(targets);
  const medians: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  const all: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  const failures: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]));
  for (const name of names) await sequential(targets[name]!.probe, Math.min(100, targets[name]!.n)); // warm-up
  for (let r = 0; r < count; r++) {
    for (const name of names) {
      const { ms, failures: f } = await sequential(targets[name]!.probe, targets[name]!.n);
      medians[name]!.push(median(ms));
      all[name]!.push(...ms);
      failures[name]! += f;
    }
    log(`  ${label}: round ${r + 1}/${count}`);
  }
  return {
    medianMs: Object.fromEntries(names.map((n) => [n, median(medians[n]!)])),
    roundMedians: medians,
    failures,
    p99Ms: Object.fromEntries(names.map((n) => [n, distribution(all[n]!).p99])),
  };
}

/** Added latency per round (target minus baseline, same round), median and spread. */
function added(result: RoundsResult, target: string, baseline: string): { median: number; min: number; max: number } {
  const t = result.roundMedians[target] ?? [];
  const b = result.roundMedians[baseline] ?? [];
  const diffs = t.map((v, i) => v - (b[i] ?? NaN)).filter(Number.isFinite);
  return { median: median(diffs), min: Math.min(...diffs), max: Math.max(...diffs) };
}

function grpcUnaryProbe(client: GrpcH2Client, path: string, frame: Buffer): Probe {
  return async () => (await client.unary(path, frame)).grpcStatus === 0;
}

/** Time to the first delta of a StreamChat call; the stream is read to its end. */
function grpcTtftProbe(client: GrpcH2Client, frame: Buffer, sink: number[]): Probe {
  return async () => {
    const t0 = performance.now();
    let first: number | undefined;
    const { done } = client.serverStream(STREAM, frame, (m) => {
      if (first === undefined && m[0] === DELTA_TAG) first = performance.now() - t0;
    });
    const status = await done;
    if (status !== 0 || first === undefined) return false;
    sink.push(first);
    return true;
  };
}

function httpTtftProbe(target: HttpTarget, body: string, sink: number[]): Probe {
  return async () => {
    const t0 = performance.now();
    let first: number | undefined;
    const { status, tokens } = await target.stream(body, () => {
      first ??= performance.now() - t0;
    });
    if (status !== 200 || tokens === 0 || first === undefined) return false;
    sink.push(first);
    return true;
  };
}

/** Sequential TTFT rounds: like `rounds`, but the statistic is the first-token time. */
async function ttftRounds(
  targets: Readonly<Record<string, { make: (sink: number[]) => Probe; n: number }>>,
  count: number,
): Promise<RoundsResult> {
  const names = Object.keys(targets);
  const medians: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  const all: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  const failures: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]));
  for (const name of names) await sequential(targets[name]!.make([]), Math.min(50, targets[name]!.n));
  for (let r = 0; r < count; r++) {
    for (const name of names) {
      const sink: number[] = [];
      const { failures: f } = await sequential(targets[name]!.make(sink), targets[name]!.n);
      medians[name]!.push(median(sink));
      all[name]!.push(...sink);
      failures[name]! += f;
    }
    log(`  time to first token: round ${r + 1}/${count}`);
  }
  return {
    medianMs: Object.fromEntries(names.map((n) => [n, median(medians[n]!)])),
    roundMedians: medians,
    failures,
    p99Ms: Object.fromEntries(names.map((n) => [n, distribution(all[n]!).p99])),
  };
}

// ---------------------------------------------------------------------------------- 2. throughput

interface ThroughputRow {
  readonly target: string;
  /** Fixed-rate rows: the bench process's own event-loop delay, P99 and max (ms). */
  readonly clientLoopDelayMs?: { p99: number; max: number };
  readonly concurrency: number;
  readonly reqPerSec: number;
  readonly p50Ms: number | undefined;
  readonly p99Ms: number | undefined;
  /** Errors by status: gRPC status from GetStats for the gateway, HTTP status otherwise. */
  readonly errors: number;
  readonly errorCheck: string;
  readonly cpu: Record<string, number>;
}

interface Files {
  readonly chatFrame: string;
  readonly chatJson: string;
}

function writeFiles(dir: string): Files {
  mkdirSync(dir, { recursive: true });
  const files = { chatFrame: join(dir, 'chat-request.grpc'), chatJson: join(dir, 'chat-request.json') };
  writeFileSync(files.chatFrame, chatFrame('gpt-4o'));
  writeFileSync(files.chatJson, jsonBody('gpt-4o'));
  return files;
}

type TargetName = 'direct' | 'echo' | 'gateway' | 'peer';

/** Throughput rows of the gateway run as cluster workers (`--workers`, default 2). */
const WORKERS_TARGET = 'gateway-workers';
let benchWorkers = 2;

/** Requests the bench upstream has answered since it started. */
async function upstreamRequests(port: number): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/_bench/stats`);
  return ((await res.json()) as { requests: number }).requests;
}

async function h2loadTarget(
  h2load: string,
  fleet: Fleet,
  files: Files,
  target: TargetName,
  concurrency: number,
  seconds: number,
  warmup: number,
  rpsPerClient?: number,
): Promise<{ result: H2loadResult; errors: number; errorCheck: string; cpu: Record<string, number> }> {
  const grpc = target === 'gateway' || target === 'echo';
  const port =
    target === 'direct' ? fleet.upstream.port : target === 'echo' ? fleet.echo.port : target === 'gateway' ? fleet.gateway.port : fleet.peer!.port;
  const path = grpc ? CHAT : '/v1/chat/completions';
  const headers = grpc
    ? ['content-type: application/grpc', 'te: trailers']
    : target === 'peer'
      ? Object.entries(peerHeaders(fleet.upstream.port)).map(([k, v]) => `${k}: ${v}`)
      : ['content-type: application/json', 'authorization: Bearer bench'];
  // HTTP/2 targets: a few connections with many streams each; HTTP/1.1: one request per connection.
  const clients = rpsPerClient ? concurrency : grpc ? Math.max(1, Math.min(8, Math.floor(concurrency / 8))) : concurrency;
  const streams = rpsPerClient ? (grpc ? 8 : 1) : grpc ? Math.ceil(concurrency / clients) : 1;
  await waitForQuiet(30_000, QUIET_CORES, log);
  const statsClient = target === 'gateway' ? new GrpcH2Client(`http://127.0.0.1:${port}`) : undefined;
  const before = statsClient ? await gatewayCounts(statsClient) : undefined;
  const cancelledBefore = gatewayCallCodes.get('CANCELLED') ?? 0;
  const upstreamBefore = target === 'gateway' ? await upstreamRequests(fleet.upstream.port) : 0;
  const pids: Record<string, number | 'self'> = { upstream: fleet.upstream.pid };
  if (target === 'gateway') pids.gateway = fleet.gateway.pid;
  if (target === 'echo') pids.echo = fleet.echo.pid;
  if (target === 'peer') pids.peer = fleet.peer!.pid;
  const meter = new CpuMeter(pids).begin();
  const result = await runH2load(h2load, {
    url: `http://127.0.0.1:${port}${path}`,
    h1: !grpc,
    clients,
    streams,
    durationS: seconds,
    warmupS: warmup,
    ...(rpsPerClient ? { rpsPerClient } : {}),
    dataFile: grpc ? files.chatFrame : files.chatJson,
    headers,
    latencies: true,
  });
  const measured = meter.end();
  const cpu = { ...measured, h2load: result.loadCpu, others: Math.max(0, round((measured.others ?? 0) - result.loadCpu, 2)) };
  let errors = result.statusNon2xx + result.errored + result.timeout + result.failed;
  let errorCheck = 'HTTP status (h2load)';
  if (statsClient && before) {
    await sleep(200); // the last log lines
    const after = await gatewayCounts(statsClient);
    statsClient.close();
    // h2load stops at the end of -D with calls in flight: those end CANCELLED, not failed.
    const cancelled = (gatewayCallCodes.get('CANCELLED') ?? 0) - cancelledBefore;
    const failed = after.failed - before.failed;
    errors = failed - cancelled + result.errored + result.timeout;
    const upstreamCalls = (await upstreamRequests(fleet.upstream.port)) - upstreamBefore;
    errorCheck =
      `gRPC status (GetStats: ${int(after.ok - before.ok)} OK, ${int(failed)} not OK, of which ${cancelled} CANCELLED by h2load's stop); ` +
      `the upstream saw ${int(upstreamCalls)} requests (every call reached it: no cache)`;
  } else if (target === 'echo') {
    errorCheck = 'HTTP status only (echo cannot fail)';
  }
  return { result, errors, errorCheck, cpu };
}

/** Open-loop sends at `rps`, evenly spaced; the first `warmupS` seconds are not recorded. */
export async function fixedRate(
  send: () => Promise<boolean>,
  rps: number,
  seconds: number,
  warmupS: number,
  meter: CpuMeter,
): Promise<{
  latency: Distribution;
  errors: number;
  achieved: number;
  maxLagMs: number;
  /** This process's own event-loop delay (ms): what the client adds to the tail. */
  clientLoopDelay: { p99: number; max: number };
  cpu: Record<string, number>;
}> {
  const interval = 1000 / rps;
  const loop = monitorEventLoopDelay({ resolution: 1 });
  const latencies: number[] = [];
  let errors = 0;
  let sent = 0;
  let maxLagMs = 0;
  const inflight = new Set<Promise<void>>();
  const start = performance.now();
  const measureFrom = start + warmupS * 1000;
  const end = measureFrom + seconds * 1000;
  let cpu: Record<string, number> | undefined;
  let i = 0;
  for (;;) {
    const now = performance.now();
    if (now >= end) break;
    if (cpu === undefined && now >= measureFrom && sent === 0) {
      meter.begin();
      loop.enable();
    }
    const due = Math.floor((now - start) / interval) + 1;
    while (i < due) {
      const scheduled = start + i * interval;
      i += 1;
      const t0 = performance.now();
      const record = scheduled >= measureFrom;
      if (record) {
        sent += 1;
        maxLagMs = Math.max(maxLagMs, t0 - scheduled);
      }
      const call: Promise<void> = send().then(
        (ok) => {
          if (!record) return;
          latencies.push(performance.now() - t0);
          if (!ok) errors += 1;
        },
        () => {
          if (record) errors += 1;
        },
      );
      inflight.add(call);
      void call.finally(() => inflight.delete(call));
    }
    await sleep(1);
  }
  cpu = meter.end();
  loop.disable();
  await Promise.all([...inflight]);
  const clientLoopDelay = { p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 };
  return { latency: distribution(latencies), errors, achieved: sent / seconds, maxLagMs, clientLoopDelay, cpu };
}

// ---------------------------------------------------------------------------------- 3. streams

interface StreamsResult {
  readonly target: string;
  readonly concurrency: number;
  readonly offeredTokensPerSec: number;
  readonly tokensPerSec: number;
  readonly ttft: Distribution;
  readonly streamsStarted: number;
  readonly streamsCompleted: number;
  readonly streamsFailed: number;
  readonly rssBeforeMb: number;
  readonly peakRssMb: number;
  readonly cpu: Record<string, number>;
}

interface StreamHandle {
  readonly done: Promise<number>;
  cancel(): void;
}

export async function streamsScenario(options: {
  target: string;
  concurrency: number;
  rampMs: number;
  windowMs: number;
  pid: number;
  cpuPids: Record<string, number | 'self'>;
  open: (onToken: () => void) => StreamHandle;
}): Promise<StreamsResult> {
  const { concurrency, rampMs, windowMs } = options;
  const ttft: number[] = [];
  let started = 0;
  let completed = 0;
  let failed = 0;
  let tokensInWindow = 0;
  let inWindow = false;
  let stopping = false;
  const live = new Set<StreamHandle>();
  const rssBeforeMb = procMemory(options.pid).rssMb;
  resetPeak(options.pid);
  let peakSampled = rssBeforeMb;
  const sampler = setInterval(() => {
    try {
      peakSampled = Math.max(peakSampled, procMemory(options.pid).rssMb);
    } catch {
      /* gone */
    }
  }, 100);

  const startOne = (): void => {
    if (stopping) return;
    started += 1;
    const t0 = performance.now();
    let first = true;
    const handle = options.open(() => {
      if (first) {
        first = false;
        ttft.push(performance.now() - t0);
      }
      if (inWindow) tokensInWindow += 1;
    });
    live.add(handle);
    void handle.done.then((status) => {
      live.delete(handle);
      if (stopping) return;
      if (status === 0) completed += 1;
      else failed += 1;
      startOne();
    });
  };

  // Ramp: spread the starts over rampMs, a few per millisecond tick.
  const perTick = Math.max(1, Math.ceil(concurrency / Math.max(1, rampMs / 10)));
  for (let i = 0; i < concurrency; i += perTick) {
    for (let j = i; j < Math.min(concurrency, i + perTick); j++) startOne();
    await sleep(10);
  }
  await sleep(500);
  const meter = new CpuMeter(options.cpuPids).begin();
  inWindow = true;
  const windowStart = performance.now();
  await sleep(windowMs);
  inWindow = false;
  const seconds = (performance.now() - windowStart) / 1000;
  const cpu = meter.end();
  stopping = true;
  clearInterval(sampler);
  const hwm = procMemory(options.pid).hwmMb;
  for (const h of live) h.cancel();
  await Promise.race([Promise.all([...live].map((h) => h.done)), sleep(5_000)]);
  return {
    target: options.target,
    concurrency,
    offeredTokensPerSec: concurrency * TOKEN_RATE,
    tokensPerSec: tokensInWindow / seconds,
    ttft: distribution(ttft),
    streamsStarted: started,
    streamsCompleted: completed,
    streamsFailed: failed,
    rssBeforeMb,
    peakRssMb: Math.max(hwm, peakSampled),
    cpu,
  };
}

// ---------------------------------------------------------------------------------- main

interface Report {
  readonly meta: Record<string, unknown>;
  readonly overhead: {
    readonly chat: RoundsResult;
    readonly ttft: RoundsResult;
    readonly addedChat: Record<string, { median: number; min: number; max: number }>;
    readonly addedTtft: Record<string, { median: number; min: number; max: number }>;
    readonly cpu: Record<string, number>;
  };
  readonly throughput: ThroughputRow[];
  readonly fixedRate: ThroughputRow[];
  readonly streams: StreamsResult[];
  readonly raceFallback: {
    readonly result: RoundsResult;
    readonly raceCostMs: { median: number; min: number; max: number };
    readonly fallbackCostMs: { median: number; min: number; max: number };
    readonly peerFallbackCostMs: { median: number; min: number; max: number } | undefined;
  };
  readonly targets: Record<string, { readonly value: number | undefined; readonly limit: string; readonly pass: boolean | undefined }>;
  transport?: TransportRow[];
  profile?: ProfileResult;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const p = plan(options.quick);
  const t0 = Date.now();
  const h2load = ensureH2load(log);
  if (options.peer) ensurePeer();
  if (options.build) buildGateway(options.gatewayDir);
  if (!existsSync(join(options.gatewayDir, 'dist/main.js'))) throw new Error(`no dist/main.js in ${options.gatewayDir}`);

  log('starting upstream, gateway, echo server' + (options.peer ? ', peer' : '') + ' ...');
  const upstream = await startUpstream();
  const started: Started[] = [upstream];
  const fleet: Fleet = await (async () => {
    try {
      const gateway = await startGateway(options.gatewayDir, upstream.port, options.logLevel);
      started.push(gateway);
      const echo = await startProcess({ name: 'echo', command: process.execPath, args: tsxArgs('echo-server.ts'), portFromLine: portFrom('echo') });
      started.push(echo);
      const peer = options.peer ? await startPeer() : undefined;
      if (peer) started.push(peer);
      return { upstream, gateway, echo, peer, stop: async () => void (await Promise.all(started.map((s) => s.stop()))) };
    } catch (err) {
      await Promise.all(started.map((s) => s.stop()));
      throw err;
    }
  })();

  try {
    const report = await measure(fleet, h2load, options, p);
    report.meta.durationSeconds = Math.round((Date.now() - t0) / 1000);
    if (options.transport) {
      log('transport micro-benchmark ...');
      report.transport = await runTransportBench({
        baseURL: `http://127.0.0.1:${fleet.upstream.port}/v1`,
        calls: options.quick ? 5_000 : 15_000,
        concurrency: 64,
        rounds: options.quick ? 1 : 2,
        log,
      });
    }
    if (options.profile) {
      log('profiling the gateway under load ...');
      report.profile = await profileGateway({
        gatewayDir: options.gatewayDir,
        upstreamPort: fleet.upstream.port,
        h2load,
        seconds: options.quick ? 4 : 8,
        outDir: join(BENCH_DIR, 'results/profiles'),
        log,
      });
    }
    mkdirSync(dirname(options.out), { recursive: true });
    writeFileSync(options.out, `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(`${render(report)}\n\nJSON: ${options.out}\n`);
  } finally {
    await fleet.stop();
  }
}

async function measure(fleet: Fleet, h2load: string, options: Options, p: ReturnType<typeof plan>): Promise<Report> {
  const files = writeFiles(join(BENCH_DIR, 'results/tmp'));
  const clients = clientsFor(fleet);
  const hasPeer = clients.peer !== undefined;
  const report: Report = {
    meta: meta(options, fleet),
    overhead: undefined as unknown as Report['overhead'],
    throughput: [],
    fixedRate: [],
    streams: [],
    raceFallback: undefined as unknown as Report['raceFallback'],
    targets: {},
  };

  // 1. Overhead: sequential, interleaved rounds.
  log('1/4 overhead (sequential) ...');
  await waitForQuiet(30_000, QUIET_CORES, log);
  const chatJson = jsonBody('gpt-4o');
  const streamJson = jsonBody('gpt-4o', true);
  const cpuPids: Record<string, number | 'self'> = { gateway: fleet.gateway.pid, upstream: fleet.upstream.pid, echo: fleet.echo.pid, client: 'self' };
  if (fleet.peer) cpuPids.peer = fleet.peer.pid;
  const meter = new CpuMeter(cpuPids).begin();
  const chat = await rounds(
    {
      direct: { probe: async () => (await clients.direct.post(chatJson)) === 200, n: p.seqN },
      echo: { probe: grpcUnaryProbe(clients.echo, CHAT, chatFrame('gpt-4o')), n: p.seqN },
      gateway: { probe: grpcUnaryProbe(clients.gateway, CHAT, chatFrame('gpt-4o')), n: p.seqN },
      ...(hasPeer ? { peer: { probe: async () => (await clients.peer!.post(chatJson)) === 200, n: p.seqPeerN } } : {}),
    },
    p.rounds,
    'Chat',
  );
  const ttft = await ttftRounds(
    {
      direct: { make: (sink) => httpTtftProbe(clients.direct, streamJson, sink), n: p.ttftN },
      echo: { make: (sink) => grpcTtftProbe(clients.echo, streamFrame('gpt-4o'), sink), n: p.ttftN },
      gateway: { make: (sink) => grpcTtftProbe(clients.gateway, streamFrame('gpt-4o'), sink), n: p.ttftN },
      ...(hasPeer ? { peer: { make: (sink: number[]) => httpTtftProbe(clients.peer!, streamJson, sink), n: p.ttftPeerN } } : {}),
    },
    Math.max(3, Math.ceil(p.rounds / 2)),
  );
  const overheadCpu = meter.end();
  const targetsFor = (r: RoundsResult): Record<string, { median: number; min: number; max: number }> =>
    Object.fromEntries(Object.keys(r.medianMs).filter((n) => n !== 'direct').map((n) => [n, added(r, n, 'direct')]));
  Object.assign(report, {
    overhead: { chat, ttft, addedChat: targetsFor(chat), addedTtft: targetsFor(ttft), cpu: overheadCpu },
  });

  // 2. Throughput: unary Chat at fixed concurrency, and latency at a fixed 1,000 req/s.
  log('2/4 throughput (h2load) ...');
  const runs: { target: TargetName; concurrency: number }[] = [
    { target: 'direct', concurrency: 64 },
    { target: 'echo', concurrency: 64 },
    ...p.levels.map((c) => ({ target: 'gateway' as const, concurrency: c })),
    ...(hasPeer ? p.levels.map((c) => ({ target: 'peer' as const, concurrency: c })) : []),
  ];
  /** One throughput row: h2load against `target` of `f`, reported as `row`. */
  const throughputRow = async (f: Fleet, target: TargetName, row: string, concurrency: number): Promise<void> => {
    const r = await leastDisturbed(
      () => h2loadTarget(h2load, f, files, target, concurrency, p.tputSeconds, p.tputWarmup),
      (x) => x.cpu.others ?? 0,
      `${label(row)} c=${concurrency}`,
    );
    report.throughput.push({
      target: row,
      concurrency,
      reqPerSec: r.result.reqPerSec,
      p50Ms: r.result.latency?.p50,
      p99Ms: r.result.latency?.p99,
      errors: r.errors,
      errorCheck: r.errorCheck,
      cpu: r.cpu,
    });
    log(`  ${label(row)} c=${concurrency}: ${int(r.result.reqPerSec)} req/s, errors ${r.errors}`);
  };
  /** One fixed-rate row: evenly spaced `send`s, CPU of `pids`. */
  const fixedRateRow = async (row: string, send: () => Promise<boolean>, pids: Record<string, number | 'self'>, errorCheck: string): Promise<void> => {
    const rateMeter = new CpuMeter(pids);
    const r = await leastDisturbed(
      async () => {
        await waitForQuiet(30_000, QUIET_CORES, log);
        return fixedRate(send, RATE_RPS, p.rateSeconds, 1, rateMeter);
      },
      (x) => x.cpu.others ?? 0,
      `${label(row)} @${RATE_RPS} req/s`,
    );
    report.fixedRate.push({
      target: row,
      concurrency: 0,
      reqPerSec: r.achieved,
      p50Ms: r.latency.p50,
      p99Ms: r.latency.p99,
      errors: r.errors,
      errorCheck,
      clientLoopDelayMs: { p99: round(r.clientLoopDelay.p99, 2), max: round(r.clientLoopDelay.max, 2) },
      cpu: r.cpu,
    });
    log(`  ${label(row)} @${RATE_RPS} req/s: p50 ${fmt(r.latency.p50, 3)} ms, p99 ${fmt(r.latency.p99, 3)} ms, send lag max ${fmt(r.maxLagMs, 2)} ms`);
  };

  for (const run of runs) await throughputRow(fleet, run.target, run.target, run.concurrency);
  // Fixed rate: evenly spaced sends from this process (open loop: a send never waits for an
  // answer), latency from send to answer. h2load --rps sends in bursts per client tick.
  const rateClients = {
    direct: new HttpTarget(`http://127.0.0.1:${fleet.upstream.port}`, '/v1/chat/completions', { 'content-type': 'application/json', authorization: 'Bearer bench' }, 32),
    gateway: new GrpcH2Client(`http://127.0.0.1:${fleet.gateway.port}`, 2),
    peer: fleet.peer
      ? new HttpTarget(`http://127.0.0.1:${fleet.peer.port}`, '/v1/chat/completions', peerHeaders(fleet.upstream.port), 64)
      : undefined,
  };
  const gatewayChat = chatFrame('gpt-4o');
  const rateRuns: { target: TargetName; send: () => Promise<boolean>; pid: number }[] = [
    { target: 'direct', send: async () => (await rateClients.direct.post(chatJson)) === 200, pid: fleet.upstream.pid },
    { target: 'gateway', send: async () => (await rateClients.gateway.unary(CHAT, gatewayChat)).grpcStatus === 0, pid: fleet.gateway.pid },
    ...(rateClients.peer && fleet.peer
      ? [{ target: 'peer' as const, send: async () => (await rateClients.peer!.post(chatJson)) === 200, pid: fleet.peer.pid }]
      : []),
  ];
  for (const run of rateRuns) {
    const pids: Record<string, number | 'self'> = { upstream: fleet.upstream.pid, client: 'self' };
    if (run.target !== 'direct') pids[run.target] = run.pid;
    await fixedRateRow(run.target, run.send, pids, run.target === 'gateway' ? 'gRPC status of each call' : 'HTTP status of each call');
  }
  rateClients.gateway.close();
  await rateClients.direct.close();
  await rateClients.peer?.close();
  // The same gateway as WORKERS=n processes sharing the port (node:cluster), started for these
  // rows alone; its CPU is the primary's plus the workers'.
  if (options.workers > 1) {
    benchWorkers = options.workers;
    const workers = await startGateway(options.gatewayDir, fleet.upstream.port, options.logLevel, [], { WORKERS: String(options.workers) });
    const client = new GrpcH2Client(`http://127.0.0.1:${workers.port}`, 2);
    try {
      for (const concurrency of p.levels) await throughputRow({ ...fleet, gateway: workers }, 'gateway', WORKERS_TARGET, concurrency);
      await fixedRateRow(
        WORKERS_TARGET,
        async () => (await client.unary(CHAT, gatewayChat)).grpcStatus === 0,
        { upstream: fleet.upstream.pid, client: 'self', gateway: workers.pid },
        'gRPC status of each call',
      );
    } finally {
      client.close();
      await workers.stop();
    }
  }

  // 3. Streams: 1,000 concurrent StreamChat calls at a realistic token rate. The gateway is a
  // fresh process, so its peak RSS is what the streams need (not the heap a throughput run grew).
  log(`3/4 streams (${p.streams} concurrent, ${TOKEN_RATE} tokens/s each) ...`);
  const pacedJson = jsonBody('gpt-3.5-turbo', true);
  const httpStreams = (target: HttpTarget) => (onToken: () => void): StreamHandle => {
    const controller = new AbortController();
    const done = target
      .stream(pacedJson, onToken, controller.signal)
      .then((r) => (r.status === 200 ? 0 : r.status))
      .catch(() => -1);
    return { done, cancel: () => controller.abort() };
  };
  await waitForQuiet(30_000, QUIET_CORES, log);
  const directStreams = new HttpTarget(`http://127.0.0.1:${fleet.upstream.port}`, '/v1/chat/completions', { 'content-type': 'application/json' }, p.streams);
  report.streams.push(
    await streamsScenario({
      target: 'direct',
      concurrency: p.streams,
      rampMs: p.streamRampMs,
      windowMs: p.streamWindowMs,
      pid: fleet.upstream.pid,
      cpuPids: { upstream: fleet.upstream.pid, client: 'self' },
      open: httpStreams(directStreams),
    }),
  );
  await directStreams.close();
  log(`  direct: ${int(report.streams.at(-1)!.tokensPerSec)} tokens/s`);
  const streamGateway = await startGateway(options.gatewayDir, fleet.upstream.port, options.logLevel);
  try {
    await waitForQuiet(30_000, QUIET_CORES, log);
    const streamClient = new GrpcH2Client(`http://127.0.0.1:${streamGateway.port}`, 10);
    const pacedFrame = streamFrame('gpt-3.5-turbo');
    report.streams.push(
      await streamsScenario({
        target: 'gateway',
        concurrency: p.streams,
        rampMs: p.streamRampMs,
        windowMs: p.streamWindowMs,
        pid: streamGateway.pid,
        cpuPids: { gateway: streamGateway.pid, upstream: fleet.upstream.pid, client: 'self' },
        open: (onToken) =>
          streamClient.serverStream(STREAM, pacedFrame, (m) => {
            if (m[0] === DELTA_TAG) onToken();
          }),
      }),
    );
    streamClient.close();
  } finally {
    await streamGateway.stop();
  }
  log(`  gateway: ${int(report.streams.at(-1)!.tokensPerSec)} tokens/s, peak RSS ${fmt(report.streams.at(-1)!.peakRssMb, 0)} MB`);
  if (fleet.peer) {
    await waitForQuiet(30_000, QUIET_CORES, log);
    const peerStreams = new HttpTarget(`http://127.0.0.1:${fleet.peer.port}`, '/v1/chat/completions', peerHeaders(fleet.upstream.port), p.streams);
    report.streams.push(
      await streamsScenario({
        target: 'peer',
        concurrency: p.streams,
        rampMs: p.streamRampMs,
        windowMs: p.streamWindowMs,
        pid: fleet.peer.pid,
        cpuPids: { peer: fleet.peer.pid, upstream: fleet.upstream.pid, client: 'self' },
        open: httpStreams(peerStreams),
      }),
    );
    await peerStreams.close();
    log(`  peer: ${int(report.streams.at(-1)!.tokensPerSec)} tokens/s, peak RSS ${fmt(report.streams.at(-1)!.peakRssMb, 0)} MB`);
  }

  // 4. Race and fallback cost, sequential.
  log('4/4 race and fallback (sequential) ...');
  await waitForQuiet(30_000, QUIET_CORES, log);
  const peerFallbackConfig = JSON.stringify({
    strategy: { mode: 'fallback' },
    targets: ['gpt-4-turbo', 'gpt-4o'].map((model) => ({
      provider: 'openai',
      api_key: 'bench',
      custom_host: `http://127.0.0.1:${fleet.upstream.port}/v1`,
      override_params: { model },
    })),
  });
  const raceFrameBuf = raceFrame(['gpt-4o', 'gpt-4o-mini']);
  const fallbackFrameBuf = fallbackFrame(['gpt-4-turbo', 'gpt-4o']);
  const failJson = jsonBody('gpt-4-turbo');
  const rf = await rounds(
    {
      'direct gpt-4o': { probe: async () => (await clients.direct.post(chatJson)) === 200, n: p.raceN },
      'direct gpt-4-turbo (500)': { probe: async () => (await clients.direct.post(failJson)) === 500, n: p.raceN },
      'gateway Chat gpt-4o': { probe: grpcUnaryProbe(clients.gateway, CHAT, chatFrame('gpt-4o')), n: p.raceN },
      'gateway Race [gpt-4o, gpt-4o-mini]': {
        // OK is success; which racer won is not checked (a stall longer than the slow racer's
        // 5 ms head start can let it win, and that is still a correct race).
        probe: async () => (await clients.gateway.unary(RACE, raceFrameBuf)).grpcStatus === 0,
        n: p.raceN,
      },
      'gateway Fallback [gpt-4-turbo, gpt-4o]': {
        probe: async () => {
          const r = await clients.gateway.unary(FALLBACK, fallbackFrameBuf);
          return r.grpcStatus === 0 && r.message !== undefined && FallbackResponse.decode(r.message).fallbackTriggered;
        },
        n: p.raceN,
      },
      ...(hasPeer
        ? {
            'peer fallback [gpt-4-turbo, gpt-4o]': {
              probe: async () => (await clients.peer!.post(chatJson, { 'x-portkey-config': peerFallbackConfig })) === 200,
              n: p.raceN,
            },
          }
        : {}),
    },
    p.raceRounds,
    'race/fallback',
  );
  const perRound = (f: (i: number) => number): { median: number; min: number; max: number } => {
    const values = Array.from({ length: p.raceRounds }, (_, i) => f(i)).filter(Number.isFinite);
    return { median: median(values), min: Math.min(...values), max: Math.max(...values) };
  };
  const rm = rf.roundMedians;
  Object.assign(report, {
    raceFallback: {
      result: rf,
      raceCostMs: perRound((i) => rm['gateway Race [gpt-4o, gpt-4o-mini]']![i]! - rm['gateway Chat gpt-4o']![i]!),
      fallbackCostMs: perRound(
        (i) => rm['gateway Fallback [gpt-4-turbo, gpt-4o]']![i]! - rm['direct gpt-4-turbo (500)']![i]! - rm['direct gpt-4o']![i]!,
      ),
      peerFallbackCostMs: hasPeer
        ? perRound(
            (i) => rm['peer fallback [gpt-4-turbo, gpt-4o]']![i]! - rm['direct gpt-4-turbo (500)']![i]! - rm['direct gpt-4o']![i]!,
          )
        : undefined,
    },
  });
  await clients.close();

  // Targets (from the issue).
  const tput = (target: string, c: number): number | undefined =>
    report.throughput.find((r) => r.target === target && r.concurrency === c)?.reqPerSec;
  // Peak against peak: each at the concurrency level where it does best.
  const peak = (target: string): number => Math.max(...p.levels.map((c) => tput(target, c) ?? NaN).filter(Number.isFinite));
  const bestRatio = Math.max(peak('gateway'), peak(WORKERS_TARGET)) / peak('peer');
  const processRatio = peak('gateway') / peak('peer');
  const rate = (t: string) => report.fixedRate.find((r) => r.target === t);
  const addedP99 = Math.min(rate('gateway')?.p99Ms ?? NaN, rate(WORKERS_TARGET)?.p99Ms ?? Infinity) - (rate('direct')?.p99Ms ?? NaN);
  const gatewayStreams = report.streams.find((s) => s.target === 'gateway');
  const check = (value: number | undefined, ok: (v: number) => boolean, limit: string) => ({
    value: value === undefined || !Number.isFinite(value) ? undefined : round(value, 3),
    limit,
    pass: value === undefined || !Number.isFinite(value) ? undefined : ok(value),
  });
  Object.assign(report, {
    targets: {
      'unary throughput, peak vs Portkey peak (x)': check(hasPeer ? bestRatio : undefined, (v) => v >= 5, '>= 5x'),
      '  the same, one gateway process (x)': check(hasPeer ? processRatio : undefined, (v) => v >= 5, '>= 5x'),
      'added latency P50, sequential Chat (ms)': check(report.overhead.addedChat.gateway?.median, (v) => v <= 0.4, '<= 0.4 ms'),
      'added latency P99 at 1,000 req/s (ms)': check(addedP99, (v) => v <= 2, '<= 2 ms'),
      'added time to first token, sequential (ms)': check(report.overhead.addedTtft.gateway?.median, (v) => v <= 0.5, '<= 0.5 ms'),
      '1,000 concurrent streams, peak RSS (MB)': check(gatewayStreams?.peakRssMb, (v) => v <= 150, '<= 150 MB'),
    },
  });
  return report;
}

function meta(options: Options, fleet: Fleet): Record<string, unknown> {
  const cpuModel = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  const git = (args: string[]): string => spawnSync('git', args, { cwd: options.gatewayDir, encoding: 'utf8' }).stdout.trim();
  const h2v = spawnSync('h2load', ['--version'], { encoding: 'utf8' }).stdout.trim().split('\n')[0];
  return {
    date: new Date().toISOString(),
    mode: options.quick ? 'quick' : 'full',
    machine: { cpu: cpuModel, cores: os.cpus().length, memoryGb: Math.round(os.totalmem() / 2 ** 30), kernel: os.release() },
    node: process.version,
    h2load: h2v,
    gatewayDir: options.gatewayDir,
    gatewayCommit: git(['rev-parse', '--short', 'HEAD']) || 'n/a',
    gatewayDirty: git(['status', '--porcelain']).length > 0,
    gatewayLogLevel: options.logLevel,
    peer: fleet.peer ? PEER_PACKAGE : 'skipped',
    upstream: { tokenRate: TOKEN_RATE, pacedTokens: PACED_TOKENS },
    loadAverageAtStart: os.loadavg().map((v) => round(v, 2)),
  };
}

// ---------------------------------------------------------------------------------- rendering

function render(r: Report): string {
  const out: string[] = [];
  const m = r.meta as { date: string; mode: string; machine: { cpu: string; cores: number; memoryGb: number }; node: string; gatewayCommit: string; gatewayDirty: boolean; gatewayLogLevel: string; peer: string; durationSeconds?: number };
  out.push(
    `llm-orchestrator bench  ${m.date}  (${m.mode}, ${m.durationSeconds ?? '?'} s)`,
    `machine: ${m.machine.cpu}, ${m.machine.cores} cores, ${m.machine.memoryGb} GB; node ${m.node}; gateway ${m.gatewayCommit}${m.gatewayDirty ? '+dirty' : ''} LOG_LEVEL=${m.gatewayLogLevel}; peer ${m.peer}`,
  );
  const o = r.overhead;
  const names = Object.keys(o.chat.medianMs);
  out.push('', '1. Overhead, sequential (median of round medians; added = target - direct per round, median [min..max])');
  out.push(
    table(
      ['target', 'Chat ms', 'Chat P99', 'added ms', 'spread', 'TTFT ms', 'TTFT P99', 'added ms', 'spread', 'failures'],
      names.map((n) => {
        const ac = o.addedChat[n];
        const at = o.addedTtft[n];
        return [
          label(n),
          fmt(o.chat.medianMs[n], 3),
          fmt(o.chat.p99Ms[n], 3),
          ac ? fmt(ac.median, 3) : '-',
          ac ? `${fmt(ac.min, 3)}..${fmt(ac.max, 3)}` : '-',
          fmt(o.ttft.medianMs[n], 3),
          fmt(o.ttft.p99Ms[n], 3),
          at ? fmt(at.median, 3) : '-',
          at ? `${fmt(at.min, 3)}..${fmt(at.max, 3)}` : '-',
          String((o.chat.failures[n] ?? 0) + (o.ttft.failures[n] ?? 0)),
        ];
      }),
    ),
  );
  out.push(`   CPU over the sequential phase (cores): ${cpuText(o.cpu)}`);

  const direct = r.throughput.find((t) => t.target === 'direct')?.reqPerSec;
  out.push('', '2. Throughput, unary Chat (h2load; errors counted by status code: gRPC status via GetStats for the gateway)');
  out.push(
    table(
      ['target', 'conc', 'req/s', 'P50 ms', 'P99 ms', 'errors', 'x peer', 'x direct', 'CPU cores'],
      r.throughput.map((t) => {
        const peer = r.throughput.find((x) => x.target === 'peer' && x.concurrency === t.concurrency)?.reqPerSec;
        return [
          label(t.target),
          String(t.concurrency),
          int(t.reqPerSec),
          fmt(t.p50Ms, 3),
          fmt(t.p99Ms, 3),
          String(t.errors),
          peer && t.target !== 'peer' ? `${fmt(t.reqPerSec / peer, 1)}x` : '-',
          direct ? fmt(t.reqPerSec / direct, 2) : '-',
          cpuText(t.cpu),
        ];
      }),
    ),
  );
  for (const t of r.throughput.filter((x) => x.target === 'gateway' || x.target === WORKERS_TARGET)) out.push(`   ${label(t.target)} c=${t.concurrency}: ${t.errorCheck}`);
  const directRate = r.fixedRate.find((t) => t.target === 'direct');
  out.push('', `   Latency at a fixed ${int(RATE_RPS)} req/s (open loop, evenly spaced sends from the bench process; added = target - direct)`);
  out.push(
    table(
      ['target', 'req/s', 'P50 ms', 'P99 ms', 'added P50', 'added P99', 'errors', 'client loop P99/max', 'CPU cores'],
      r.fixedRate.map((t) => [
        label(t.target),
        int(t.reqPerSec),
        fmt(t.p50Ms, 3),
        fmt(t.p99Ms, 3),
        t.target === 'direct' ? '-' : fmt((t.p50Ms ?? NaN) - (directRate?.p50Ms ?? NaN), 3),
        t.target === 'direct' ? '-' : fmt((t.p99Ms ?? NaN) - (directRate?.p99Ms ?? NaN), 3),
        String(t.errors),
        t.clientLoopDelayMs ? `${fmt(t.clientLoopDelayMs.p99, 1)}/${fmt(t.clientLoopDelayMs.max, 1)} ms` : '-',
        cpuText(t.cpu),
      ]),
    ),
  );

  out.push('', `3. Streams: concurrent StreamChat, upstream at ${TOKEN_RATE} tokens/s per stream, ${PACED_TOKENS} tokens each`);
  out.push(
    table(
      ['target', 'streams', 'tokens/s', 'offered', 'TTFT P50', 'TTFT P99', 'started', 'failed', 'RSS MB', 'peak RSS', 'CPU cores'],
      r.streams.map((s) => [
        label(s.target),
        String(s.concurrency),
        int(s.tokensPerSec),
        int(s.offeredTokensPerSec),
        fmt(s.ttft.p50, 2),
        fmt(s.ttft.p99, 2),
        String(s.streamsStarted),
        String(s.streamsFailed),
        fmt(s.rssBeforeMb, 0),
        fmt(s.peakRssMb, 0),
        cpuText(s.cpu),
      ]),
    ),
  );

  const rf = r.raceFallback;
  out.push('', '4. Race and fallback, sequential (median of round medians)');
  out.push(
    table(
      ['call', 'ms', 'P99 ms', 'failures'],
      Object.keys(rf.result.medianMs).map((n) => [n, fmt(rf.result.medianMs[n], 3), fmt(rf.result.p99Ms[n], 3), String(rf.result.failures[n] ?? 0)]),
    ),
  );
  const span = (x: { median: number; min: number; max: number }): string => `${fmt(x.median, 3)} ms [${fmt(x.min, 3)}..${fmt(x.max, 3)}]`;
  out.push(`   race cost (race - its fastest member alone, both through the gateway): ${span(rf.raceCostMs)}`);
  out.push(`   fallback cost (fallback - (failure + success) direct): gateway ${span(rf.fallbackCostMs)}${rf.peerFallbackCostMs ? `; peer ${span(rf.peerFallbackCostMs)}` : ''}`);

  out.push('', '5. Targets');
  out.push(
    table(
      ['target', 'measured', 'limit', 'result'],
      Object.entries(r.targets).map(([name, t]) => [name, t.value === undefined ? 'n/a' : fmt(t.value, 3), t.limit, t.pass === undefined ? 'n/a' : t.pass ? 'PASS' : 'FAIL']),
    ),
  );
  if (r.transport) out.push('', 'Client transport (one Node process, concurrency 64, CPU per call)', formatTransportRows(r.transport));
  if (r.profile) out.push('', r.profile.text);
  return out.join('\n');
}

function label(target: string): string {
  switch (target) {
    case 'direct':
      return 'direct (upstream)';
    case 'echo':
      return 'grpc-js echo (floor)';
    case 'gateway':
      return 'gateway';
    case 'peer':
      return 'Portkey 1.15.2';
    case WORKERS_TARGET:
      return `gateway, WORKERS=${benchWorkers}`;
    default:
      return target;
  }
}

function cpuText(cpu: Record<string, number>): string {
  return Object.entries(cpu)
    .map(([k, v]) => `${k} ${v.toFixed(2)}`)
    .join(', ');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
