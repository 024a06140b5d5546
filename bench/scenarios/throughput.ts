/** Throughput scenarios: h2load at fixed concurrency levels, and latency at a fixed request rate. */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import {
  BENCH_DIR,
  CHAT,
  QUIET_CORES,
  RATE_RPS,
  chatFrame,
  gatewayCallCodes,
  gatewayCounts,
  jsonBody,
  leastDisturbed,
  log,
  peerHeaders,
  startGateway,
  writeFiles,
  type Files,
  type Fleet,
  type TargetName,
} from '../fleet.js';
import { WORKERS_TARGET, label, setBenchWorkers } from '../labels.js';
import { GrpcH2Client } from '../lib/grpc-h2.js';
import { runH2load, type H2loadResult } from '../lib/h2load.js';
import { HttpTarget } from '../lib/http-client.js';
import { CpuMeter, sleep, waitForQuiet } from '../lib/proc.js';
import { distribution, round, type Distribution } from '../lib/stats.js';
import { fmt, int } from '../lib/table.js';
import type { Options, Plan } from '../options.js';

export interface ThroughputRow {
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

/** Requests the bench upstream has answered since it started. */
export async function upstreamRequests(port: number): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/_bench/stats`);
  return ((await res.json()) as { requests: number }).requests;
}

export async function h2loadTarget(
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
    target === 'direct'
      ? fleet.upstream.port
      : target === 'echo'
        ? fleet.echo.port
        : target === 'gateway'
          ? fleet.gateway.port
          : fleet.peer!.port;
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

/** 2. Throughput: unary Chat at fixed concurrency, and latency at a fixed 1,000 req/s. */
export async function throughputScenario(
  fleet: Fleet,
  h2load: string,
  options: Options,
  p: Plan,
): Promise<{ throughput: ThroughputRow[]; fixedRate: ThroughputRow[] }> {
  const files = writeFiles(join(BENCH_DIR, 'results/tmp'));
  const hasPeer = fleet.peer !== undefined;
  const chatJson = jsonBody('gpt-4o');
  const rows: { throughput: ThroughputRow[]; fixedRate: ThroughputRow[] } = { throughput: [], fixedRate: [] };
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
    rows.throughput.push({
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
  const fixedRateRow = async (
    row: string,
    send: () => Promise<boolean>,
    pids: Record<string, number | 'self'>,
    errorCheck: string,
  ): Promise<void> => {
    const rateMeter = new CpuMeter(pids);
    const r = await leastDisturbed(
      async () => {
        await waitForQuiet(30_000, QUIET_CORES, log);
        return fixedRate(send, RATE_RPS, p.rateSeconds, 1, rateMeter);
      },
      (x) => x.cpu.others ?? 0,
      `${label(row)} @${RATE_RPS} req/s`,
    );
    rows.fixedRate.push({
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
    log(
      `  ${label(row)} @${RATE_RPS} req/s: p50 ${fmt(r.latency.p50, 3)} ms, p99 ${fmt(r.latency.p99, 3)} ms, send lag max ${fmt(r.maxLagMs, 2)} ms`,
    );
  };

  for (const run of runs) await throughputRow(fleet, run.target, run.target, run.concurrency);
  // Fixed rate: evenly spaced sends from this process (open loop: a send never waits for an
  // answer), latency from send to answer. h2load --rps sends in bursts per client tick.
  const rateClients = {
    direct: new HttpTarget(
      `http://127.0.0.1:${fleet.upstream.port}`,
      '/v1/chat/completions',
      { 'content-type': 'application/json', authorization: 'Bearer bench' },
      32,
    ),
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
  // rows alone; its CPU is the primary's plus the workers'. Its ledger is off: workers cannot
  // share the default SQLite file (they would need a PostgreSQL DATABASE_URL).
  if (options.workers > 1) {
    setBenchWorkers(options.workers);
    const workers = await startGateway(options.gatewayDir, fleet.upstream.port, options.logLevel, [], {
      WORKERS: String(options.workers),
      DATABASE_URL: 'off',
    });
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

  return rows;
}
