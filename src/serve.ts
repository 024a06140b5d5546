import cluster from 'node:cluster';
import { endsDrain, exitWithoutDrain, hangups, stops } from './startup-signals.js';
import v8 from 'node:v8';
import { startApp } from './app.js';
import { clusterProblems } from './cluster/checks.js';
import { runPrimary } from './cluster/primary.js';
import { drainWhenPrimaryGoes, sendToPrimary } from './cluster/worker.js';
import { ConfigError, loadDotEnv } from './config/config.js';
import { timerDelay } from './domain/timers.js';
import { configProblems, resolveConfig, type ResolvedConfig } from './config/resolve.js';
import { type LogOutput, openLogOutput } from './telemetry/log-destination.js';
import { createLogger } from './telemetry/logger.js';

/** A configuration problem: every line on stderr, exit code 2; anything else is rethrown. */
function exitOnConfigError(err: unknown, beforeExit?: () => void): never {
  const problems = configProblems(err);
  if (!problems) throw err;
  beforeExit?.();
  for (const problem of problems) process.stderr.write(`config error: ${problem}\n`);
  process.exit(2);
}

/** A LOG_FILE that cannot be opened (a directory, a parent that is a file) is a setting to fix: exit 2 naming it. */
function openLogFileOrExit(file: ResolvedConfig['logFile'], shared: boolean): LogOutput {
  try {
    return openLogOutput({ file, shared });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    exitOnConfigError(new ConfigError([`LOG_FILE: cannot write ${file?.path}: ${code}`]));
  }
}

async function main(): Promise<void> {
  loadDotEnv();
  let config: ResolvedConfig;
  try {
    config = resolveConfig();
    // Before anything is opened (the log file): what several workers cannot share. Each worker
    // checks again: a replacement reads the config file as it is now, not as the primary saw it.
    if (config.workers > 1) {
      const problems = clusterProblems(config, config.file);
      if (problems.length > 0) throw new ConfigError(problems);
    }
  } catch (err) {
    exitOnConfigError(err);
  }
  // Before the first call: pretenuring decisions are taken from the garbage collections that
  // calls cause, and one taken during a burst is never revisited (src/config/runtime-env.ts).
  if (!config.v8Pretenuring) v8.setFlagsFromString('--no-allocation-site-pretenuring');
  const worker = config.workers > 1 && cluster.isWorker;
  // stdout, plus LOG_FILE rotated daily when set; flushed synchronously at exit. The primary and
  // the workers of WORKERS > 1 share one stdout.
  const output = openLogFileOrExit(config.logFile, config.workers > 1);
  // Bounded: a reader that went away never keeps the process from exiting.
  process.once('exit', () => output.stream.flushSync());
  const root = createLogger(config.logLevel, output.stream);
  const base = config.environment ? root.child({ environment: config.environment }) : root;
  const log = worker ? base.child({ worker: cluster.worker?.id }) : base;
  let app: Awaited<ReturnType<typeof startApp>>;
  try {
    if (config.workers > 1 && cluster.isPrimary) {
      await runPrimary(config, log);
      return;
    }
    // The primary forks the first workers first: node:cluster numbers workers from 1 in fork order.
    const replacesWorker = worker && (cluster.worker?.id ?? 0) > config.workers;
    app = await startApp(config, log, process.env, { clusterWorker: worker, replacesWorker });
  } catch (err) {
    exitOnConfigError(err, () => log.flush());
  }
  let stoppingSince: number | undefined;
  const stop = (signal: NodeJS.Signals): void => {
    if (stoppingSince !== undefined) {
      // Ctrl-C pressed again at a terminal: whoever watches does not want to wait out the grace.
      // A second SIGTERM is not that: service managers send one, then SIGKILL at their own bound.
      if (endsDrain(signal, stoppingSince)) exitWithoutDrain();
      return;
    }
    stoppingSince = Date.now();
    log.info({ signal, graceMs: config.shutdownGraceMs }, 'shutting down: health NOT_SERVING, draining calls');
    // Whatever a log destination or a lingering connection does, the process ends soon after
    // the drain delay and the grace period (the server's own force-close comes 2 s after them).
    setTimeout(
      () => {
        process.stderr.write('shutdown overran its grace period; exiting\n');
        process.exit(1);
      },
      timerDelay(config.drainDelayMs + config.shutdownGraceMs + 5_000),
    ).unref();
    app.stop().then(
      () => {
        log.info('stopped');
        log.flush();
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        log.flush();
        process.exit(1);
      },
    );
  };
  stops.handleWith(stop);
  // The config file's API keys and global limits are re-read; runtime keys (ApiKeyService) reload by themselves.
  hangups.handleWith(() => app.reloadKeys());
  if (worker) {
    // A worker whose primary is gone (killed) drains and exits rather than serving alone.
    drainWhenPrimaryGoes(() => stop('SIGTERM'));
    sendToPrimary({ llmo: 'ready', port: app.port });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`llm-orchestrator failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
