import { ConfigError, isDeployedEnvironment } from './config/config.js';
import { SIMULATOR_HOST } from './config/cross-checks.js';
import { listenError } from './config/listen-error.js';
import { simulatorRuns, type ResolvedConfig } from './config/resolve.js';
import { AnthropicProvider } from './providers/anthropic/provider.js';
import { OpenAIProvider } from './providers/openai/provider.js';
import type { ProviderRegistry } from './providers/registry.js';
import type { Simulator } from './simulator/index.js';

export const SIMULATOR_PROVIDER = 'simulator';
export const SIMULATOR_ANTHROPIC_PROVIDER = 'simulator-anthropic';

/**
 * Starts the embedded simulator when it runs (no provider configured, or SIMULATOR=on) and
 * registers its two providers; undefined when it does not run.
 */
export async function startSimulatedProviders(config: ResolvedConfig, registry: ProviderRegistry): Promise<Simulator | undefined> {
  if (!simulatorRuns(config)) return undefined;
  // A deployment that lost its provider keys must not answer every call with simulated text.
  if (!config.simulator.forced && isDeployedEnvironment(config.environment)) {
    throw new ConfigError([
      `ENVIRONMENT=${config.environment ?? ''} but no provider is configured, so every answer would be simulated: set OPENAI_API_KEY (or providers in CONFIG_FILE), or SIMULATOR=on to serve simulated models on purpose`,
    ]);
  }
  // Loaded only here: a gateway with a real provider key never runs the simulator.
  const { startSimulator } = await import('./simulator/index.js');
  const { port, latencyScale } = config.simulator;
  const where = { what: 'simulator port', host: SIMULATOR_HOST, port, portSetting: 'SIMULATOR_PORT', hostSetting: 'SIMULATOR_PORT' };
  const simulator = await startSimulator({ host: SIMULATOR_HOST, port, latencyScale }).catch((err: unknown): never => {
    throw listenError(err, where);
  });
  // The same provider code path as a real endpoint: the openai SDK over real HTTP and SSE. The
  // simulator answers as api.openai.com does, whose reasoning models refuse max_tokens.
  registry.register(
    new OpenAIProvider({
      ...config.upstream,
      name: SIMULATOR_PROVIDER,
      baseURL: simulator.baseURL,
      apiKey: 'simulator',
      maxTokensField: 'max_completion_tokens',
    }),
  );
  registry.register(
    new AnthropicProvider({ ...config.upstream, name: SIMULATOR_ANTHROPIC_PROVIDER, baseURL: simulator.url, apiKey: 'simulator' }),
  );
  return simulator;
}
