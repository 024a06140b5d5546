/** The streams scenario: many concurrent StreamChat calls at a realistic token rate. */
import { DELTA_TAG, QUIET_CORES, STREAM, TOKEN_RATE, jsonBody, log, peerHeaders, startGateway, streamFrame, type Fleet } from '../fleet.js';
import { GrpcH2Client } from '../lib/grpc-h2.js';
import { HttpTarget } from '../lib/http-client.js';
import { CpuMeter, procMemory, resetPeak, sleep, waitForQuiet } from '../lib/proc.js';
import { distribution, type Distribution } from '../lib/stats.js';
import { fmt, int } from '../lib/table.js';
import type { Options, Plan } from '../options.js';

export interface StreamsResult {
  readonly target: string;
  readonly concurrency: number;
  readonly offeredTokensPerSec: number;
  readonly tokensPerSec: number;
  readonly ttft: Distribution;
  /** Time to first token of the first `concurrency` streams, the ones started during the ramp. */
  readonly ttftRamp: Distribution;
  readonly streamsStarted: number;
  readonly streamsCompleted: number;
  readonly streamsFailed: number;
  readonly rssBeforeMb: number;
  readonly peakRssMb: number;
  readonly cpu: Record<string, number>;
}

export interface StreamHandle {
  readonly done: Promise<number>;
  cancel(): void;
}

export async function streamsScenario(options: {
  target: string;
  concurrency: number;
  rampMs: number;
  windowMs: number;
  pid: number;
  cpuPids: Record<string, number | 'self'>;
  open: (onToken: () => void) => StreamHandle;
}): Promise<StreamsResult> {
  const { concurrency, rampMs, windowMs } = options;
  const ttft: number[] = [];
  const ttftRamp: number[] = [];
  let started = 0;
  let completed = 0;
  let failed = 0;
  let tokensInWindow = 0;
  let inWindow = false;
  let stopping = false;
  const live = new Set<StreamHandle>();
  const rssBeforeMb = procMemory(options.pid).rssMb;
  resetPeak(options.pid);
  let peakSampled = rssBeforeMb;
  const sampler = setInterval(() => {
    try {
      peakSampled = Math.max(peakSampled, procMemory(options.pid).rssMb);
    } catch {
      /* gone */
    }
  }, 100);

  const startOne = (): void => {
    if (stopping) return;
    started += 1;
    const ramping = started <= concurrency;
    const t0 = performance.now();
    let first = true;
    const handle = options.open(() => {
      if (first) {
        first = false;
        const ms = performance.now() - t0;
        ttft.push(ms);
        if (ramping) ttftRamp.push(ms);
      }
      if (inWindow) tokensInWindow += 1;
    });
    live.add(handle);
    void handle.done.then((status) => {
      live.delete(handle);
      if (stopping) return;
      if (status === 0) completed += 1;
      else failed += 1;
      startOne();
    });
  };

  // Ramp: spread the starts over rampMs, a few per millisecond tick.
  const perTick = Math.max(1, Math.ceil(concurrency / Math.max(1, rampMs / 10)));
  for (let i = 0; i < concurrency; i += perTick) {
    for (let j = i; j < Math.min(concurrency, i + perTick); j++) startOne();
    await sleep(10);
  }
  await sleep(500);
  const meter = new CpuMeter(options.cpuPids).begin();
  inWindow = true;
  const windowStart = performance.now();
  await sleep(windowMs);
  inWindow = false;
  const seconds = (performance.now() - windowStart) / 1000;
  const cpu = meter.end();
  stopping = true;
  clearInterval(sampler);
  const hwm = procMemory(options.pid).hwmMb;
  for (const h of live) h.cancel();
  await Promise.race([Promise.all([...live].map((h) => h.done)), sleep(5_000)]);
  return {
    target: options.target,
    concurrency,
    offeredTokensPerSec: concurrency * TOKEN_RATE,
    tokensPerSec: tokensInWindow / seconds,
    ttft: distribution(ttft),
    ttftRamp: distribution(ttftRamp),
    streamsStarted: started,
    streamsCompleted: completed,
    streamsFailed: failed,
    rssBeforeMb,
    peakRssMb: Math.max(hwm, peakSampled),
    cpu,
  };
}

