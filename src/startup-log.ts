import type { Logger } from 'pino';
import type { ResolvedConfig } from './config/resolve.js';
import { maskUrlPassword } from './domain/url-password.js';
import type { Simulator } from './simulator/index.js';
import { packageVersion } from './version.js';

/** What start-up ended with, for its last log lines. */
export interface Listening {
  readonly port: number;
  readonly httpPort: number | undefined;
  /** Every registered provider, the simulator's included. */
  readonly providers: readonly string[];
  /** How many providers the configuration names (with their keys set). */
  readonly configured: number;
  readonly simulator: Simulator | undefined;
  readonly simulatedModels: readonly string[];
  readonly metricsUrl: string | undefined;
}

/** Says where the gateway listens, and warns when its answers are simulated or every call would fail. */
export function logListening(config: ResolvedConfig, log: Logger, started: Listening): void {
  const { simulator, simulatedModels: models, configured, httpPort } = started;
  if (simulator && configured === 0) {
    log.warn(
      { simulator: simulator.baseURL, models },
      'no provider API key is set: serving SIMULATED models from the embedded simulator (set OPENAI_API_KEY for real ones)',
    );
  } else if (simulator) {
    log.warn({ simulator: simulator.baseURL, models }, 'SIMULATOR=on: models without a configured provider are SIMULATED');
  } else if (configured === 0) {
    log.warn('no provider is configured and SIMULATOR=off: every call will fail with FAILED_PRECONDITION');
  }
  log.info(
    {
      host: config.host,
      version: packageVersion(),
      port: started.port,
      ...(httpPort !== undefined ? { httpHost: config.http.host, httpPort } : {}),
      providers: started.providers,
      configFile: config.configFile,
      metrics: started.metricsUrl,
      tracing: config.tracing.otlpEndpoint ? maskUrlPassword(config.tracing.otlpEndpoint) : 'traceparent propagation only',
    },
    'llm-orchestrator listening',
  );
}
