/**
 * The OpenAI-compatible HTTP API rows: the gateway's POST /v1/chat/completions (unary and
 * `stream: true`, HTTP/1.1) against the upstream alone and against the Portkey peer on the same
 * protocol, with the same request bodies. Three measurements: sequential added latency, h2load
 * throughput at one concurrency level, and concurrent SSE streams read to their last token.
 */
import { setMaxListeners } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BENCH_DIR,
  PACED_TOKENS,
  QUIET_CORES,
  TOKEN_RATE,
  jsonBody,
  leastDisturbed,
  log,
  peerHeaders,
  startGateway,
  type Fleet,
  type Gateway,
} from '../fleet.js';
import { setBenchWorkers } from '../labels.js';
import { runH2load } from '../lib/h2load.js';
import { HttpTarget } from '../lib/http-client.js';
import { CpuMeter, procMemory, sleep, waitForQuiet } from '../lib/proc.js';
import { distribution, round, type Distribution } from '../lib/stats.js';
import { fmt, int } from '../lib/table.js';
import type { Plan } from '../options.js';
import { added, httpTtftProbe, rounds, ttftRounds, type RoundsResult } from './sequential.js';

/** Who answers an HTTP row: the upstream alone, the gateway's HTTP API, or the peer. */
export type HttpTargetName = 'direct' | 'gateway-http' | 'gateway-http-workers' | 'peer';
export type Body = 'unary' | 'stream';

export interface HttpSequential {
  readonly chat: RoundsResult;
  readonly ttft: RoundsResult;
  /** Per target (not direct): target minus direct, per round: median and spread (ms). */
  readonly addedChat: Record<string, { median: number; min: number; max: number }>;
  readonly addedTtft: Record<string, { median: number; min: number; max: number }>;
}

export interface HttpThroughputRow {
  readonly target: HttpTargetName;
  readonly body: Body;
  readonly concurrency: number;
  readonly reqPerSec: number;
  readonly p50Ms: number | undefined;
  readonly p99Ms: number | undefined;
  /** Non-2xx, errored and timed-out requests as h2load counts them (every round's). */
  readonly errors: number;
  readonly cpu: Record<string, number>;
  /** req/s of each interleaved round; the row is the median round (the lower middle of an even count). */
  readonly roundsReqPerSec?: readonly number[];
}

export interface HttpStreamsRow {
  readonly target: HttpTargetName;
  readonly streams: number;
  /** Streams that ended with HTTP 200 and every one of the upstream's tokens. */
  readonly complete: number;
  /** Streams that ended early, short of tokens, or not with 200. */
  readonly incomplete: number;
  readonly tokensExpected: number;
  readonly tokensDelivered: number;
  readonly ttft: Distribution;
  /** From the first stream's start to the last stream's end (s). */
  readonly seconds: number;
  readonly peakRssMb: number;
  readonly cpu: Record<string, number>;
}

export interface HttpRows {
  readonly sequential: HttpSequential;
  readonly throughput: HttpThroughputRow[];
  readonly streams: HttpStreamsRow[];
}

/** The concurrency of the HTTP throughput rows. */
export const HTTP_CONCURRENCY = 256;

const CHAT_PATH = '/v1/chat/completions';
const DIRECT_HEADERS = { 'content-type': 'application/json', authorization: 'Bearer bench' };

/** The bench's fleet, plus the gateway as cluster workers while their rows run. */
interface HttpFleet extends Fleet {
  readonly workers?: Gateway | undefined;
}

function originOf(fleet: HttpFleet, target: HttpTargetName): string {
  return `http://127.0.0.1:${gatewayOf(fleet, target)?.httpPort ?? (target === 'direct' ? fleet.upstream.port : fleet.peer!.port)}`;
}

function gatewayOf(fleet: HttpFleet, target: HttpTargetName): Gateway | undefined {
  return target === 'gateway-http' ? fleet.gateway : target === 'gateway-http-workers' ? fleet.workers : undefined;
}

function headersOf(fleet: Fleet, target: HttpTargetName): Record<string, string> {
  return target === 'peer' ? peerHeaders(fleet.upstream.port) : DIRECT_HEADERS;
}

