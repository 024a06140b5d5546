/** The run's report: what it measured (JSON) and the tables it prints. */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { PACED_TOKENS, PEER_PACKAGE, RATE_RPS, TOKEN_RATE, type Fleet } from './fleet.js';
import { WORKERS_TARGET, label } from './labels.js';
import { round } from './lib/stats.js';
import { fmt, int, table } from './lib/table.js';
import type { Options } from './options.js';
import type { ProfileResult } from './profile.js';
import { HTTP_CONCURRENCY, type HttpRows } from './scenarios/http.js';
import type { AllocationResult } from './scenarios/allocation.js';
import type { Overhead, RaceFallback } from './scenarios/sequential.js';
import type { StreamsResult } from './scenarios/streams.js';
import type { ThroughputRow } from './scenarios/throughput.js';
import { formatTransportRows, type TransportRow } from './transport.js';

export interface Target {
  readonly value: number | undefined;
  readonly limit: string;
  readonly pass: boolean | undefined;
  /** Why there is no value (printed in place of the result). */
  readonly note?: string;
}

/** The gRPC scenarios are absent with --http-only, the HTTP rows with --no-http. */
export interface Report {
  readonly meta: Record<string, unknown>;
  readonly overhead?: Overhead;
  readonly throughput?: ThroughputRow[];
  readonly fixedRate?: ThroughputRow[];
  readonly streams?: StreamsResult[];
  readonly raceFallback?: RaceFallback;
  readonly allocation?: AllocationResult;
  /** The OpenAI-compatible HTTP API against the upstream and the peer. */
  readonly http?: HttpRows;
  readonly targets: Record<string, Target>;
  transport?: TransportRow[];
  profile?: ProfileResult;
}

export function meta(options: Options, fleet: Fleet): Record<string, unknown> {
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
    rows: options.httpOnly ? 'HTTP API only' : options.http ? 'gRPC and HTTP API' : 'gRPC only',
    upstream: { tokenRate: TOKEN_RATE, pacedTokens: PACED_TOKENS },
    loadAverageAtStart: os.loadavg().map((v) => round(v, 2)),
  };
}

// ---------------------------------------------------------------------------------- rendering

export function render(r: Report): string {
  const out: string[] = [];
  const m = r.meta as {
    date: string;
    mode: string;
    machine: { cpu: string; cores: number; memoryGb: number };
    node: string;
    gatewayCommit: string;
    gatewayDirty: boolean;
    gatewayLogLevel: string;
    peer: string;
    durationSeconds?: number;
  };
  out.push(
    `llm-orchestrator bench  ${m.date}  (${m.mode}, ${m.durationSeconds ?? '?'} s)`,
    `machine: ${m.machine.cpu}, ${m.machine.cores} cores, ${m.machine.memoryGb} GB; node ${m.node}; gateway ${m.gatewayCommit}${m.gatewayDirty ? '+dirty' : ''} LOG_LEVEL=${m.gatewayLogLevel}; peer ${m.peer}`,
  );
  if (r.overhead && r.throughput && r.fixedRate && r.streams && r.raceFallback) {
    renderGrpc(out, {
      overhead: r.overhead,
      throughput: r.throughput,
      fixedRate: r.fixedRate,
      streams: r.streams,
      raceFallback: r.raceFallback,
    });
  }
  if (r.allocation) {
    const a = r.allocation;
    out.push(
      '',
      `5. Allocation: ${int(a.calls)} unary Chat calls (${a.concurrency} in flight, after a warm-up), V8 heap bytes the gateway allocated / calls`,
      `   ${fmt(a.bytesPerCall / 1024, 1)} KB per call; ${a.collections} collections, GC pauses ${fmt(a.gcPauseMsPerSecond, 1)} ms per second; ${a.failed} failed calls; ${fmt(a.seconds, 1)} s`,
    );
  }
  if (r.http) renderHttp(out, r.http);
  out.push('', 'Targets');
  out.push(
    table(
      ['target', 'measured', 'limit', 'result'],
      Object.entries(r.targets).map(([name, t]) => [
        name,
        t.value === undefined ? 'n/a' : Number.isInteger(t.value) ? int(t.value) : fmt(t.value, 3),
        t.limit,
        t.pass === undefined ? (t.note ?? 'n/a') : t.pass ? 'PASS' : 'FAIL',
      ]),
    ),
  );
  if (r.transport) out.push('', 'Client transport (one Node process, concurrency 64, CPU per call)', formatTransportRows(r.transport));
  if (r.profile) out.push('', r.profile.text);
  return out.join('\n');
}

