import type { Logger } from 'pino';
import { providerProblem, type ResolvedConfig } from './config/resolve.js';
import { checkResolvedHost } from './config/ssrf.js';
import { createProvider } from './providers/factory.js';
import type { ProviderRegistry } from './providers/registry.js';

/**
 * Registers the providers the configuration names, in its order: one whose key variable is not
 * set is skipped with a warning, one whose base URL resolves to a refused address stops start-up.
 */
export async function registerConfiguredProviders(config: ResolvedConfig, registry: ProviderRegistry, log: Logger): Promise<void> {
  for (const provider of config.providers) {
    const { spec, apiKey } = provider;
    if (!apiKey) {
      log.warn({ provider: spec.name, apiKeyEnv: spec.apiKeyEnv }, 'provider skipped: its API key variable is not set');
      continue;
    }
    // A host that does not resolve (yet) is not refused; one that resolves to a refused address is.
    const refused = await checkResolvedHost(spec.baseURL, spec).catch((err: unknown) => {
      // Only "this name does not resolve" is let through; anything else is a bug to see.
      if (isDnsMiss(err)) return undefined;
      throw err;
    });
    if (refused) throw providerProblem(provider, refused);
    registry.register(createProvider(spec, apiKey, config.upstream));
  }
}

function isDnsMiss(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'ENODATA' || code === 'ESERVFAIL' || code === 'ETIMEOUT';
}
