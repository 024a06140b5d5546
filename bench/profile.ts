/**
 * Profiles the gateway's hot path: a gateway started with `node --cpu-prof`, unary Chat load
 * from h2load against the bench upstream, then a summary of the profile's self time by area
 * and by function (bench/lib/cpuprofile.ts). The .cpuprofile opens in Chrome DevTools or
 * speedscope for a flame graph.
 *
 * Options: USAGE below (`--help` prints it).
 *
 * The gateway inherits this process's environment: `DATABASE_URL=... npx tsx bench/profile.ts`
 * profiles it with that ledger.
 *
 * --stream: StreamChat with 20 instant chunks per call (h2load); --paced: 1,000 concurrent
 * StreamChat calls at 50 tokens/s each (the streams scenario of run.ts).
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ChatRequest, StreamChatRequest } from '../src/gen/orchestrator/v1/chat.js';
import { type ArgSpec, checkArgs } from './lib/args.js';
import { formatProfile, summariseProfile, type ProfileSummary } from './lib/cpuprofile.js';
import { grpcFrame } from './lib/grpc-h2.js';
import { ensureH2load, runH2load } from './lib/h2load.js';
import { runIfMain, type Started } from './lib/proc.js';

const USAGE = `usage: npx tsx bench/profile.ts [--gateway-dir DIR] [--seconds 8] [--concurrency 64] [--stream | --paced]
`;
const ARGS: ArgSpec = { flags: ['stream', 'paced'], values: ['gateway-dir', 'seconds', 'concurrency'] };

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));

export interface ProfileResult {
  readonly file: string;
  readonly reqPerSec: number;
  readonly summary: ProfileSummary;
  readonly text: string;
}

export async function profileGateway(options: {
  gatewayDir: string;
  upstreamPort: number;
  h2load: string;
  seconds: number;
  concurrency?: number;
  /** Profile StreamChat (20 instant chunks) instead of Chat. */
  stream?: boolean;
  /** Profile 1,000 concurrent paced streams instead of h2load load. */
  paced?: boolean;
  outDir: string;
  log: (line: string) => void;
}): Promise<ProfileResult> {
  // Imported here: run.ts imports this module too.
  const { startGateway, streamFrame } = await import('./fleet.js');
  const { streamsScenario } = await import('./scenarios/streams.js');
  const { GrpcH2Client } = await import('./lib/grpc-h2.js');
  const dir = join(options.outDir, new Date().toISOString().replace(/[:.]/g, '-'));
  mkdirSync(dir, { recursive: true });
  const gateway: Started = await startGateway(options.gatewayDir, options.upstreamPort, 'warn', ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
  const frameFile = join(dir, 'request.grpc');
  const conversation = { messages: [{ role: 'ROLE_USER', content: 'Say hello.' }], maxTokens: 50 };
  writeFileSync(
    frameFile,
    options.stream
      ? grpcFrame(StreamChatRequest.encode(StreamChatRequest.fromJSON({ model: 'gpt-4o', ...conversation })).finish())
      : grpcFrame(ChatRequest.encode(ChatRequest.fromJSON({ model: 'gpt-4o', ...conversation })).finish()),
  );
  const concurrency = options.concurrency ?? 64;
  let reqPerSec = 0;
  try {
    if (options.paced) {
      const client = new GrpcH2Client(`http://127.0.0.1:${gateway.port}`, 10);
      const frame = streamFrame('gpt-3.5-turbo');
      const r = await streamsScenario({
        target: 'gateway',
        concurrency: 1000,
        rampMs: 2000,
        windowMs: options.seconds * 1000,
        pid: gateway.pid,
        cpuPids: { gateway: gateway.pid },
        open: (onToken) =>
          client.serverStream('/orchestrator.v1.ChatService/StreamChat', frame, (m) => {
            if (m[0] === 0x12) onToken();
          }),
      });
      client.close();
      reqPerSec = r.tokensPerSec;
    } else {
      const result = await runH2load(options.h2load, {
        url: `http://127.0.0.1:${gateway.port}/orchestrator.v1.ChatService/${options.stream ? 'StreamChat' : 'Chat'}`,
        clients: 8,
        streams: Math.ceil(concurrency / 8),
        durationS: options.seconds,
        warmupS: 1,
        dataFile: frameFile,
        headers: ['content-type: application/grpc', 'te: trailers'],
      });
      reqPerSec = result.reqPerSec;
    }
  } finally {
    await gateway.stop(); // SIGTERM: graceful exit, and node writes the profile
  }
  return finish();

  function finish(): ProfileResult {
    // The main thread's profile (a ledger's writer thread writes a second one, numbered after it).
    const file = readdirSync(dir)
      .filter((f) => f.endsWith('.cpuprofile'))
      .sort()[0];
    if (!file) throw new Error(`no .cpuprofile written in ${dir}`);
    const summary = summariseProfile(join(dir, file), 25);
    const what = options.paced
      ? `1,000 paced StreamChat calls, ${Math.round(reqPerSec)} tokens/s`
      : `${options.stream ? 'StreamChat' : 'Chat'} at concurrency ${concurrency}, ${Math.round(reqPerSec)} req/s`;
    const title = `Gateway CPU profile, ${what} (${join(dir, file)})`;
    return { file: join(dir, file), reqPerSec, summary, text: formatProfile(summary, title) };
  }
}

async function main(): Promise<void> {
  checkArgs(USAGE, ARGS);
  const arg = (name: string): string | undefined => {
    const at = process.argv.indexOf(`--${name}`);
    return at >= 0 ? process.argv[at + 1] : undefined;
  };
  const { startUpstream } = await import('./fleet.js');
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  const h2load = ensureH2load(log);
  const upstream = await startUpstream();
  try {
    const result = await profileGateway({
      gatewayDir: resolve(arg('gateway-dir') ?? resolve(BENCH_DIR, '..')),
      upstreamPort: upstream.port,
      h2load,
      seconds: Number(arg('seconds') ?? 8),
      concurrency: Number(arg('concurrency') ?? 64),
      stream: process.argv.includes('--stream'),
      paced: process.argv.includes('--paced'),
      outDir: join(BENCH_DIR, 'results/profiles'),
      log,
    });
    process.stdout.write(`${result.text}\n`);
  } finally {
    await upstream.stop();
  }
}

runIfMain(import.meta.url, main);
