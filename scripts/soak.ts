/**
 * `npm run soak -- --minutes N`: a gateway under a steady mixed load for N minutes (Chat,
 * StreamChat, Race, Fallback, Batch, upstream faults, client cancellations; scripts/soak-load.ts)
 * against the bench upstream, then the table: RSS after the warm-up and at the end, open upstream
 * requests and open gRPC calls once the load has stopped, calls by RPC and status.
 *
 * Options: USAGE below (`--help` prints it).
 */
import { ROOT, buildGateway, log, startGateway, startUpstream } from '../bench/fleet.js';
import { type ArgSpec, checkArgs } from '../bench/lib/args.js';
import { GrpcH2Client } from '../bench/lib/grpc-h2.js';
import { freePort, procMemory, sleep } from '../bench/lib/proc.js';
import { table } from '../bench/lib/table.js';
import { SoakLoad } from './soak-load.js';

const USAGE = `usage: npm run soak -- [--minutes N] [options]
  --minutes N      load duration (default 30); --seconds S for a short check
  --rate R         calls per second from the mix (default 200)
  --streams S      paced streams kept open (250 tokens at 50 tokens/s each; default 100)
  --warmup S       seconds before the RSS baseline (default 300; shortened for runs under 10 minutes)
  --from-source    run src/main.ts with tsx instead of building dist/
  --no-build       run the existing dist/main.js
`;
const ARGS: ArgSpec = { flags: ['from-source', 'no-build'], values: ['minutes', 'seconds', 'rate', 'streams', 'warmup'] };

/** Calls in flight beyond which the load skips a send (counted: the gateway is behind the rate). */
const MAX_IN_FLIGHT = 2_000;
/** Seconds of one-per-second RSS samples averaged at each end of the load (shorter runs: a quarter of it). */
const GROWTH_WINDOW_S = 60;

interface SoakOptions {
  readonly seconds: number;
  readonly rate: number;
  readonly streams: number;
  readonly warmupSeconds: number;
  readonly warmupNote: string | undefined;
  readonly fromSource: boolean;
  readonly build: boolean;
}

function parse(argv: readonly string[]): SoakOptions {
  const value = (name: string): number | undefined => {
    const at = argv.indexOf(`--${name}`);
    if (at < 0) return undefined;
    const n = Number(argv[at + 1]);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} takes a positive number`);
    return n;
  };
  const seconds = value('seconds') ?? (value('minutes') ?? 30) * 60;
  const asked = value('warmup');
  // The baseline is taken after the first 5 minutes; a shorter run cannot wait that long.
  const warmupSeconds = asked ?? (seconds >= 600 ? 300 : Math.max(1, Math.round(seconds * 0.3)));
  const warmupNote =
    asked === undefined && seconds < 600
      ? `warm-up shortened to ${warmupSeconds} s (30% of a run under 10 minutes): a check that the soak works, not a result`
      : undefined;
  return {
    seconds,
    rate: value('rate') ?? 200,
    streams: value('streams') ?? 100,
    warmupSeconds,
    warmupNote,
    fromSource: argv.includes('--from-source'),
    build: !argv.includes('--no-build') && !argv.includes('--from-source'),
  };
}

/** Sums every sample of a Prometheus metric (all label sets). */
function metricSum(text: string, name: string): number | undefined {
  let sum: number | undefined;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== '{' && line[name.length] !== ' ')) continue;
    sum = (sum ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

interface Leftovers {
  readonly upstreamOpen: number;
  readonly inFlightCalls: number | undefined;
  readonly openStreams: number | undefined;
}

async function leftovers(upstreamPort: number, metricsPort: number): Promise<Leftovers> {
  const up = (await (await fetch(`http://127.0.0.1:${upstreamPort}/_bench/stats`)).json()) as { open: number };
  const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  return {
    upstreamOpen: up.open,
    inFlightCalls: metricSum(metrics, 'llm_orchestrator_in_flight_calls'),
    openStreams: metricSum(metrics, 'llm_orchestrator_open_streams'),
  };
}

const clean = (l: Leftovers): boolean => l.upstreamOpen === 0 && l.inFlightCalls === 0 && l.openStreams === 0;

