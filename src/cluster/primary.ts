import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { AggregatorRegistry } from 'prom-client';
import type { Config } from '../config/config.js';
import type { StatsState } from '../telemetry/stats.js';
import { startMetricsServer, type MetricsServer } from '../telemetry/metrics-server.js';
import { isClusterMessage, type ClusterMessage, type WorkerMetrics } from './messages.js';

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
  let stopping = false;
  let exitCode = 0;
  /** Workers that said they serve, and not yet exited. */
  const ready = new Set<number>();
  /** Every first worker has served once: from then on a death is replaced, not fatal. */
  let wasUp = false;
  const restarts: number[] = [];
  /** Collections in progress: what each serving worker sent so far, who is still to answer, what to do with it all. */
  const collections = new Map<
    number,
    { readonly answers: unknown[]; readonly waiting: Set<number>; readonly timer: NodeJS.Timeout; readonly done: (answers: unknown[], missing: number) => void }
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
    c.done(c.answers, c.waiting.size);
  };
  /** Asks every serving worker (a worker still starting has nothing to say, and no listener yet). */
  const collect = (what: 'stats' | 'metrics', done: (answers: unknown[], missing: number) => void): void => {
    const id = nextCollection++;
    const workers = live().filter((w) => ready.has(w.id));
    collections.set(id, { answers: [], waiting: new Set(workers.map((w) => w.id)), timer: setTimeout(() => finishCollection(id), COLLECT_TIMEOUT_MS), done });
    for (const w of workers) send(w, { llmo: 'collect', id, what });
    if (workers.length === 0) finishCollection(id);
  };
  const answered = (worker: Worker, id: number, answer: unknown): void => {
    const c = collections.get(id);
    if (!c || !c.waiting.delete(worker.id)) return;
    c.answers.push(answer);
    if (c.waiting.size === 0) finishCollection(id);
  };

  let metricsServer: MetricsServer | undefined;
  if (config.metrics.enabled) {
    metricsServer = await startMetricsServer(
      {
        exposition: () =>
          new Promise((resolve, reject) =>
            collect('metrics', (answers) => {
              // The workers' registries added up (prom-client's cluster aggregation rules per metric).
              const registry = AggregatorRegistry.aggregate(answers as WorkerMetrics[]);
              registry.metrics().then((body) => resolve({ contentType: registry.contentType, body }), reject);
            }),
          ),
      },
      config.metrics,
    );
  }

  const onMessage = (worker: Worker, message: unknown): void => {
    if (!isClusterMessage(message)) return;
    if (message.llmo === 'ready') {
      ready.add(worker.id);
      if (!wasUp && ready.size === config.workers) {
        wasUp = true;
        log.info({ port: message.port, workers: config.workers, metrics: metricsServer?.url }, 'llm-orchestrator listening (cluster)');
      } else if (wasUp) {
        log.info({ worker: worker.id }, 'replacement worker serving');
      }
    } else if (message.llmo === 'stats-request') {
      const askerId = message.id;
      collect('stats', (answers, missing) => send(worker, { llmo: 'stats-result', id: askerId, states: answers as StatsState[], missing }));
    } else if (message.llmo === 'stats-state') {
      answered(worker, message.id, message.state);
    } else if (message.llmo === 'metrics-state') {
      answered(worker, message.id, message.metrics);
    }
  };

  /** Worker ids forked and not yet exited. */
  const alive = new Set<number>();
  const fork = (): void => {
    const worker = cluster.fork();
    alive.add(worker.id);
    worker.on('message', (message: unknown) => onMessage(worker, message));
  };

  let finished: (code: number) => void = () => undefined;
  const done = new Promise<number>((resolve) => {
    finished = resolve;
  });
  /** Every worker drains (SIGTERM); the primary exits with `exitCode` once the last is gone. */
  const stopAll = (code: number): void => {
    stopping = true;
    exitCode = code;
    for (const w of live()) w.process.kill('SIGTERM');
    if (alive.size === 0) finished(exitCode);
  };
  cluster.on('exit', (worker, code, signal) => {
    alive.delete(worker.id);
    const served = ready.delete(worker.id);
    for (const [id, c] of collections) if (c.waiting.delete(worker.id) && c.waiting.size === 0) finishCollection(id);
    if (stopping) {
      if (code !== 0 && code !== null) exitCode = 1;
      if (alive.size === 0) finished(exitCode);
      return;
    }
    if (!wasUp) {
      // A first worker that could not start (a config error found at start-up, a port in
      // use): the others would fail the same way.
      log.error({ worker: worker.id, code, signal }, 'a worker failed to start; stopping');
      stopAll(code ?? 1);
      return;
    }
    const now = Date.now();
    restarts.push(now);
    while (restarts.length > 0 && (restarts[0] ?? now) < now - 60_000) restarts.shift();
    if (restarts.length > MAX_RESTARTS_PER_MINUTE) {
      log.error({ worker: worker.id, code, signal }, 'workers keep dying; stopping');
      stopAll(1);
      return;
    }
    log.error({ worker: worker.id, code, signal, served }, 'a worker died; starting another');
    fork();
  });

  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    log.info({ signal, workers: live().length }, 'shutting down: every worker drains');
    stopAll(0);
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
