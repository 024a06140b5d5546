import { startApp } from './app.js';
import { ConfigError, loadConfig, loadDotEnv } from './config/config.js';
import { ConfigFileError } from './config/file.js';
import { openLogOutput } from './telemetry/log-destination.js';
import { createLogger } from './telemetry/logger.js';

async function main(): Promise<void> {
  loadDotEnv();
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const problem of err.problems) process.stderr.write(`config error: ${problem}\n`);
      process.exit(2);
    }
    throw err;
  }
  // stdout, plus LOG_FILE rotated daily when set; flushed synchronously at exit.
  const output = openLogOutput({ file: config.logFile });
  const root = createLogger(config.logLevel, output.stream);
  const log = config.environment ? root.child({ environment: config.environment }) : root;
  let app;
  try {
    app = await startApp(config, log);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof ConfigFileError) {
      log.flush();
      const problems = err instanceof ConfigFileError ? err.problems.map((p) => `${err.file}: ${p}`) : err.problems;
      for (const problem of problems) process.stderr.write(`config error: ${problem}\n`);
      process.exit(2);
    }
    throw err;
  }
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, graceMs: config.shutdownGraceMs }, 'shutting down: health NOT_SERVING, draining calls');
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
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`llm-orchestrator failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