// ---------------------------------------------------------------------------------- main

/**
 * 3. Streams: 1,000 concurrent StreamChat calls at a realistic token rate, direct, through the
 * gateway and through the peer. The gateway is a fresh process, so its peak RSS is what the
 * streams need (not the heap a throughput run grew).
 */
export async function streamScenarios(fleet: Fleet, options: Options, p: Plan): Promise<StreamsResult[]> {
  const results: StreamsResult[] = [];
  log(`3/4 streams (${p.streams} concurrent, ${TOKEN_RATE} tokens/s each) ...`);
  const pacedJson = jsonBody('gpt-3.5-turbo', true);
  const httpStreams =
    (target: HttpTarget) =>
    (onToken: () => void): StreamHandle => {
      const controller = new AbortController();
      const done = target
        .stream(pacedJson, onToken, controller.signal)
        .then((r) => (r.status === 200 ? 0 : r.status))
        .catch(() => -1);
      return { done, cancel: () => controller.abort() };
    };
  await waitForQuiet(30_000, QUIET_CORES, log);
  const directStreams = new HttpTarget(
    `http://127.0.0.1:${fleet.upstream.port}`,
    '/v1/chat/completions',
    { 'content-type': 'application/json' },
    p.streams,
  );
  results.push(
    await streamsScenario({
      target: 'direct',
      concurrency: p.streams,
      rampMs: p.streamRampMs,
      windowMs: p.streamWindowMs,
      pid: fleet.upstream.pid,
      cpuPids: { upstream: fleet.upstream.pid, client: 'self' },
      open: httpStreams(directStreams),
    }),
  );
  await directStreams.close();
  log(`  direct: ${int(results.at(-1)!.tokensPerSec)} tokens/s`);
  const streamGateway = await startGateway(options.gatewayDir, fleet.upstream.port, options.logLevel);
  try {
    await waitForQuiet(30_000, QUIET_CORES, log);
    const streamClient = new GrpcH2Client(`http://127.0.0.1:${streamGateway.port}`, 10);
    const pacedFrame = streamFrame('gpt-3.5-turbo');
    results.push(
      await streamsScenario({
        target: 'gateway',
        concurrency: p.streams,
        rampMs: p.streamRampMs,
        windowMs: p.streamWindowMs,
        pid: streamGateway.pid,
        cpuPids: { gateway: streamGateway.pid, upstream: fleet.upstream.pid, client: 'self' },
        open: (onToken) =>
          streamClient.serverStream(STREAM, pacedFrame, (m) => {
            if (m[0] === DELTA_TAG) onToken();
          }),
      }),
    );
    streamClient.close();
  } finally {
    await streamGateway.stop();
  }
  log(`  gateway: ${int(results.at(-1)!.tokensPerSec)} tokens/s, peak RSS ${fmt(results.at(-1)!.peakRssMb, 0)} MB`);
  if (fleet.peer) {
    await waitForQuiet(30_000, QUIET_CORES, log);
    const peerStreams = new HttpTarget(
      `http://127.0.0.1:${fleet.peer.port}`,
      '/v1/chat/completions',
      peerHeaders(fleet.upstream.port),
      p.streams,
    );
    results.push(
      await streamsScenario({
        target: 'peer',
        concurrency: p.streams,
        rampMs: p.streamRampMs,
        windowMs: p.streamWindowMs,
        pid: fleet.peer.pid,
        cpuPids: { peer: fleet.peer.pid, upstream: fleet.upstream.pid, client: 'self' },
        open: httpStreams(peerStreams),
      }),
    );
    await peerStreams.close();
    log(`  peer: ${int(results.at(-1)!.tokensPerSec)} tokens/s, peak RSS ${fmt(results.at(-1)!.peakRssMb, 0)} MB`);
  }

  return results;
}
