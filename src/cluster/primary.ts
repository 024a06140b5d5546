import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { AggregatorRegistry } from 'prom-client';
import type { Config } from '../config/config.js';
import type { StatsState } from '../telemetry/stats.js';
import { startMetricsServer, type MetricsServer } from '../telemetry/metrics-server.js';
import { isClusterMessage, type ClusterMessage } from './messages.js';

/** How long the primary waits for every worker's counters. */
const COLLECT_TIMEOUT_MS = 2_000;
/** Workers that die this often within a minute are not replaced any more: something is wrong. */
const MAX_RESTARTS_PER_MINUTE = 5;

/**
 * The primary of WORKERS > 1: forks the workers (each a whole gateway on the shared port,
 * node:cluster hands out the connections), serves /metrics as the sum of theirs (prom-client's
 * AggregatorRegistry), gathers their counters for GetStats, replaces a worker that dies, and on
 * SIGTERM/SIGINT lets every worker drain as a single process would, then exits 0. It serves no
 * gRPC itself.
 */
export async function runPrimary(config: Config, log: Logger): Promise<void> {
  let metricsServer: MetricsServer | undefined;
  if (config.metrics.enabled) {
    const aggregator = new AggregatorRegistry();
    metricsServer = await startMetricsServer(
      { exposition: async () => ({ contentType: aggregator.contentType, body: await aggregator.clusterMetrics() }) },
      config.metrics,
    );
  }
  let stopping = false;
  let exitCode = 0;
  let started = 0;
  const restarts: number[] = [];
  /** Collections in progress: the asking worker and its own request id, the states so far, who is still to answer. */
  const collections = new Map<
    number,
    { readonly asker: Worker; readonly askerId: number; readonly states: StatsState[]; readonly waiting: Set<number>; readonly timer: NodeJS.Timeout }
  >();
  let nextCollection = 0;

  const send = (worker: Worker, message: ClusterMessage): void => {
    if (worker.isConnected()) worker.send(message);
  };
  const live = (): Worker[] => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && w.isConnected());

  const finishCollection = (id: number): void => {
    const c = collections.get(id);
    if (!c) return;
    collections.delete(id);
    clearTimeout(c.timer);
    send(c.asker, { llmo: 'stats-result', id: c.askerId, states: c.states, missing: c.waiting.size });
  };

  const onMessage = (worker: Worker, message: unknown): void => {
    if (!isClusterMessage(message)) return;
    if (message.llmo === 'ready') {
      started += 1;
      if (started === config.workers) log.info({ port: message.port, workers: config.workers, metrics: metricsServer?.url }, 'llm-orchestrator listening (cluster)');
    } else if (message.llmo === 'stats-request') {
      const id = nextCollection++;
      const workers = live();
      const waiting = new Set(workers.map((w) => w.id));
      collections.set(id, { asker: worker, askerId: message.id, states: [], waiting, timer: setTimeout(() => finishCollection(id), COLLECT_TIMEOUT_MS) });
      for (const w of workers) send(w, { llmo: 'stats-collect', id });
    } else if (message.llmo === 'stats-state') {
      const c = collections.get(message.id);
      if (!c || !c.waiting.delete(worker.id)) return;
      c.states.push(message.state);
      if (c.waiting.size === 0) finishCollection(message.id);
    }
  };

  /** Worker ids forked and not yet exited. */
  const alive = new Set<number>();
  const fork = (): void => {
    const worker = cluster.fork();
    alive.add(worker.id);
    worker.on('message', (message: unknown) => onMessage(worker, message));
  };

  const done = new Promise<number>((resolve) => {
    cluster.on('exit', (worker, code, signal) => {
      alive.delete(worker.id);
      for (const [id, c] of collections) if (c.waiting.delete(worker.id) && c.waiting.size === 0) finishCollection(id);
      if (stopping) {
        if (code !== 0 && code !== null) exitCode = 1;
        if (alive.size === 0) resolve(exitCode);
        return;
      }
      if (started < config.workers) {
        // A worker that could not start (a config error found at start-up, a port in use):
        // the others would fail the same way.
        log.error({ worker: worker.id, code, signal }, 'a worker failed to start; stopping');
        stopping = true;
        exitCode = code ?? 1;
        for (const w of live()) w.process.kill('SIGTERM');
        if (alive.size === 0) resolve(exitCode);
        return;
      }
      const now = Date.now();
      restarts.push(now);
      while (restarts.length > 0 && (restarts[0] ?? now) < now - 60_000) restarts.shift();
      if (restarts.length > MAX_RESTARTS_PER_MINUTE) {
        log.error({ worker: worker.id, code, signal }, 'workers keep dying; stopping');
        stopping = true;
        exitCode = 1;
        for (const w of live()) w.process.kill('SIGTERM');
        if (alive.size === 0) resolve(exitCode);
        return;
      }
      log.error({ worker: worker.id, code, signal }, 'a worker died; starting another');
      started -= 1;
      fork();
    });
  });

  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, workers: live().length }, 'shutting down: every worker drains');
    for (const w of live()) w.process.kill('SIGTERM');
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  for (let i = 0; i < config.workers; i++) fork();
  const code = await done;
  await metricsServer?.close();
  log.info({ code }, code === 0 ? 'stopped' : 'stopped after a failure');
  log.flush();
  process.exit(code);
}