function pidOf(fleet: HttpFleet, target: HttpTargetName): number {
  return gatewayOf(fleet, target)?.pid ?? (target === 'direct' ? fleet.upstream.pid : fleet.peer!.pid);
}

/** The CPU column names the process, as in the gRPC tables (the workers' primary counts its workers). */
function cpuName(target: HttpTargetName): string {
  return target === 'gateway-http' || target === 'gateway-http-workers' ? 'gateway' : target;
}

function targetsOf(fleet: Fleet): HttpTargetName[] {
  return fleet.peer ? ['direct', 'gateway-http', 'peer'] : ['direct', 'gateway-http'];
}

/** The gRPC port answers before the HTTP one may: wait for GET /health. */
async function waitForHttp(fleet: Fleet): Promise<void> {
  for (let i = 0; ; i++) {
    const ok = await fetch(`${originOf(fleet, 'gateway-http')}/health`)
      .then((r) => r.status === 200)
      .catch(() => false);
    if (ok) return;
    if (i > 100)
      throw new Error(`the gateway's HTTP API does not answer GET /health on ${fleet.gateway.httpPort}:\n${fleet.gateway.tail()}`);
    await sleep(50);
  }
}

/** Sequential unary calls and time to first token, interleaved rounds, against direct. */
async function sequentialRows(fleet: Fleet, p: Plan): Promise<HttpSequential> {
  log('HTTP 1/3 sequential latency ...');
  await waitForQuiet(p.quietWaitMs, QUIET_CORES, log);
  const chatJson = jsonBody('gpt-4o');
  const streamJson = jsonBody('gpt-4o', true);
  const clients = Object.fromEntries(
    targetsOf(fleet).map((t) => [t, new HttpTarget(originOf(fleet, t), CHAT_PATH, headersOf(fleet, t))]),
  ) as Record<HttpTargetName, HttpTarget>;
  const n = (t: HttpTargetName, full: number, peer: number): number => (t === 'peer' ? peer : full);
  try {
    const chat = await rounds(
      Object.fromEntries(
        Object.entries(clients).map(([t, c]) => [
          t,
          { probe: async () => (await c.post(chatJson)) === 200, n: n(t as HttpTargetName, p.seqN, p.seqPeerN) },
        ]),
      ),
      p.rounds,
      'HTTP chat',
      p.seqWarmup,
    );
    const ttft = await ttftRounds(
      Object.fromEntries(
        Object.entries(clients).map(([t, c]) => [
          t,
          { make: (sink: number[]) => httpTtftProbe(c, streamJson, sink), n: n(t as HttpTargetName, p.ttftN, p.ttftPeerN) },
        ]),
      ),
      Math.max(3, Math.ceil(p.rounds / 2)),
    );
    const addedTo = (r: RoundsResult) =>
      Object.fromEntries(
        Object.keys(r.medianMs)
          .filter((t) => t !== 'direct')
          .map((t) => [t, added(r, t, 'direct')]),
      );
    return { chat, ttft, addedChat: addedTo(chat), addedTtft: addedTo(ttft) };
  } finally {
    await Promise.all(Object.values(clients).map((c) => c.close()));
  }
}

/** How to start the gateway as cluster workers for their throughput rows; count 1: no such rows. */
export interface HttpWorkers {
  readonly count: number;
  readonly gatewayDir: string;
  readonly logLevel: string;
}

/**
 * h2load --h1 at HTTP_CONCURRENCY connections, one request in flight on each. Then, as for the
 * gRPC rows, the same gateway as WORKERS=n processes sharing the HTTP port (node:cluster),
 * started for these rows alone, its ledger off (workers cannot share the default SQLite file).
 */
async function throughputRows(fleet: Fleet, h2load: string, p: Plan, workers: HttpWorkers): Promise<HttpThroughputRow[]> {
  log(`HTTP 2/3 throughput (h2load --h1, c=${HTTP_CONCURRENCY}) ...`);
  const rows = await throughputRuns(fleet, h2load, p, targetsOf(fleet));
  if (workers.count > 1) {
    setBenchWorkers(workers.count);
    const cluster = await startGateway(workers.gatewayDir, fleet.upstream.port, workers.logLevel, [], {
      WORKERS: String(workers.count),
      DATABASE_URL: 'off',
    });
    try {
      await waitForHttp({ ...fleet, gateway: cluster });
      rows.push(...(await throughputRuns({ ...fleet, workers: cluster }, h2load, p, ['gateway-http-workers'])));
    } finally {
      await cluster.stop();
    }
  }
  return rows;
}

