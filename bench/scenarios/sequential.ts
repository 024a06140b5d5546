/** Sequential scenarios: overhead per call against the upstream alone, and the cost of race and fallback. */
import { FallbackResponse } from '../../src/gen/orchestrator/v1/chat.js';
import {
  CHAT,
  DELTA_TAG,
  FALLBACK,
  QUIET_CORES,
  RACE,
  STREAM,
  chatFrame,
  fallbackFrame,
  jsonBody,
  log,
  raceFrame,
  streamFrame,
  type Clients,
  type Fleet,
} from '../fleet.js';
import type { GrpcH2Client } from '../lib/grpc-h2.js';
import type { HttpTarget } from '../lib/http-client.js';
import { CpuMeter, waitForQuiet } from '../lib/proc.js';
import { distribution, median } from '../lib/stats.js';
import type { Plan } from '../options.js';

type Spread = { median: number; min: number; max: number };

export interface Overhead {
  readonly chat: RoundsResult;
  readonly ttft: RoundsResult;
  readonly addedChat: Record<string, Spread>;
  readonly addedTtft: Record<string, Spread>;
  readonly cpu: Record<string, number>;
}

export interface RaceFallback {
  readonly result: RoundsResult;
  readonly raceCostMs: Spread;
  readonly fallbackCostMs: Spread;
  readonly peerFallbackCostMs: Spread | undefined;
}

export type Probe = () => Promise<boolean>;

/** `n` sequential calls; latencies (ms) of the successful ones, and the failure count. */
export async function sequential(probe: Probe, n: number): Promise<{ ms: number[]; failures: number }> {
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

export interface RoundsResult {
  /** Per target: median of the round medians (ms). */
  readonly medianMs: Record<string, number>;
  /** Per target: the round medians. */
  readonly roundMedians: Record<string, number[]>;
  readonly failures: Record<string, number>;
  /** Per target: P99 over every sample of every round (ms). */
  readonly p99Ms: Record<string, number>;
}

/** Calls each target gets before rounds are measured, unless the caller asks for more. */
export const WARMUP_CALLS = 5_000;

/** Interleaved rounds: each round runs every target once, in the same order. */
export async function rounds(
  targets: Readonly<Record<string, { probe: Probe; n: number }>>,
  count: number,
  label: string,
  warmupCalls = WARMUP_CALLS,
): Promise<RoundsResult> {
  const names = Object.keys(targets);
  const medians: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  const all: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  const failures: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]));
  // The same number of calls for every target before any is measured: a fresh Node process runs
  // a code path interpreted until it has been called a few thousand times, and the first rounds
  // would measure the JIT's progress, not the steady state a running service is in.
  for (const name of names) await sequential(targets[name]!.probe, warmupCalls);
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
export function added(result: RoundsResult, target: string, baseline: string): { median: number; min: number; max: number } {
  const t = result.roundMedians[target] ?? [];
  const b = result.roundMedians[baseline] ?? [];
  const diffs = t.map((v, i) => v - (b[i] ?? NaN)).filter(Number.isFinite);
  return { median: median(diffs), min: Math.min(...diffs), max: Math.max(...diffs) };
}

export function grpcUnaryProbe(client: GrpcH2Client, path: string, frame: Buffer): Probe {
  return async () => (await client.unary(path, frame)).grpcStatus === 0;
}

/** Time to the first delta of a StreamChat call; the stream is read to its end. */
export function grpcTtftProbe(client: GrpcH2Client, frame: Buffer, sink: number[]): Probe {
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

export function httpTtftProbe(target: HttpTarget, body: string, sink: number[]): Probe {
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
export async function ttftRounds(
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

/** 1. Overhead: sequential, interleaved rounds of Chat and of time to first token. */
export async function overheadScenario(fleet: Fleet, clients: Clients, p: Plan): Promise<Overhead> {
  const hasPeer = clients.peer !== undefined;
  log('1/4 overhead (sequential) ...');
  await waitForQuiet(30_000, QUIET_CORES, log);
  const chatJson = jsonBody('gpt-4o');
  const streamJson = jsonBody('gpt-4o', true);
  const cpuPids: Record<string, number | 'self'> = {
    gateway: fleet.gateway.pid,
    upstream: fleet.upstream.pid,
    echo: fleet.echo.pid,
    client: 'self',
  };
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
    p.seqWarmup,
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
    Object.fromEntries(
      Object.keys(r.medianMs)
        .filter((n) => n !== 'direct')
        .map((n) => [n, added(r, n, 'direct')]),
    );
  return { chat, ttft, addedChat: targetsFor(chat), addedTtft: targetsFor(ttft), cpu: overheadCpu };
}

/** 4. Race and fallback cost, sequential, against a Chat and the upstream's own answers. */
export async function raceFallbackScenario(fleet: Fleet, clients: Clients, p: Plan): Promise<RaceFallback> {
  const hasPeer = clients.peer !== undefined;
  const chatJson = jsonBody('gpt-4o');
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
  return {
    result: rf,
    raceCostMs: perRound((i) => rm['gateway Race [gpt-4o, gpt-4o-mini]']![i]! - rm['gateway Chat gpt-4o']![i]!),
    fallbackCostMs: perRound(
      (i) => rm['gateway Fallback [gpt-4-turbo, gpt-4o]']![i]! - rm['direct gpt-4-turbo (500)']![i]! - rm['direct gpt-4o']![i]!,
    ),
    peerFallbackCostMs: hasPeer
      ? perRound((i) => rm['peer fallback [gpt-4-turbo, gpt-4o]']![i]! - rm['direct gpt-4-turbo (500)']![i]! - rm['direct gpt-4o']![i]!)
      : undefined,
  };
}
