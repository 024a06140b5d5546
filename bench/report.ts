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
import type { Overhead, RaceFallback } from './scenarios/sequential.js';
import type { StreamsResult } from './scenarios/streams.js';
import type { ThroughputRow } from './scenarios/throughput.js';
import { formatTransportRows, type TransportRow } from './transport.js';

export interface Target {
  readonly value: number | undefined;
  readonly limit: string;
  readonly pass: boolean | undefined;
}

export interface Report {
  readonly meta: Record<string, unknown>;
  readonly overhead: Overhead;
  readonly throughput: ThroughputRow[];
  readonly fixedRate: ThroughputRow[];
  readonly streams: StreamsResult[];
  readonly raceFallback: RaceFallback;
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
    upstream: { tokenRate: TOKEN_RATE, pacedTokens: PACED_TOKENS },
    loadAverageAtStart: os.loadavg().map((v) => round(v, 2)),
  };
}

// ---------------------------------------------------------------------------------- rendering

export function render(r: Report): string {
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


export function cpuText(cpu: Record<string, number>): string {
  return Object.entries(cpu)
    .map(([k, v]) => `${k} ${v.toFixed(2)}`)
    .join(', ');
}


/** The targets the gateway is held to, from what the run measured. */
export function targetsOf(report: Omit<Report, 'targets' | 'meta'>, levels: readonly number[], hasPeer: boolean): Record<string, Target> {
  const tput = (target: string, c: number): number | undefined =>
    report.throughput.find((r) => r.target === target && r.concurrency === c)?.reqPerSec;
  // Peak against peak: each at the concurrency level where it does best.
  const peak = (target: string): number => Math.max(...levels.map((c) => tput(target, c) ?? NaN).filter(Number.isFinite));
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
  return {
      'unary throughput, peak vs Portkey peak (x)': check(hasPeer ? bestRatio : undefined, (v) => v >= 5, '>= 5x'),
      '  the same, one gateway process (x)': check(hasPeer ? processRatio : undefined, (v) => v >= 5, '>= 5x'),
      'added latency P50, sequential Chat (ms)': check(report.overhead.addedChat.gateway?.median, (v) => v <= 0.4, '<= 0.4 ms'),
      'added latency P99 at 1,000 req/s (ms)': check(addedP99, (v) => v <= 2, '<= 2 ms'),
      'added time to first token, sequential (ms)': check(report.overhead.addedTtft.gateway?.median, (v) => v <= 0.5, '<= 0.5 ms'),
      '1,000 concurrent streams, peak RSS (MB)': check(gatewayStreams?.peakRssMb, (v) => v <= 150, '<= 150 MB'),
  };
}