async function throughputRuns(fleet: HttpFleet, h2load: string, p: Plan, targets: HttpTargetName[]): Promise<HttpThroughputRow[]> {
  const dir = join(BENCH_DIR, 'results/tmp');
  mkdirSync(dir, { recursive: true });
  const files: Record<Body, string> = { unary: join(dir, 'chat-request.json'), stream: join(dir, 'chat-stream-request.json') };
  writeFileSync(files.unary, jsonBody('gpt-4o'));
  writeFileSync(files.stream, jsonBody('gpt-4o', true));
  const runs: { target: HttpTargetName; body: Body }[] = [
    ...(targets.includes('direct') ? [{ target: 'direct' as const, body: 'unary' as const }] : []),
    ...targets.filter((t) => t !== 'direct').flatMap((target) => (['unary', 'stream'] as const).map((body) => ({ target, body }))),
  ];
  const h2loadArgs = (target: HttpTargetName, body: Body) => ({
    url: `${originOf(fleet, target)}${CHAT_PATH}`,
    h1: true,
    clients: HTTP_CONCURRENCY,
    streams: 1,
    dataFile: files[body],
    headers: Object.entries(headersOf(fleet, target)).map(([k, v]) => `${k}: ${v}`),
  });
  // A number of requests, not seconds: the peer answers a fifth as many per second, and a
  // time-based warm-up left it (and the gateway's stream path) measured while still settling.
  for (const { target, body } of runs) {
    if (target !== 'direct') await runH2load(h2load, { ...h2loadArgs(target, body), requests: p.tputWarmupRequests });
  }
  const once = async (target: HttpTargetName, body: Body): Promise<HttpThroughputRow> => {
    await waitForQuiet(p.quietWaitMs, QUIET_CORES, log);
    const pids: Record<string, number | 'self'> = { upstream: fleet.upstream.pid };
    if (target !== 'direct') pids[cpuName(target)] = pidOf(fleet, target);
    const meter = new CpuMeter(pids).begin();
    const r = await runH2load(h2load, { ...h2loadArgs(target, body), durationS: p.tputSeconds, warmupS: p.tputWarmup, latencies: true });
    const measured = meter.end();
    return {
      target,
      body,
      concurrency: HTTP_CONCURRENCY,
      reqPerSec: r.reqPerSec,
      p50Ms: r.latency?.p50,
      p99Ms: r.latency?.p99,
      errors: r.statusNon2xx + r.errored + r.timeout,
      cpu: { ...measured, h2load: r.loadCpu, others: Math.max(0, round((measured.others ?? 0) - r.loadCpu, 2)) },
    };
  };
  // Interleaved rounds (every row once per round, in the same order), each row's median round
  // reported: one slow window on a shared machine no longer decides a ratio on its own.
  const measured = runs.map(() => [] as HttpThroughputRow[]);
  for (let r = 0; r < p.tputRounds; r++) {
    for (const [i, { target, body }] of runs.entries()) {
      const row = await leastDisturbed(
        () => once(target, body),
        (x) => x.cpu.others ?? 0,
        `HTTP ${target} ${body}`,
        p.quietAttempts,
      );
      measured[i]!.push(row);
      log(`  ${target} ${body} c=${HTTP_CONCURRENCY}, round ${r + 1}/${p.tputRounds}: ${int(row.reqPerSec)} req/s, errors ${row.errors}`);
    }
  }
  return measured.map((rounds) => {
    const sorted = [...rounds].sort((x, y) => x.reqPerSec - y.reqPerSec);
    const errors = rounds.reduce((sum, x) => sum + x.errors, 0);
    return { ...sorted[Math.floor((sorted.length - 1) / 2)]!, errors, roundsReqPerSec: rounds.map((x) => x.reqPerSec) };
  });
}

