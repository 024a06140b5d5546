/**
 * `npm run bench` (`-- --help` for the options): the command line. The processes it measures
 * are in fleet.ts, the scenarios in scenarios/, the tables and targets in report.ts.
 *
 * Processes (all on this machine, loopback only): the bench upstream (bench/upstream.ts), the
 * gateway (node dist/main.js), a bare grpc-js echo server (the floor for any grpc-js gateway),
 * the Portkey gateway 1.15.2 (installed on demand into bench/.peer), h2load, and this process
 * as the client for the sequential and streaming scenarios.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  BENCH_DIR,
  buildGateway,
  clientsFor,
  ensurePeer,
  log,
  portFrom,
  startGateway,
  startPeer,
  startUpstream,
  tsxArgs,
  type Fleet,
} from './fleet.js';
import { checkArgs } from './lib/args.js';
import { ensureH2load } from './lib/h2load.js';
import { startProcess, type Started } from './lib/proc.js';
import { ARGS, parseOptions, plan, USAGE, type Options, type Plan } from './options.js';
import { profileGateway } from './profile.js';
import { httpTargetsOf, meta, render, targetsOf, type Report } from './report.js';
import { httpScenarios } from './scenarios/http.js';
import { allocationScenario, allocProbeArgs } from './scenarios/allocation.js';
import { overheadScenario, raceFallbackScenario } from './scenarios/sequential.js';
import { streamScenarios } from './scenarios/streams.js';
import { throughputScenario } from './scenarios/throughput.js';
import { runTransportBench } from './transport.js';

async function main(): Promise<void> {
  checkArgs(USAGE, ARGS);
  const options = parseOptions(process.argv.slice(2));
  const p = plan(options.quick);
  const t0 = Date.now();
  const h2load = ensureH2load(log);
  // Without the peer the rows that compare with it say why they are empty; nothing is made up.
  let peerMissing: string | undefined = options.peer ? undefined : 'peer skipped (--no-peer)';
  if (options.peer) {
    try {
      ensurePeer();
    } catch (err) {
      log(`the peer could not be installed, its rows are skipped: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
      peerMissing = 'peer not installed';
    }
  }
  if (options.build) buildGateway(options.gatewayDir);
  if (!existsSync(join(options.gatewayDir, 'dist/main.js'))) throw new Error(`no dist/main.js in ${options.gatewayDir}`);

  log('starting upstream, gateway, echo server' + (peerMissing === undefined ? ', peer' : '') + ' ...');
  const upstream = await startUpstream();
  const started: Started[] = [upstream];
  const probe = await allocProbeArgs();
  const fleet: Fleet = await (async () => {
    try {
      const gateway = await startGateway(options.gatewayDir, upstream.port, options.logLevel, probe.nodeArgs, probe.env);
      started.push(gateway);
      const echo = await startProcess({
        name: 'echo',
        command: process.execPath,
        args: tsxArgs('echo-server.ts'),
        portFromLine: portFrom('echo'),
      });
      started.push(echo);
      const peer = peerMissing === undefined ? await startPeer() : undefined;
      if (peer) started.push(peer);
      return { upstream, gateway, echo, peer, stop: async () => void (await Promise.all(started.map((s) => s.stop()))) };
    } catch (err) {
      await Promise.all(started.map((s) => s.stop()));
      throw err;
    }
  })();

  try {
    const report = await measure(fleet, h2load, options, p, { probePort: probe.port, peerMissing });
    report.meta.durationSeconds = Math.round((Date.now() - t0) / 1000);
    if (options.transport) {
      log('transport micro-benchmark ...');
      report.transport = await runTransportBench({
        baseURL: `http://127.0.0.1:${fleet.upstream.port}/v1`,
        calls: options.quick ? 5_000 : 15_000,
        concurrency: 64,
        rounds: options.quick ? 1 : 2,
        log,
      });
    }
    if (options.profile) {
      log('profiling the gateway under load ...');
      report.profile = await profileGateway({
        gatewayDir: options.gatewayDir,
        upstreamPort: fleet.upstream.port,
        h2load,
        seconds: options.quick ? 4 : 8,
        outDir: join(BENCH_DIR, 'results/profiles'),
        log,
      });
    }
    mkdirSync(dirname(options.out), { recursive: true });
    writeFileSync(options.out, `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(`${render(report)}\n\nJSON: ${options.out}\n`);
  } finally {
    await fleet.stop();
  }
}

/**
 * The four gRPC scenarios in order, each on a quiet machine, then the HTTP API rows, then the
 * targets. `--http-only`: the HTTP API rows alone; `--no-http`: the gRPC scenarios alone.
 */
async function measure(
  fleet: Fleet,
  h2load: string,
  options: Options,
  p: Plan,
  extra: { probePort: number; peerMissing: string | undefined },
): Promise<Report> {
  const hasPeer = fleet.peer !== undefined;
  const reportMeta = meta(options, fleet);
  let grpc: Omit<Report, 'meta' | 'targets' | 'http'> | undefined;
  if (!options.httpOnly) {
    const clients = clientsFor(fleet);
    const overhead = await overheadScenario(fleet, clients, p);
    const { throughput, fixedRate } = await throughputScenario(fleet, h2load, options, p);
    const streams = await streamScenarios(fleet, options, p);
    const raceFallback = await raceFallbackScenario(fleet, clients, p);
    await clients.close();
    const allocation = await allocationScenario({
      gatewayPort: fleet.gateway.port,
      probePort: extra.probePort,
      calls: p.allocCalls,
      warmup: p.allocWarmup,
      concurrency: 16,
    });
    grpc = { overhead, throughput, fixedRate, streams, raceFallback, allocation };
  }
  const http =
    options.http || options.httpOnly
      ? await httpScenarios(fleet, h2load, p, { count: options.workers, gatewayDir: options.gatewayDir, logLevel: options.logLevel })
      : undefined;
  const targets = {
    ...(grpc?.overhead && grpc.throughput && grpc.fixedRate && grpc.streams
      ? targetsOf(
          {
            overhead: grpc.overhead,
            throughput: grpc.throughput,
            fixedRate: grpc.fixedRate,
            streams: grpc.streams,
            allocation: grpc.allocation,
          },
          p.levels,
          extra.peerMissing ?? (hasPeer ? undefined : 'peer not started'),
        )
      : {}),
    ...(http ? httpTargetsOf(http, hasPeer, extra.peerMissing) : {}),
  };
  return { meta: reportMeta, ...grpc, ...(http ? { http } : {}), targets };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