interface GrpcMeasured {
  readonly overhead: Overhead;
  readonly throughput: ThroughputRow[];
  readonly fixedRate: ThroughputRow[];
  readonly streams: StreamsResult[];
  readonly raceFallback: RaceFallback;
}

function renderGrpc(out: string[], r: GrpcMeasured): void {
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
  for (const t of r.throughput.filter((x) => x.target === 'gateway' || x.target === WORKERS_TARGET))
    out.push(`   ${label(t.target)} c=${t.concurrency}: ${t.errorCheck}`);
  const directRate = r.fixedRate.find((t) => t.target === 'direct');
  out.push(
    '',
    `   Latency at a fixed ${int(RATE_RPS)} req/s (open loop, evenly spaced sends from the bench process; added = target - direct)`,
  );
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
      [
        'target',
        'streams',
        'tokens/s',
        'offered',
        'TTFT P50',
        'TTFT P99',
        'ramp P50',
        'started',
        'failed',
        'RSS MB',
        'peak RSS',
        'CPU cores',
      ],
      r.streams.map((s) => [
        label(s.target),
        String(s.concurrency),
        int(s.tokensPerSec),
        int(s.offeredTokensPerSec),
        fmt(s.ttft.p50, 2),
        fmt(s.ttft.p99, 2),
        fmt(s.ttftRamp?.p50, 2),
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
      Object.keys(rf.result.medianMs).map((n) => [
        n,
        fmt(rf.result.medianMs[n], 3),
        fmt(rf.result.p99Ms[n], 3),
        String(rf.result.failures[n] ?? 0),
      ]),
    ),
  );
  const span = (x: { median: number; min: number; max: number }): string => `${fmt(x.median, 3)} ms [${fmt(x.min, 3)}..${fmt(x.max, 3)}]`;
  out.push(`   race cost (race - its fastest member alone, both through the gateway): ${span(rf.raceCostMs)}`);
  out.push(
    `   fallback cost (fallback - (failure + success) direct): gateway ${span(rf.fallbackCostMs)}${rf.peerFallbackCostMs ? `; peer ${span(rf.peerFallbackCostMs)}` : ''}`,
  );
}

export function cpuText(cpu: Record<string, number>): string {
  return Object.entries(cpu)
    .map(([k, v]) => `${k} ${v.toFixed(2)}`)
    .join(', ');
}

/** A measured value against its limit; no value (not measured, NaN): n/a rather than FAIL. */
function check(value: number | undefined, ok: (v: number) => boolean, limit: string, missing?: string): Target {
  const measured = value !== undefined && Number.isFinite(value);
  return {
    value: measured ? round(value, 3) : undefined,
    limit,
    pass: measured ? ok(value) : undefined,
    ...(measured || missing === undefined ? {} : { note: missing }),
  };
}

/** What the targets are computed from: the gRPC scenarios of one run. */
export type TargetInputs = Omit<GrpcMeasured, 'raceFallback'> & { readonly allocation: AllocationResult | undefined };

/**
 * The targets the gateway is held to (the performance plan's list), from what this run measured.
 * `peerMissing`: why there are no Portkey rows (the rows that compare with it print n/a and why).
 */