/**
 * `count` concurrent SSE streams of PACED_TOKENS tokens each at TOKEN_RATE, every one read to
 * its end: a stream counts as complete only with HTTP 200 and every token.
 */
async function everyTokenStreams(fleet: Fleet, target: HttpTargetName, p: Plan): Promise<HttpStreamsRow> {
  const count = p.streams;
  await waitForQuiet(p.quietWaitMs, QUIET_CORES, log);
  const client = new HttpTarget(originOf(fleet, target), CHAT_PATH, headersOf(fleet, target), count);
  const body = jsonBody('gpt-3.5-turbo', true);
  const pid = pidOf(fleet, target);
  const pids: Record<string, number | 'self'> = { upstream: fleet.upstream.pid, client: 'self' };
  if (target !== 'direct') pids[cpuName(target)] = pid;
  // Generous: a stream lasts PACED_TOKENS / TOKEN_RATE seconds; one still open long after is lost.
  const deadline = new AbortController();
  // Every stream listens on this one signal.
  setMaxListeners(count + 10, deadline.signal);
  const timer = setTimeout(() => deadline.abort(), p.streamRampMs + (PACED_TOKENS / TOKEN_RATE) * 1000 * 4 + 30_000);
  let peakRssMb = procMemory(pid).rssMb;
  const sampler = setInterval(() => {
    try {
      peakRssMb = Math.max(peakRssMb, procMemory(pid).rssMb);
    } catch {
      /* gone */
    }
  }, 100);
  const ttft: number[] = [];
  const meter = new CpuMeter(pids).begin();
  const t0 = performance.now();
  const one = async (): Promise<number> => {
    const start = performance.now();
    let first = true;
    const r = await client
      .stream(
        body,
        () => {
          if (first) {
            first = false;
            ttft.push(performance.now() - start);
          }
        },
        deadline.signal,
      )
      .catch(() => ({ status: -1, tokens: 0 }));
    return r.status === 200 ? r.tokens : -r.tokens - 1;
  };
  const started: Promise<number>[] = [];
  const perTick = Math.max(1, Math.ceil(count / Math.max(1, p.streamRampMs / 10)));
  for (let i = 0; i < count; i += perTick) {
    for (let j = i; j < Math.min(count, i + perTick); j++) started.push(one());
    await sleep(10);
  }
  const results = await Promise.all(started);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = meter.end();
  clearTimeout(timer);
  clearInterval(sampler);
  await client.close();
  // A negative result is a stream that did not end with 200: -(tokens read) - 1.
  const delivered = results.reduce((sum, r) => sum + (r >= 0 ? r : -r - 1), 0);
  const complete = results.filter((r) => r === PACED_TOKENS).length;
  return {
    target,
    streams: count,
    complete,
    incomplete: count - complete,
    tokensExpected: count * PACED_TOKENS,
    tokensDelivered: delivered,
    ttft: distribution(ttft),
    seconds: round(seconds, 2),
    peakRssMb: round(peakRssMb, 1),
    cpu,
  };
}

async function streamRows(fleet: Fleet, p: Plan): Promise<HttpStreamsRow[]> {
  log(`HTTP 3/3 streams (${p.streams} concurrent SSE, ${PACED_TOKENS} tokens at ${TOKEN_RATE} tokens/s each, read to the end) ...`);
  const rows: HttpStreamsRow[] = [];
  for (const target of targetsOf(fleet)) {
    const row = await everyTokenStreams(fleet, target, p);
    rows.push(row);
    log(
      `  ${target}: ${row.complete}/${row.streams} streams with every token, ${int(row.tokensDelivered)}/${int(row.tokensExpected)} tokens, peak RSS ${fmt(row.peakRssMb, 0)} MB`,
    );
  }
  return rows;
}

/** Every HTTP row, in order: sequential, throughput, streams. */
export async function httpScenarios(fleet: Fleet, h2load: string, p: Plan, workers: HttpWorkers): Promise<HttpRows> {
  await waitForHttp(fleet);
  const sequential = await sequentialRows(fleet, p);
  const throughput = await throughputRows(fleet, h2load, p, workers);
  const streams = await streamRows(fleet, p);
  return { sequential, throughput, streams };
}