async function main(): Promise<void> {
  checkArgs(USAGE, ARGS);
  const o = parse(process.argv.slice(2));
  if (o.build) buildGateway(ROOT);
  const upstream = await startUpstream();
  const metricsPort = await freePort();
  const gateway = await startGateway(
    ROOT,
    upstream.port,
    'warn',
    o.fromSource ? ['--import', 'tsx'] : [],
    { METRICS_PORT: String(metricsPort) },
    o.fromSource ? 'src/main.ts' : 'dist/main.js',
  ).catch(async (err: unknown) => {
    await upstream.stop();
    throw err;
  });
  const client = new GrpcH2Client(`http://127.0.0.1:${gateway.port}`, 4);
  const load = new SoakLoad(client, { rate: o.rate, pacedStreams: o.streams, maxInFlight: MAX_IN_FLIGHT });
  try {
    log(`soak: ${o.seconds} s at ${o.rate} calls/s and ${o.streams} paced streams; RSS baseline after ${o.warmupSeconds} s`);
    if (o.warmupNote) log(`soak: ${o.warmupNote}`);
    const rssStart = procMemory(gateway.pid).rssMb;
    const t0 = performance.now();
    load.start();
    let rssAtWarmup: number | undefined;
    // One sample a second after the warm-up: RSS swings by a fifth with the collector's cycle,
    // so growth compares the mean of the first window after the warm-up with the last one's.
    const afterWarmup: number[] = [];
    let rssPeak = rssStart;
    let rssEnd = rssStart;
    let nextReport = 60;
    for (;;) {
      await sleep(1000);
      const elapsed = (performance.now() - t0) / 1000;
      rssEnd = procMemory(gateway.pid).rssMb;
      rssPeak = Math.max(rssPeak, rssEnd);
      if (rssAtWarmup === undefined && elapsed >= o.warmupSeconds) rssAtWarmup = rssEnd;
      if (elapsed >= o.warmupSeconds) afterWarmup.push(rssEnd);
      if (elapsed >= nextReport) {
        log(`  ${Math.round(elapsed)} s: RSS ${rssEnd.toFixed(0)} MB, ${load.active} calls in flight, ${load.tokens} tokens`);
        nextReport += 60;
      }
      if (elapsed >= o.seconds) break;
    }
    await load.stop(15_000);
    // A cancelled call settles on the gateway a moment after the client has let go of it.
    let left = await leftovers(upstream.port, metricsPort);
    for (let i = 0; i < 20 && !clean(left); i++) {
      await sleep(250);
      left = await leftovers(upstream.port, metricsPort);
    }
    const window = Math.max(1, Math.min(GROWTH_WINDOW_S, Math.floor(afterWarmup.length / 4)));
    const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    const first = afterWarmup.length > 0 ? mean(afterWarmup.slice(0, window)) : NaN;
    const last = afterWarmup.length > 0 ? mean(afterWarmup.slice(-window)) : NaN;
    const growth = ((last - first) / first) * 100;
    const verdict = (ok: boolean): string => (ok ? 'PASS' : 'FAIL');
    const out: string[] = [
      `soak: ${o.seconds} s, ${o.rate} calls/s from the mix, ${o.streams} paced streams, gateway ${o.fromSource ? 'src/ (tsx)' : 'dist/'}`,
    ];
    if (o.warmupNote) out.push(`note: ${o.warmupNote}`);
    out.push(
      table(
        ['check', 'measured', 'limit', 'result'],
        [
          ['RSS at start (MB)', rssStart.toFixed(0), '-', '-'],
          [`RSS after the warm-up, ${o.warmupSeconds} s (MB)`, rssAtWarmup?.toFixed(0) ?? 'n/a', '-', '-'],
          ['RSS at the end of the load (MB)', rssEnd.toFixed(0), '-', '-'],
          ['RSS peak (MB)', rssPeak.toFixed(0), '-', '-'],
          [`RSS mean, the first ${window} s after the warm-up (MB)`, Number.isFinite(first) ? first.toFixed(0) : 'n/a', '-', '-'],
          [`RSS mean, the last ${window} s of the load (MB)`, Number.isFinite(last) ? last.toFixed(0) : 'n/a', '-', '-'],
          [
            'RSS growth after the warm-up (%, mean to mean)',
            growth.toFixed(1),
            '< 5%',
            Number.isFinite(growth) ? verdict(growth < 5) : 'n/a',
          ],
          ['upstream requests open at the end', String(left.upstreamOpen), '0', verdict(left.upstreamOpen === 0)],
          [
            'gRPC calls in flight at the end (gateway metrics)',
            String(left.inFlightCalls ?? 'n/a'),
            '0',
            verdict(left.inFlightCalls === 0),
          ],
          ['gRPC streams open at the end (gateway metrics)', String(left.openStreams ?? 'n/a'), '0', verdict(left.openStreams === 0)],
          ['client calls still in flight after the drain', String(load.active), '0', verdict(load.active === 0)],
          // A gateway behind the rate queues calls, and its RSS grows with the queue, not with a leak.
          ['sends skipped: the gateway fell behind the rate', String(load.skipped), '0', verdict(load.skipped === 0)],
          ['calls in flight at once, peak', String(load.peakInFlight), '-', '-'],
        ],
      ),
      '',
      `calls by RPC and status (faults and cancellations are part of the mix; ${load.tokens} paced tokens received)`,
      table(
        ['call', 'status', 'calls'],
        [...load.outcomes.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([key, n]) => [...key.split('|'), String(n)]),
      ),
    );
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    client.close();
    await gateway.stop();
    await upstream.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`soak failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
