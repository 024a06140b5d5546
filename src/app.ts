import type { Logger } from 'pino';
import { Catalog } from './catalog/catalog.js';
import { BUILTIN_MODELS } from './catalog/models.js';
import type { Config } from './config/config.js';
import { Engine } from './engine/engine.js';
import { OpenAIProvider } from './providers/openai.js';
import { ProviderRegistry } from './providers/registry.js';
import { startSimulator, type Simulator } from './providers/simulator/index.js';
import { GatewayServer } from './server/server.js';
import { StatsStore } from './telemetry/stats.js';

export interface App {
  readonly port: number;
  readonly server: GatewayServer;
  readonly stats: StatsStore;
  readonly engine: Engine;
  /** Present when simulated models are served. */
  readonly simulator: Simulator | undefined;
  stop(graceMs?: number): Promise<void>;
}

const SIMULATOR_PROVIDER = 'simulator';

/**
 * The composition root: config -> providers -> catalog -> engine -> server. Used by main.ts
 * and by the integration tests, which start it on port 0.
 */
export async function startApp(config: Config, log: Logger): Promise<App> {
  const registry = new ProviderRegistry();
  const kinds = new Map<string, string>();
  if (config.openai.apiKey !== undefined) {
    registry.register(
      new OpenAIProvider({
        name: 'openai',
        baseURL: config.openai.baseURL,
        apiKey: config.openai.apiKey,
        organization: config.openai.organization,
      }),
    );
    kinds.set('openai', 'openai');
  }
  let simulator: Simulator | undefined;
  if (config.simulator.enabled) {
    simulator = await startSimulator({ port: config.simulator.port, latencyScale: config.simulator.latencyScale });
    // The same provider code path as a real endpoint: the openai SDK over real HTTP and SSE.
    registry.register(new OpenAIProvider({ name: SIMULATOR_PROVIDER, baseURL: simulator.baseURL, apiKey: 'simulator' }));
  }
  const catalog = new Catalog({
    models: BUILTIN_MODELS,
    providers: kinds,
    ...(simulator ? { simulatorProvider: SIMULATOR_PROVIDER } : {}),
  });
  if (!catalog.find(config.defaults.model)) {
    throw new Error(`DEFAULT_MODEL "${config.defaults.model}" is not in the catalog`);
  }
  const stats = new StatsStore();
  const engine = new Engine({
    catalog,
    providers: registry,
    telemetry: stats,
    defaults: {
      model: config.defaults.model,
      maxTokens: config.defaults.maxTokens,
      fallbackMessage: config.defaults.fallbackMessage,
    },
    resilience: config.resilience,
  });
  const server = new GatewayServer({ config, engine, stats, log });
  let port: number;
  try {
    port = await server.listen(config.host, config.port);
  } catch (err) {
    await simulator?.close();
    throw err;
  }
  if (simulator) {
    log.warn(
      { simulator: simulator.baseURL, models: catalog.models.filter((m) => m.simulated).map((m) => m.id) },
      'no provider API key is set: serving SIMULATED models from the embedded simulator (set OPENAI_API_KEY for real ones)',
    );
  }
  log.info({ host: config.host, port, providers: registry.names() }, 'llm-orchestrator listening');
  return {
    port,
    server,
    stats,
    engine,
    simulator,
    async stop(graceMs?: number) {
      await server.shutdown(graceMs);
      await registry.closeAll();
      await simulator?.close();
    },
  };
}
