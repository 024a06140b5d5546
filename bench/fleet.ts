/**
 * The processes a bench run measures (the bench upstream, the gateway, the grpc-js echo server,
 * the Portkey peer), the requests it sends them and the clients it sends them with.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ChatRequest, FallbackRequest, RaceRequest, StreamChatRequest } from '../src/gen/orchestrator/v1/chat.js';
import { GetStatsRequest, GetStatsResponse } from '../src/gen/orchestrator/v1/stats.js';
import { GrpcH2Client, grpcFrame } from './lib/grpc-h2.js';
import { HttpTarget } from './lib/http-client.js';
import { freePort, sleep, startProcess, type Started } from './lib/proc.js';

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(BENCH_DIR, '..');
export const PEER_DIR = join(BENCH_DIR, '.peer');
export const PEER_PACKAGE = '@portkey-ai/gateway@1.15.2';
export const PEER_ENTRY = join(PEER_DIR, 'node_modules/@portkey-ai/gateway/build/start-server.js');

export const TOKEN_RATE = 50;
/** Other processes may share this machine: scenarios wait until they use less than this. */
export const QUIET_CORES = 0.3;
export const PACED_TOKENS = 250;
export const RATE_RPS = 1000;

export const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

// ---------------------------------------------------------------------------------- requests

export const PROMPT = 'Say hello.';
export const jsonBody = (model: string, stream = false): string =>
  JSON.stringify({
    model,
    messages: [{ role: 'user', content: PROMPT }],
    temperature: 0.7,
    max_tokens: 50,
    ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
  });
export const conversation = { messages: [{ role: 'ROLE_USER', content: PROMPT }], maxTokens: 50 };
export const chatFrame = (model: string): Buffer =>
  grpcFrame(ChatRequest.encode(ChatRequest.fromJSON({ model, ...conversation })).finish());
export const streamFrame = (model: string): Buffer =>
  grpcFrame(StreamChatRequest.encode(StreamChatRequest.fromJSON({ model, ...conversation })).finish());
export const raceFrame = (models: string[]): Buffer =>
  grpcFrame(RaceRequest.encode(RaceRequest.fromJSON({ models, ...conversation })).finish());
export const fallbackFrame = (models: string[]): Buffer =>
  grpcFrame(FallbackRequest.encode(FallbackRequest.fromJSON({ models, disableDefaultMessage: true, ...conversation })).finish());

export const CHAT = '/orchestrator.v1.ChatService/Chat';
export const STREAM = '/orchestrator.v1.ChatService/StreamChat';
export const RACE = '/orchestrator.v1.ChatService/Race';
export const FALLBACK = '/orchestrator.v1.ChatService/Fallback';
export const GET_STATS = '/orchestrator.v1.StatsService/GetStats';
/** StreamChatResponse's oneof: field 2 (delta), wire type 2 -> first byte 0x12. */
export const DELTA_TAG = 0x12;

// ---------------------------------------------------------------------------------- processes

/** The gateway process: gRPC on `port`, the OpenAI-compatible HTTP API on `httpPort`. */
export interface Gateway extends Started {
  readonly httpPort: number;
}

export interface Fleet {
  readonly upstream: Started;
  readonly gateway: Gateway;
  readonly echo: Started;
  readonly peer: Started | undefined;
  stop(): Promise<void>;
}

export const tsxArgs = (script: string): string[] => ['--import', 'tsx', join(BENCH_DIR, script)];
export const portFrom =
  (key: string) =>
  (line: string): number | undefined => {
    try {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      return parsed[key] === 'listening' && typeof parsed.port === 'number' ? parsed.port : undefined;
    } catch {
      return undefined;
    }
  };

