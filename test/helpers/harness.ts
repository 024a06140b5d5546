import { pino, type Logger } from 'pino';
import { startApp, type App, type StartOptions } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { completeConfig, type ResolvedConfig } from '../../src/config/resolve.js';
import { startSimulator, type AnswerLength, type Simulator } from '../../src/simulator/index.js';
import { clientsFor, type Clients } from './grpc-client.js';

export interface Harness {
  app: App;
  upstream: Simulator;
  clients: Clients;
  /** Stops the server with `graceMs` (200 unless given), then the upstream. */
  close(graceMs?: number): Promise<void>;
}

/**
 * The real server on port 0 in front of a real HTTP upstream on port 0: the simulator,
 * reached through the "openai" provider exactly as api.openai.com would be.
 */
export interface HarnessOptions {
  env?: Record<string, string>;
  latencyScale?: number;
  upstreamApiKey?: string;
  answerLength?: AnswerLength;
  /** What startApp sees as process.env (API keys named by a config file). */
  processEnv?: Record<string, string>;
  /** Skip OPENAI_API_KEY/OPENAI_BASE_URL (for config-file tests that declare their own providers). */
  noOpenAiShorthand?: boolean;
  /** Passed to startApp (an injected catalog SyncRunner). */
  startOptions?: StartOptions;
  /** The server's logger; default: silent (TEST_LOG_LEVEL to see it). */
  log?: Logger;
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const upstream = await startSimulator({
    latencyScale: options.latencyScale ?? 0,
    ...(options.upstreamApiKey ? { apiKey: options.upstreamApiKey } : {}),
    ...(options.answerLength ? { answerLength: options.answerLength } : {}),
  });
  const config = loadConfig({
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'silent',
    ...(options.noOpenAiShorthand ? {} : { OPENAI_API_KEY: 'test-key', OPENAI_BASE_URL: upstream.baseURL }),
    SIMULATOR: 'off',
    SHUTDOWN_GRACE_MS: '500',
    // Each server gets its own free metrics port; tests read app.metricsServer.url.
    METRICS_PORT: '0',
    HTTP_PORT: '0',
    // Retries are off unless a test turns them on, so each test pins one behaviour.
    RETRY_MAX_ATTEMPTS: '1',
    RETRY_INITIAL_BACKOFF_MS: '5',
    RETRY_MAX_BACKOFF_MS: '50',
    // The ledger in memory: recorded like a real one, nothing left on disk.
    DATABASE_URL: 'sqlite::memory:',
    ...options.env,
  });
  const app = await startApp(
    asOpenAI(completeConfig(config, options.processEnv ?? {})),
    options.log ?? pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    options.processEnv ?? {},
    options.startOptions,
  );
  const clients = clientsFor(app.port);
  return {
    app,
    upstream,
    clients,
    async close(graceMs = 200) {
      clients.close();
      await app.stop(graceMs);
      await upstream.close();
    },
  };
}

/**
 * The OPENAI_* shorthand as it is for api.openai.com: the simulator refuses `max_tokens` on
 * reasoning models as that API does, and a loopback base URL would otherwise be sent it.
 */
function asOpenAI(config: ResolvedConfig): ResolvedConfig {
  const providers = config.providers.map((p) =>
    p.source === 'OPENAI_BASE_URL' ? { ...p, spec: { ...p.spec, maxTokensField: 'max_completion_tokens' as const } } : p,
  );
  return { ...config, providers };
}

/**
 * The server on port 0 in front of its embedded simulator (SIMULATOR=auto, no provider key),
 * as a reader of the guides runs it; `env` adds or overrides settings.
 */
export async function startWithSimulator(env: Record<string, string> = {}): Promise<App> {
  const config = loadConfig({
    HOST: '127.0.0.1',
    PORT: '0',
    HTTP_PORT: '0',
    METRICS_PORT: '0',
    SIMULATOR: 'auto',
    SIMULATOR_LATENCY_SCALE: '0.2',
    // In memory, as in startHarness: the default file would be shared by parallel test files and left behind.
    DATABASE_URL: 'sqlite::memory:',
    ...env,
  });
  return startApp(config, pino({ level: 'silent' }), {});
}
