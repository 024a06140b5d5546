/**
 * Interleaved A/B of two gateway builds on the same upstream: A, B, A, B, ... so that slow
 * drifts and other processes on a shared machine hit both sides alike. Each side is a
 * built checkout (dist/main.js), for example the tree before and after a change.
 *
 * Options: USAGE below (`--help` prints it).
 *
 * Two commits: extract each into a folder (`git archive C | tar -x -C DIR`), give it the
 * dependencies (`cp -al node_modules DIR/`, hard links, no copy) and `npm run build` there.
 * --env-a / --env-b (repeatable) set environment variables for one side only, so one build can
 * be compared with itself under two settings, e.g. the ledger's cost on unary throughput:
 *   --a . --b . --env-a DATABASE_URL=off   (side B: the default SQLite ledger, a new file per gateway)
 *   --a . --b . --env-a DATABASE_URL=off --env-b DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres
 *
 * --pin: on a 2-core machine a database server, the upstream and h2load compete with the
 * gateway for the cores, and a side's throughput measures them as much as the gateway. With
 * --pin the gateway (every thread) runs on CPU 0 alone and this bench, the upstream and h2load on
 * CPU 1, so the gateway's throughput is bound by its own core; start the database on CPU 1 too
 * (`taskset -c 1 pg_ctl ...`; the bench warns when a postgres process may use CPU 0). The unary
 * rows also print `cpuUsPerCall`, the gateway's CPU per completed call, which is its cost on any
 * machine, and `mainUsPerCall`, the part of it on the main thread (the event loop, which bounds
 * one process's throughput when its other threads, such as the SQLite ledger's writer, have a
 * core of their own). A gateway that answers fewer calls per second also batches fewer per event-loop turn
 * and so spends more per call: `--rate` offers both sides the same load (below what either
 * carries), so the CPU per call compares like with like.
 *
 * Rounds run A B, then B A, and so on; the report ends with B against A round by round and their
 * median, which the machine's drift from minute to minute moves less than the medians' ratio.
 *
 * unary:   h2load, unary Chat at concurrency 64: req/s, P99, gateway cores and CPU µs per call
 * streams: 1,000 (--streams) concurrent StreamChat at 50 tokens/s: tokens/s, TTFT P50, peak RSS, CPU per token
 * rate:    open-loop 1,000 req/s: P50 / P99
 * alloc:   V8 heap bytes the gateway allocates per unary Chat call (--calls N, default 3,000)
 * idle:    RSS of a fresh gateway, 2 s after it first answers; then, after a full collection, its heap in use and RSS
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ArgSpec, checkArgs } from './lib/args.js';
import { GrpcH2Client } from './lib/grpc-h2.js';
import { ensureH2load, runH2load } from './lib/h2load.js';
import { affinityOfProgram, pinProcess } from './lib/pin.js';
import { CpuMeter, procMemory, sleep, threadCpuMs, waitForQuiet } from './lib/proc.js';
import { median } from './lib/stats.js';
import { table } from './lib/table.js';
import { chatFrame, startGateway, startUpstream, streamFrame } from './fleet.js';
import { allocationScenario, allocProbeArgs } from './scenarios/allocation.js';
import { streamsScenario } from './scenarios/streams.js';
import { fixedRate } from './scenarios/throughput.js';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));

const USAGE = `usage: npx tsx bench/ab.ts --a DIR --b DIR [--rounds 3] [--seconds 6] [--scenario unary|streams|rate|alloc|idle]
  [--quiet-wait S]  (seconds each round waits for a quiet machine, default 30)
  [--streams N]     (streams scenario: concurrent streams, default 1,000)
  [--calls N]       (alloc scenario: calls measured, default 3,000)
  [--env-a NAME=VALUE ...] [--env-b NAME=VALUE ...]
  [--pin]           (the gateway on CPU 0, everything else this bench starts on CPU 1)
  [--rate N]        (unary: an open load of N req/s instead of as fast as the gateway answers)
`;
const ARGS: ArgSpec = {
  flags: ['pin'],
  values: ['a', 'b', 'rounds', 'seconds', 'scenario', 'quiet-wait', 'streams', 'calls', 'env-a', 'env-b', 'rate'],
};

interface Sample {
  readonly side: 'A' | 'B';
  readonly value: number;
  readonly extra: Record<string, number>;
  readonly others: number;
}

async function main(): Promise<void> {
  checkArgs(USAGE, ARGS);
  const arg = (name: string): string | undefined => {
    const at = process.argv.indexOf(`--${name}`);
    return at >= 0 ? process.argv[at + 1] : undefined;
  };
  const a = arg('a');
  const b = arg('b');
  if (!a || !b) {
    process.stderr.write(`--a and --b name the two builds\n${USAGE}`);
    process.exit(2);
  }
  const rounds = Number(arg('rounds') ?? 3);
  const seconds = Number(arg('seconds') ?? 6);
  const scenario = arg('scenario') ?? 'unary';
  // How long each round waits for other processes to quiet down (a shared machine may never).
  const quietWaitMs = Number(arg('quiet-wait') ?? 30) * 1000;
  // Fewer than 1,000 streams: a machine busy with other work cannot carry 50,000 tokens/s.
  const streams = Number(arg('streams') ?? 1000);
  const envOf = (flag: string): Record<string, string> => {
    const env: Record<string, string> = {};
    process.argv.forEach((value, i) => {
      if (process.argv[i - 1] !== `--${flag}`) return;
      const at = value.indexOf('=');
      if (at <= 0) throw new Error(`--${flag} takes NAME=VALUE (got ${JSON.stringify(value)})`);
      env[value.slice(0, at)] = value.slice(at + 1);
    });
    return env;
  };
  const sideEnv = { A: envOf('env-a'), B: envOf('env-b') } as const;
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  const pin = process.argv.includes('--pin');
  const rate = arg('rate') === undefined ? undefined : Number(arg('rate'));
  if (pin) {
    // Everything started from here on (upstream, gateways, h2load) inherits CPU 1; each gateway
    // is then moved to CPU 0 once it serves.
    pinProcess(process.pid, '1');
    const strays = affinityOfProgram('postgres').filter((p) => p.cpus !== '1');
    if (strays.length > 0)
      log(
        `  --pin: postgres processes may run on CPU ${strays[0]!.cpus} (pids ${strays.map((p) => p.pid).join(' ')}): start the server with taskset -c 1`,
      );
  }
  const h2load = ensureH2load(log);
  const upstream = await startUpstream();
  const frameFile = join(BENCH_DIR, 'results/tmp/ab-chat.grpc');
  mkdirSync(dirname(frameFile), { recursive: true });
  writeFileSync(frameFile, chatFrame('gpt-4o'));
  const samples: Sample[] = [];
  try {
    for (let r = 0; r < rounds; r++) {
      // A B, then B A: a machine whose speed drifts through a round favours neither side.
      const order = [
        ['A', a],
        ['B', b],
      ] as const;
      for (const [side, dir] of r % 2 === 0 ? order : [...order].reverse()) {
        const probe = await allocProbeArgs();
        const gateway =
          scenario === 'alloc'
            ? await startGateway(resolve(dir), upstream.port, 'warn', probe.nodeArgs, { ...probe.env, ...sideEnv[side] })
            : scenario === 'idle'
              ? await startGateway(resolve(dir), upstream.port, 'warn', ['--expose-gc', ...probe.nodeArgs], {
                  ...probe.env,
                  ...sideEnv[side],
                })
              : await startGateway(resolve(dir), upstream.port, 'warn', [], sideEnv[side]);
        try {
          if (pin) pinProcess(gateway.pid, '0');
          await waitForQuiet(quietWaitMs, 0.3, log);
          if (scenario === 'idle') {
            await sleep(2000);
            const rssMb = procMemory(gateway.pid).rssMb;
            // Then the heap in use after a full collection (the probe's /heap), steadier than RSS.
            const heap = (await (await fetch(`http://127.0.0.1:${probe.port}/heap`)).json()) as { usedHeapMb: number; rssMb: number };
            samples.push({ side, value: rssMb, extra: { heapAfterGcMb: heap.usedHeapMb, rssAfterGcMb: heap.rssMb }, others: 0 });
          } else if (scenario === 'alloc') {
            const res = await allocationScenario({
              gatewayPort: gateway.port,
              probePort: probe.port,
              calls: Number(arg('calls') ?? 3000),
              warmup: 1000,
              concurrency: 16,
              quietWaitMs,
            });
            samples.push({
              side,
              value: res.bytesPerCall / 1024,
              extra: { failed: res.failed, gcPauseMsPerS: res.gcPauseMsPerSecond },
              others: 0,
            });
          } else if (scenario === 'unary') {
            const meter = new CpuMeter({ gateway: gateway.pid, upstream: upstream.pid }).begin();
            const mainStart = threadCpuMs(gateway.pid);
            const startedAt = performance.now();
            const res = await runH2load(h2load, {
              url: `http://127.0.0.1:${gateway.port}/orchestrator.v1.ChatService/Chat`,
              clients: 8,
              streams: 8,
              ...(rate === undefined ? {} : { rpsPerClient: rate / 8 }),
              durationS: seconds,
              warmupS: 2,
              dataFile: frameFile,
              headers: ['content-type: application/grpc', 'te: trailers'],
              latencies: true,
            });
            const cpu = meter.end();
            const gatewayCores = cpu.gateway ?? NaN;
            const mainCores = (threadCpuMs(gateway.pid) - mainStart) / (performance.now() - startedAt);
            samples.push({
              side,
              value: res.reqPerSec,
              // The meter spans h2load's warm-up too, at the same load: cores over calls per second.
              extra: {
                p99Ms: res.latency?.p99 ?? NaN,
                gatewayCores,
                cpuUsPerCall: (gatewayCores / res.reqPerSec) * 1e6,
                mainUsPerCall: (mainCores / res.reqPerSec) * 1e6,
              },
              others: Math.max(0, (cpu.others ?? 0) - res.loadCpu),
            });
          } else if (scenario === 'streams') {
            const client = new GrpcH2Client(`http://127.0.0.1:${gateway.port}`, 10);
            const frame = streamFrame('gpt-3.5-turbo');
            const res = await streamsScenario({
              target: side,
              concurrency: streams,
              rampMs: 2000,
              windowMs: seconds * 1000,
              pid: gateway.pid,
              cpuPids: { gateway: gateway.pid, upstream: upstream.pid, client: 'self' },
              open: (onToken) =>
                client.serverStream('/orchestrator.v1.ChatService/StreamChat', frame, (m) => {
                  if (m[0] === 0x12) onToken();
                }),
            });
            client.close();
            samples.push({
              side,
              value: res.tokensPerSec,
              extra: {
                ttftP50Ms: res.ttft.p50,
                rampTtftP50Ms: res.ttftRamp.p50,
                peakRssMb: res.peakRssMb,
                gatewayCores: res.cpu.gateway ?? NaN,
                cpuUsPerToken: ((res.cpu.gateway ?? NaN) / res.tokensPerSec) * 1e6,
              },
              others: res.cpu.others ?? 0,
            });
          } else {
            const client = new GrpcH2Client(`http://127.0.0.1:${gateway.port}`, 2);
            const frame = chatFrame('gpt-4o');
            const res = await fixedRate(
              async () => (await client.unary('/orchestrator.v1.ChatService/Chat', frame)).grpcStatus === 0,
              1000,
              seconds,
              1,
              new CpuMeter({ gateway: gateway.pid, client: 'self' }),
            );
            client.close();
            samples.push({
              side,
              value: res.latency.p99,
              extra: { p50Ms: res.latency.p50, gatewayCores: res.cpu.gateway ?? NaN, clientLoopMaxMs: res.clientLoopDelay.max },
              others: res.cpu.others ?? 0,
            });
          }
          const last = samples[samples.length - 1]!;
          log(`  round ${r + 1} ${side}: ${last.value.toFixed(1)} ${JSON.stringify(last.extra)} others ${last.others.toFixed(2)}`);
        } finally {
          await gateway.stop();
        }
      }
    }
  } finally {
    await upstream.stop();
  }
  const unit = { unary: 'req/s', streams: 'tokens/s', rate: 'P99 ms', alloc: 'KB/call', idle: 'RSS MB' }[scenario] ?? scenario;
  const rows = (['A', 'B'] as const).map((side) => {
    const mine = samples.filter((s) => s.side === side);
    const keys = Object.keys(mine[0]?.extra ?? {});
    return [
      `${side} ${side === 'A' ? a : b}${Object.entries(sideEnv[side])
        .map(([k, v]) => ` ${k}=${v}`)
        .join('')}`,
      median(mine.map((s) => s.value)).toFixed(1),
      mine.map((s) => s.value.toFixed(scenario === 'alloc' ? 1 : 0)).join(' '),
      ...keys.map((k) => median(mine.map((s) => s.extra[k] ?? NaN)).toFixed(2)),
      median(mine.map((s) => s.others)).toFixed(2),
    ];
  });
  const keys = Object.keys(samples[0]?.extra ?? {});
  // Each round's two sides ran back to back: their ratio is steadier than the ratio of the
  // medians when the machine's speed changes from minute to minute.
  const ratios = Array.from({ length: rounds }, (_, r) => {
    const ofRound = (side: 'A' | 'B'): number => samples.filter((s) => s.side === side)[r]?.value ?? NaN;
    return ofRound('B') / ofRound('A');
  });
  const percent = (ratio: number): string => `${ratio >= 1 ? '+' : ''}${((ratio - 1) * 100).toFixed(1)} %`;
  process.stdout.write(`B against A, round by round: ${ratios.map(percent).join(', ')}; median ${percent(median(ratios))}\n`);
  process.stdout.write(
    `${scenario}: median of ${rounds} interleaved rounds${pin ? ' (gateway pinned to CPU 0, the rest to CPU 1)' : ''}${rate === undefined ? '' : `, offered ${rate} req/s`}\n${table(['side', unit, 'rounds', ...keys, 'others cores'], rows)}\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
