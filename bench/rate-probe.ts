/**
 * Where the tail of a fixed request rate comes from: a gateway is given a burst (h2load, 256
 * calls in flight, as a throughput run or a spike would), then an open loop at 1,000 req/s; the
 * gateway reports, second by second, its own time per call, event-loop delay and collections
 * (bench/lib/rate-probe.mjs), next to the client's P50/P99 and the gateway's CPU.
 *
 * Options: USAGE below (`--help` prints it).
 *
 * With --env-a / --env-b the rounds alternate A, B, A, B (one build, two settings, e.g.
 * --env-a V8_PRETENURING=on --env-b V8_PRETENURING=off). The gateway is this checkout's dist/
 * (build it first).
 */
import { join } from 'node:path';
import { BENCH_DIR, CHAT, RATE_RPS, ROOT, chatFrame, log, startGateway, startUpstream, writeFiles } from './fleet.js';
import { type ArgSpec, checkArgs } from './lib/args.js';
import { GrpcH2Client } from './lib/grpc-h2.js';
import { ensureH2load, runH2load } from './lib/h2load.js';
import { CpuMeter, waitForQuiet } from './lib/proc.js';
import { median } from './lib/stats.js';
import { fmt, table } from './lib/table.js';
import { fixedRate } from './scenarios/throughput.js';

const USAGE = `usage: npx tsx bench/rate-probe.ts [--rounds 2] [--seconds 8] [--burst 4] [--env-a K=V ...] [--env-b K=V ...]
`;
const ARGS: ArgSpec = { values: ['rounds', 'seconds', 'burst', 'env-a', 'env-b'] };

interface Probe {
  readonly calls: number;
  readonly p99Ms: number;
  readonly loopMaxMs: number;
  readonly minor: number;
  readonly minorMs: number;
  readonly major: number;
  readonly majorMs: number;
  readonly heapUsedMb: number;
}

const PROBE = join(BENCH_DIR, 'lib/rate-probe.mjs');

function envPairs(argv: readonly string[], flag: string): Record<string, string> {
  const env: Record<string, string> = {};
  argv.forEach((arg, i) => {
    if (arg !== flag) return;
    const [k, ...v] = (argv[i + 1] ?? '').split('=');
    if (k) env[k] = v.join('=');
  });
  return env;
}

async function round(h2load: string, env: Record<string, string>, seconds: number, burstS: number) {
  const upstream = await startUpstream();
  const probes: Probe[] = [];
  const gateway = await startGateway(ROOT, upstream.port, 'warn', ['--import', PROBE], env);
  gateway.child.stderr?.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) {
      if (line.startsWith('{"probe"')) probes.push((JSON.parse(line) as { probe: Probe }).probe);
    }
  });
  const client = new GrpcH2Client(`http://127.0.0.1:${gateway.port}`, 2);
  try {
    const files = writeFiles(join(BENCH_DIR, 'results/tmp'));
    await waitForQuiet(10_000, 0.3, log);
    if (burstS > 0) {
      await runH2load(h2load, {
        url: `http://127.0.0.1:${gateway.port}${CHAT}`,
        clients: 8,
        streams: 32,
        durationS: burstS,
        dataFile: files.chatFrame,
        headers: ['content-type: application/grpc', 'te: trailers'],
      });
    }
    const frame = chatFrame('gpt-4o');
    const send = async (): Promise<boolean> => (await client.unary(CHAT, frame)).grpcStatus === 0;
    // Two seconds at the rate before measuring: the answer to "after a burst", not to a cold process.
    const meter = new CpuMeter({ gateway: gateway.pid });
    const seen = probes.length;
    const r = await fixedRate(send, RATE_RPS, seconds, 2, meter);
    const during = probes.slice(seen + 2);
    return { r, during };
  } finally {
    client.close();
    await gateway.stop();
    await upstream.stop();
  }
}

async function main(): Promise<void> {
  checkArgs(USAGE, ARGS);
  const argv = process.argv.slice(2);
  const num = (name: string, d: number): number => {
    const at = argv.indexOf(`--${name}`);
    return at >= 0 ? Number(argv[at + 1]) : d;
  };
  const rounds = num('rounds', 2);
  const seconds = num('seconds', 8);
  const burstS = num('burst', 4);
  const sides = [
    { name: 'A', env: envPairs(argv, '--env-a') },
    { name: 'B', env: envPairs(argv, '--env-b') },
  ].filter((s, i) => i === 0 || Object.keys(s.env).length > 0);
  const h2load = ensureH2load(log);
  const rows: (string | number)[][] = [];
  const seconds_: (string | number)[][] = [];
  for (let i = 0; i < rounds; i++) {
    for (const side of sides) {
      const { r, during } = await round(h2load, side.env, seconds, burstS);
      const label = `${side.name} ${
        Object.entries(side.env)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ') || '(defaults)'
      }`;
      log(`  round ${i + 1} ${label}: P99 ${fmt(r.latency.p99, 2)} ms, gateway ${r.cpu.gateway} cores`);
      rows.push([
        label,
        String(i + 1),
        fmt(r.latency.p50, 2),
        fmt(r.latency.p99, 2),
        String(r.cpu.gateway ?? '-'),
        fmt(median(during.map((p) => p.p99Ms)), 2),
        fmt(Math.max(...during.map((p) => p.p99Ms)), 2),
        fmt(Math.max(...during.map((p) => p.loopMaxMs)), 1),
        fmt(during.reduce((n, p) => n + p.minor, 0) / during.length, 1),
        fmt(
          during.reduce((n, p) => n + p.minorMs, 0) /
            Math.max(
              1,
              during.reduce((n, p) => n + p.minor, 0),
            ),
          2,
        ),
        String(during.reduce((n, p) => n + p.major, 0)),
        fmt(((during.at(-1)?.heapUsedMb ?? 0) - (during[0]?.heapUsedMb ?? 0)) / Math.max(1, during.length - 1), 1),
      ]);
      for (const [s, p] of during.entries())
        seconds_.push([
          label,
          String(i + 1),
          String(s + 1),
          String(p.calls),
          fmt(p.p99Ms, 2),
          fmt(p.loopMaxMs, 1),
          String(p.minor),
          String(p.major),
        ]);
    }
  }
  process.stdout.write(
    [
      `fixed ${RATE_RPS} req/s for ${seconds} s after a ${burstS} s burst (h2load, 256 in flight); gateway = its own time per call`,
      table(
        [
          'side',
          'round',
          'client P50 ms',
          'client P99 ms',
          'gateway cores',
          'gateway P99 ms, median second',
          'gateway P99 ms, worst second',
          'loop delay max ms',
          'scavenges/s',
          'ms per scavenge',
          'major GCs',
          'heap growth MB/s',
        ],
        rows,
      ),
      '',
      'by second (gateway side):',
      table(['side', 'round', 'second', 'calls', 'P99 ms', 'loop delay max ms', 'scavenges', 'major GCs'], seconds_),
    ].join('\n') + '\n',
  );
}

main().catch((err: unknown) => {
  log(`rate-probe failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
});
