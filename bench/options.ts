/** The bench's command line and, by mode, every knob of the run. */
import { join, resolve } from 'node:path';
import { BENCH_DIR, ROOT } from './fleet.js';
import type { ArgSpec } from './lib/args.js';

export const USAGE = `npm run bench: one run, one machine, every number in one table (and bench/results/latest.json).

  npm run bench                 full run (about 4 minutes on 2 cores)
  npm run bench -- --quick      about 1 minute, fewer rounds and shorter runs
  npm run bench -- --http-only  only the HTTP API rows (add --quick for a short run)
  options: --no-peer            skip the Portkey peer
           --no-build           use the gateway's dist/ as it is
           --gateway-dir DIR    benchmark another checkout (built there), e.g. a before/after
           --log-level LEVEL    the gateway's LOG_LEVEL (default warn; info logs every call)
           --http-only          only the OpenAI-compatible HTTP API rows (gateway HTTP vs Portkey, HTTP/1.1)
           --no-http            skip the HTTP API rows
           --workers N          extra throughput rows with the gateway as N cluster workers (default 2; 1: none)
           --transport          also run the client transport micro-benchmark (bench/transport.ts)
           --profile            also profile the gateway under load (bench/profile.ts)
           --out FILE           JSON path (default bench/results/latest.json)
           --help               this text
`;

/** The options USAGE lists; any other is refused before the run starts. */
export const ARGS: ArgSpec = {
  flags: ['quick', 'no-peer', 'no-build', 'transport', 'profile', 'http-only', 'no-http'],
  values: ['gateway-dir', 'log-level', 'out', 'workers'],
};

export interface Options {
  readonly quick: boolean;
  readonly peer: boolean;
  readonly build: boolean;
  readonly gatewayDir: string;
  readonly logLevel: string;
  readonly transport: boolean;
  readonly profile: boolean;
  /** The OpenAI-compatible HTTP API rows. */
  readonly http: boolean;
  /** Only those: no gRPC scenarios. */
  readonly httpOnly: boolean;
  readonly out: string;
  /** The gateway with WORKERS=n as extra throughput rows; 1: none. */
  readonly workers: number;
}

export function parseOptions(argv: readonly string[]): Options {
  const value = (name: string): string | undefined => {
    const at = argv.indexOf(`--${name}`);
    return at >= 0 ? argv[at + 1] : undefined;
  };
  return {
    quick: argv.includes('--quick'),
    peer: !argv.includes('--no-peer'),
    build: !argv.includes('--no-build'),
    gatewayDir: resolve(value('gateway-dir') ?? ROOT),
    logLevel: value('log-level') ?? 'warn',
    transport: argv.includes('--transport'),
    profile: argv.includes('--profile'),
    http: !argv.includes('--no-http'),
    httpOnly: argv.includes('--http-only'),
    out: resolve(value('out') ?? join(BENCH_DIR, 'results/latest.json')),
    workers: Number(value('workers') ?? 2),
  };
}

/** Every knob of the run, by mode. */
export function plan(quick: boolean) {
  return quick
    ? {
        rounds: 4,
        seqWarmup: 5_000,
        seqN: 100,
        seqPeerN: 40,
        ttftN: 50,
        ttftPeerN: 10,
        tputSeconds: 3,
        tputWarmup: 1,
        tputWarmupRequests: 2_000,
        tputRounds: 1,
        levels: [16, 64, 256],
        rateSeconds: 4,
        streams: 1000,
        streamRampMs: 1000,
        streamWindowMs: 4000,
        raceRounds: 3,
        raceN: 50,
        allocCalls: 3_000,
        allocWarmup: 1_000,
        // HTTP rows: how long to wait for a quiet machine, and how many tries at a quieter run.
        quietWaitMs: 5_000,
        quietAttempts: 1,
      }
    : {
        rounds: 10,
        // The gateway's added latency still fell for about 10,000 calls after start (JIT and the
        // young generation's growth): from 5,000 the rounds measured that, not the steady state.
        seqWarmup: 15_000,
        seqN: 200,
        seqPeerN: 100,
        ttftN: 100,
        ttftPeerN: 20,
        tputSeconds: 8,
        tputWarmup: 2,
        // HTTP rows: requests each target and body gets first (the stream path settled after about 12,000).
        tputWarmupRequests: 15_000,
        // HTTP rows: interleaved rounds per row, the median reported.
        tputRounds: 3,
        levels: [16, 64, 256],
        rateSeconds: 10,
        streams: 1000,
        streamRampMs: 2000,
        streamWindowMs: 10000,
        raceRounds: 6,
        raceN: 100,
        allocCalls: 20_000,
        allocWarmup: 3_000,
        quietWaitMs: 30_000,
        quietAttempts: 3,
      };
}

export type Plan = ReturnType<typeof plan>;