export function targetsOf(report: TargetInputs, levels: readonly number[], peerMissing: string | undefined): Record<string, Target> {
  const tput = (target: string, c: number): number | undefined =>
    report.throughput.find((r) => r.target === target && r.concurrency === c)?.reqPerSec;
  // Peak against peak: each at the concurrency level where it does best.
  const peak = (target: string): number => Math.max(...levels.map((c) => tput(target, c) ?? NaN).filter(Number.isFinite));
  const echo = report.throughput.find((r) => r.target === 'echo')?.reqPerSec;
  const floorShare = echo ? peak('gateway') / echo : undefined;
  const workersRatio = peerMissing === undefined ? peak(WORKERS_TARGET) / peak('peer') : undefined;
  const rateP99 = report.fixedRate.find((r) => r.target === 'gateway')?.p99Ms;
  const streams = report.streams.find((s) => s.target === 'gateway');
  const delivered = streams ? streams.tokensPerSec / streams.offeredTokensPerSec : undefined;
  const kb = report.allocation ? report.allocation.bytesPerCall / 1024 : undefined;
  return {
    'unary throughput, one process, share of the grpc-js echo floor': check(
      floorShare,
      (v) => v >= 0.4,
      `>= 0.4 (echo ${echo ? int(echo) : '?'} req/s)`,
    ),
    [`unary throughput, ${label(WORKERS_TARGET)}, vs Portkey peak (x)`]: check(
      workersRatio,
      (v) => v >= 10,
      '>= 10x',
      `n/a: ${peerMissing ?? 'no WORKERS rows'}`,
    ),
    'added latency P50, sequential Chat (ms)': check(report.overhead.addedChat.gateway?.median, (v) => v <= 0.4, '<= 0.4 ms'),
    'added time to first token P50, sequential (ms)': check(report.overhead.addedTtft.gateway?.median, (v) => v <= 0.5, '<= 0.5 ms'),
    [`P99 at a fixed ${int(RATE_RPS)} req/s, one process (ms)`]: check(rateP99, (v) => v <= 3, '<= 3 ms'),
    'allocation per unary call (KB, V8 heap)': check(kb, (v) => v <= 30, '<= 30 KB', 'n/a: not measured'),
    '1,000 streams: tokens delivered of offered': check(delivered, (v) => v >= 0.99, '>= 0.99'),
    '1,000 streams: TTFT P50 while ramping (ms)': check(streams?.ttftRamp.p50, (v) => v <= 50, '<= 50 ms'),
    '1,000 streams: peak RSS (MB)': check(streams?.peakRssMb, (v) => v <= 150, '<= 150 MB'),
    'idle RSS of a fresh gateway (MB)': check(streams?.rssBeforeMb, (v) => v <= 80, '<= 80 MB'),
  };
}

// ---------------------------------------------------------------------------------- HTTP API rows

function renderHttp(out: string[], h: HttpRows): void {
  const s = h.sequential;
  out.push('', 'HTTP API (OpenAI-compatible POST /v1/chat/completions, HTTP/1.1; the peer on the same protocol)');
  out.push('', '   Sequential (median of round medians; added = target - direct per round, median [min..max])');
  out.push(
    table(
      ['target', 'unary ms', 'P99', 'added ms', 'spread', 'TTFT ms', 'P99', 'added ms', 'spread', 'failures'],
      Object.keys(s.chat.medianMs).map((n) => {
        const ac = s.addedChat[n];
        const at = s.addedTtft[n];
        return [
          label(n),
          fmt(s.chat.medianMs[n], 3),
          fmt(s.chat.p99Ms[n], 3),
          ac ? fmt(ac.median, 3) : '-',
          ac ? `${fmt(ac.min, 3)}..${fmt(ac.max, 3)}` : '-',
          fmt(s.ttft.medianMs[n], 3),
          fmt(s.ttft.p99Ms[n], 3),
          at ? fmt(at.median, 3) : '-',
          at ? `${fmt(at.min, 3)}..${fmt(at.max, 3)}` : '-',
          String((s.chat.failures[n] ?? 0) + (s.ttft.failures[n] ?? 0)),
        ];
      }),
    ),
  );
  out.push(
    '',
    `   Throughput (h2load --h1, ${HTTP_CONCURRENCY} connections, one request in flight each; stream: 20 chunks read to [DONE]; errors: HTTP status; the median of interleaved rounds)`,
  );
  out.push(
    table(
      ['target', 'body', 'conc', 'req/s', 'rounds', 'P50 ms', 'P99 ms', 'errors', 'x peer', 'CPU cores'],
      h.throughput.map((t) => {
        const peer = h.throughput.find((x) => x.target === 'peer' && x.body === t.body)?.reqPerSec;
        return [
          label(t.target),
          t.body,
          String(t.concurrency),
          int(t.reqPerSec),
          (t.roundsReqPerSec ?? [t.reqPerSec]).map(int).join(' '),
          fmt(t.p50Ms, 3),
          fmt(t.p99Ms, 3),
          String(t.errors),
          peer && t.target.startsWith('gateway-http') ? `${fmt(t.reqPerSec / peer, 1)}x` : '-',
          cpuText(t.cpu),
        ];
      }),
    ),
  );
  out.push(
    '',
    `   Concurrent SSE streams, ${PACED_TOKENS} tokens each at ${TOKEN_RATE} tokens/s, every stream read to its end (complete: HTTP 200 and every token)`,
  );
  out.push(
    table(
      ['target', 'streams', 'complete', 'tokens', 'of', 'TTFT P50', 'TTFT P99', 'seconds', 'peak RSS', 'CPU cores'],
      h.streams.map((x) => [
        label(x.target),
        String(x.streams),
        String(x.complete),
        int(x.tokensDelivered),
        int(x.tokensExpected),
        fmt(x.ttft.p50, 2),
        fmt(x.ttft.p99, 2),
        fmt(x.seconds, 1),
        fmt(x.peakRssMb, 0),
        cpuText(x.cpu),
      ]),
    ),
  );
}

