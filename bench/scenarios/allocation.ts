/**
 * Allocation per unary call: the bytes the gateway process allocates on its V8 heap over N Chat
 * calls, divided by N, counted in the gateway itself by bench/lib/alloc-probe.mjs (loaded with
 * `--import` into the gateways the bench starts, idle until asked).
 */
import { join } from 'node:path';
import { BENCH_DIR, CHAT, QUIET_CORES, chatFrame, log } from '../fleet.js';
import { GrpcH2Client } from '../lib/grpc-h2.js';
import { freePort, waitForQuiet } from '../lib/proc.js';
import { round } from '../lib/stats.js';
import type { HeapProfileNode } from '../lib/cpuprofile.js';

export type { HeapProfileNode };

export const ALLOC_PROBE = join(BENCH_DIR, 'lib/alloc-probe.mjs');

/** Node arguments and environment that load the probe into a gateway, on a port of its own. */
export async function allocProbeArgs(): Promise<{ nodeArgs: string[]; env: Record<string, string>; port: number }> {
  const port = await freePort();
  return { nodeArgs: ['--import', ALLOC_PROBE], env: { BENCH_ALLOC_PROBE_PORT: String(port) }, port };
}

export interface AllocationResult {
  readonly calls: number;
  readonly concurrency: number;
  readonly failed: number;
  /** V8 heap bytes allocated by the gateway per call. */
  readonly bytesPerCall: number;
  readonly collections: number;
  readonly gcPauseMsPerSecond: number;
  readonly seconds: number;
  /** With `sample`: where the bytes were allocated (sampled; collected objects included). */
  readonly profile?: { readonly head: HeapProfileNode };
}

export interface Counted {
  readonly allocatedBytes?: number;
  /** Moved to the old generation by scavenges (bench/lib/alloc-probe.mjs). */
  readonly promotedBytes?: number;
  readonly collections?: number;
  readonly pauseMs?: number;
  readonly profile?: { readonly head: HeapProfileNode };
  /** With `promises`: the promises made between the marks, and a sample of where (bench/lib/alloc-probe.mjs). */
  readonly promises?: { readonly total: number; readonly sites: readonly (readonly [string, number])[] };
}

/** The allocation probe inside the gateway (bench/lib/alloc-probe.mjs): start or stop counting. */
export async function probe(port: number, what: 'start' | 'stop', sample = false, promises = false): Promise<Counted> {
  const query = [sample ? 'sample=1' : '', promises ? 'promises=1' : ''].filter((q) => q !== '').join('&');
  const res = await fetch(`http://127.0.0.1:${port}/${what}${query ? `?${query}` : ''}`, { method: 'POST' });
  if (!res.ok) throw new Error(`allocation probe /${what}: HTTP ${res.status} (is bench/lib/alloc-probe.mjs loaded?)`);
  return (await res.json()) as Counted;
}

/** `calls` Chat calls with `concurrency` in flight, after `warmup` calls that are not counted. */
export async function allocationScenario(options: {
  gatewayPort: number;
  probePort: number;
  calls: number;
  warmup: number;
  concurrency: number;
  /** How long to wait for a quiet machine first (default 30 s). */
  quietWaitMs?: number;
  /** Also run the sampling heap profiler over the counted calls (it slows them; the count stays exact). */
  sample?: boolean;
}): Promise<AllocationResult> {
  log(`allocation per unary call (${options.calls} calls, ${options.concurrency} in flight) ...`);
  const client = new GrpcH2Client(`http://127.0.0.1:${options.gatewayPort}`);
  const frame = chatFrame('gpt-4o');
  let failed = 0;
  const run = async (n: number): Promise<void> => {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < n) {
        next += 1;
        const r = await client.unary(CHAT, frame).catch(() => undefined);
        if (r?.grpcStatus !== 0) failed += 1;
      }
    };
    await Promise.all(Array.from({ length: options.concurrency }, worker));
  };
  try {
    await waitForQuiet(options.quietWaitMs ?? 30_000, QUIET_CORES, log);
    await run(options.warmup);
    failed = 0;
    const sample = options.sample ?? false;
    await probe(options.probePort, 'start', sample);
    const t0 = performance.now();
    await run(options.calls);
    const seconds = (performance.now() - t0) / 1000;
    const counted = await probe(options.probePort, 'stop', sample);
    return {
      calls: options.calls,
      concurrency: options.concurrency,
      failed,
      bytesPerCall: Math.round((counted.allocatedBytes ?? NaN) / options.calls),
      collections: counted.collections ?? 0,
      gcPauseMsPerSecond: round((counted.pauseMs ?? NaN) / seconds, 2),
      seconds: round(seconds, 2),
      ...(counted.profile ? { profile: counted.profile } : {}),
    };
  } finally {
    client.close();
  }
}
