import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import type { StatsState } from '../telemetry/stats.js';
import { startMetricsServer, type MetricsServer } from '../telemetry/metrics-server.js';
import { Collector, send } from './collector.js';
import { workersExposition } from './metrics.js';
import { isClusterMessage, type WorkerMetrics } from './messages.js';
import { Supervisor } from './supervisor.js';
import { endsDrain, exitWithoutDrain, hangups, stops } from '../startup-signals.js';

/**
 * The primary of WORKERS > 1: forks the workers (each a whole gateway on the shared port,
 * node:cluster hands out the connections) and keeps them running (Supervisor), serves /metrics
 * as the sum of theirs and gathers their counters for GetStats (Collector), and on
 * SIGTERM/SIGINT lets every worker drain as a single process would, then exits 0. It serves no
 * gRPC itself.
 */
export async function runPrimary(config: Config, log: Logger): Promise<void> {
  let metricsServer: MetricsServer | undefined;
  // Both refer to each other only inside callbacks that run once the workers exist.
  const collector = new Collector(() => supervisor.serving());
  const supervisor: Supervisor = new Supervisor({
    workers: config.workers,
    log,
    events: {
      up: (port) => log.info({ port, workers: config.workers, metrics: metricsServer?.url }, 'llm-orchestrator listening (cluster)'),
      message: (worker, message) => {
        if (!isClusterMessage(message)) return;
        if (message.llmo === 'ready') supervisor.markReady(worker, message.port);
        else if (message.llmo === 'stats-request') {
          const askerId = message.id;
          collector.collect('stats', (answers, missing) =>
            send(worker, { llmo: 'stats-result', id: askerId, states: answers as StatsState[], missing }),
          );
        } else if (message.llmo === 'stats-state') collector.answered(worker, message.id, message.state);
        else if (message.llmo === 'metrics-state') collector.answered(worker, message.id, message.metrics);
      },
      exited: (worker) => collector.forget(worker.id),
    },
    // Each worker ends itself by then (serve.ts); this bounds the one that cannot.
    stopWithinMs: config.drainDelayMs + config.shutdownGraceMs + 5_000,
  });

  if (config.metrics.enabled) {
    metricsServer = await startMetricsServer(
      {
        exposition: () =>
          new Promise((resolve, reject) =>
            collector.collect('metrics', (answers) => {
              workersExposition(answers as WorkerMetrics[]).then(resolve, reject);
            }),
          ),
      },
      config.metrics,
    );
  }

  // Long ago for a stop the primary began itself (a worker that could not start): no Ctrl-C to come twice.
  let signalledAt = 0;
  const stop = (signal: NodeJS.Signals): void => {
    if (supervisor.isStopping) {
      // As one process does (serve.ts); sent to the primary alone (kill -INT), a SIGINT reaches
      // no worker, and a worker that outlived the primary would drain on regardless.
      if (endsDrain(signal, signalledAt)) {
        supervisor.killAll();
        exitWithoutDrain();
      }
      return;
    }
    signalledAt = Date.now();
    log.info({ signal, workers: supervisor.live().length }, 'shutting down: every worker drains');
    supervisor.stopAll(0);
  };
  stops.handleWith(stop);
  // Each worker reloads the config file's API keys itself; SIGHUP must not end the primary (Node's
  // default). A worker still starting gets it once it serves.
  hangups.handleWith(() => {
    // The workers share the primary's environment: none has a file to reload either.
    if (!config.configFile) {
      log.info('SIGHUP: no config file to reload (CONFIG_FILE is not set)');
      return;
    }
    log.info({ workers: supervisor.live().length }, 'SIGHUP: every worker reloads the config file');
    supervisor.reloadAll();
  });

  supervisor.start();
  const code = await supervisor.done;
  await metricsServer?.close();
  log.info({ code }, code === 0 ? 'stopped' : 'stopped after a failure');
  log.flush();
  process.exit(code);
}