/** The HTTP API's targets: against the peer measured in the same run, and every token delivered. */
export function httpTargetsOf(h: HttpRows, hasPeer: boolean, peerMissing = 'peer not started'): Record<string, Target> {
  const noPeer = `n/a: ${peerMissing}`;
  const tput = (target: string, body: string): number | undefined =>
    h.throughput.find((t) => t.target === target && t.body === body)?.reqPerSec;
  const ratio = (body: string, target = 'gateway-http'): number | undefined => {
    const peer = tput('peer', body);
    const gateway = tput(target, body);
    return hasPeer && peer && gateway !== undefined ? gateway / peer : undefined;
  };
  const third = (ours: { median: number } | undefined, peer: { median: number } | undefined, what: string): Target => {
    if (!hasPeer || !peer || !Number.isFinite(peer.median)) return check(undefined, () => false, `<= Portkey's / 3 (${what})`, noPeer);
    // Below direct (noise) counts as zero added for the peer's bound.
    const limit = Math.max(0, peer.median) / 3;
    return check(ours?.median, (v) => v <= limit, `<= ${fmt(limit, 3)} ms (Portkey ${fmt(peer.median, 3)} / 3)`);
  };
  const s = h.sequential;
  const streams = h.streams.find((x) => x.target === 'gateway-http');
  return {
    [`HTTP unary throughput c=${HTTP_CONCURRENCY} vs Portkey (x)`]: check(ratio('unary'), (v) => v >= 5, '>= 5x', noPeer),
    [`HTTP stream throughput c=${HTTP_CONCURRENCY} vs Portkey (x)`]: check(ratio('stream'), (v) => v >= 5, '>= 5x', noPeer),
    ...(h.throughput.some((t) => t.target === 'gateway-http-workers')
      ? {
          [`HTTP unary throughput c=${HTTP_CONCURRENCY}, ${label('gateway-http-workers').replace('gateway HTTP API, ', '')}, vs Portkey (x)`]:
            check(ratio('unary', 'gateway-http-workers'), (v) => v >= 5, '>= 5x', noPeer),
          [`HTTP stream throughput c=${HTTP_CONCURRENCY}, ${label('gateway-http-workers').replace('gateway HTTP API, ', '')}, vs Portkey (x)`]:
            check(ratio('stream', 'gateway-http-workers'), (v) => v >= 5, '>= 5x', noPeer),
        }
      : {}),
    'HTTP added latency, sequential unary (ms)': third(s.addedChat['gateway-http'], s.addedChat.peer, 'unary'),
    'HTTP added time to first token, sequential (ms)': third(s.addedTtft['gateway-http'], s.addedTtft.peer, 'TTFT'),
    [`HTTP ${int(streams?.streams)} SSE streams with every token (streams)`]: check(
      streams?.complete,
      (v) => v === streams?.streams && streams.tokensDelivered === streams.tokensExpected,
      `= ${int(streams?.streams)}, ${int(streams?.tokensExpected)} tokens`,
    ),
  };
}