export function gatewayEnv(upstreamPort: number, port: number, logLevel: string, httpPort = 0): Record<string, string> {
  return {
    HOST: '127.0.0.1',
    PORT: String(port),
    // Its own free port: the default (8080) would collide when two gateways run at once.
    HTTP_PORT: String(httpPort),
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

export function countCallLine(line: string): void {
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
  /** The script to run, relative to gatewayDir (`src/main.ts` with nodeArgs `--import tsx`: no build). */
  entry = 'dist/main.js',
): Promise<Gateway> {
  const port = await freePort();
  const httpPort = await freePort();
  // The default ledger (SQLite), in a new file per gateway: every run starts from the same empty
  // ledger, and none grows in the checkout's ./data from run to run. A DATABASE_URL given wins.
  const ledgerDir = extraEnv.DATABASE_URL || process.env.DATABASE_URL ? undefined : mkdtempSync(join(tmpdir(), 'bench-ledger-'));
  const ledgerEnv: Record<string, string> = ledgerDir ? { DATABASE_URL: `sqlite:${join(ledgerDir, 'orchestrator.db')}` } : {};
  const removeLedger = (): void => {
    if (ledgerDir) rmSync(ledgerDir, { recursive: true, force: true });
  };
  let gateway: Started;
  try {
    gateway = await startProcess({
      name: 'gateway',
      command: process.execPath,
      args: [...startFlags(gatewayDir), ...nodeArgs, join(gatewayDir, entry)],
      cwd: gatewayDir,
      env: { ...gatewayEnv(upstreamPort, port, logLevel, httpPort), ...ledgerEnv, ...extraEnv },
      port,
      onLine: countCallLine,
    });
  } catch (err) {
    removeLedger();
    throw err;
  }
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
  const stop = gateway.stop;
  return {
    ...gateway,
    httpPort,
    stop: async () => {
      await stop();
      removeLedger();
    },
  };
}

/**
 * The Node flags `npm start` runs the gateway with (its `start` script, between `node` and the
 * entry; the Dockerfile's CMD carries the same ones), so the bench measures the process users run.
 */
export function startFlags(gatewayDir: string): string[] {
  const scripts = (JSON.parse(readFileSync(join(gatewayDir, 'package.json'), 'utf8')) as { scripts?: { start?: string } }).scripts;
  const words = (scripts?.start ?? '').split(/\s+/);
  return words[0] === 'node' ? words.slice(1).filter((w) => w.startsWith('--')) : [];
}

export function buildGateway(dir: string): void {
  log(`building the gateway in ${dir} (npm run build) ...`);
  const r = spawnSync('npm', ['run', 'build', '--silent'], { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(`npm run build failed in ${dir} (use --no-build to run the existing dist/):\n${r.stdout}\n${r.stderr}`);
  }
}

export function ensurePeer(): void {
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

export async function startPeer(): Promise<Started> {
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

export interface Clients {
  readonly direct: HttpTarget;
  readonly peer: HttpTarget | undefined;
  readonly gateway: GrpcH2Client;
  readonly echo: GrpcH2Client;
  close(): Promise<void>;
}

export function peerHeaders(upstreamPort: number): Record<string, string> {
  return {
    'content-type': 'application/json',
    authorization: 'Bearer bench',
    'x-portkey-provider': 'openai',
    'x-portkey-custom-host': `http://127.0.0.1:${upstreamPort}/v1`,
  };
}

export function clientsFor(fleet: Fleet, connections = 1): Clients {
  const up = fleet.upstream.port;
  const direct = new HttpTarget(
    `http://127.0.0.1:${up}`,
    '/v1/chat/completions',
    {
      'content-type': 'application/json',
      authorization: 'Bearer bench',
    },
    connections,
  );
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

export interface GatewayCounts {
  readonly total: number;
  readonly ok: number;
  readonly failed: number;
}

export async function gatewayCounts(client: GrpcH2Client): Promise<GatewayCounts> {
  const r = await client.unary(GET_STATS, grpcFrame(GetStatsRequest.encode({}).finish()));
  if (r.grpcStatus !== 0 || !r.message) throw new Error(`GetStats failed (grpc-status ${r.grpcStatus})`);
  const s = GetStatsResponse.decode(r.message);
  return { total: s.totalRequests, ok: s.successfulRequests, failed: s.failedRequests };
}

/**
 * Runs a measurement up to `attempts` times while other processes took more than QUIET_CORES
 * of the machine during it, and keeps the run they disturbed least.
 */
export async function leastDisturbed<T>(run: () => Promise<T>, others: (result: T) => number, what: string, attempts = 3): Promise<T> {
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

export interface Files {
  readonly chatFrame: string;
  readonly chatJson: string;
}

export function writeFiles(dir: string): Files {
  mkdirSync(dir, { recursive: true });
  const files = { chatFrame: join(dir, 'chat-request.grpc'), chatJson: join(dir, 'chat-request.json') };
  writeFileSync(files.chatFrame, chatFrame('gpt-4o'));
  writeFileSync(files.chatJson, jsonBody('gpt-4o'));
  return files;
}

export type TargetName = 'direct' | 'echo' | 'gateway' | 'peer';
