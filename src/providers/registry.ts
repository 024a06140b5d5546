import type { ProviderLookup } from '../engine/index.js';
import type { Provider } from './types.js';

/** The one place providers are registered by name. */
export class ProviderRegistry implements ProviderLookup {
  private readonly providers = new Map<string, Provider>();

  register(provider: Provider): void {
    if (this.providers.has(provider.name)) throw new Error(`provider "${provider.name}" registered twice`);
    this.providers.set(provider.name, provider);
  }

  get(name: string): Provider | undefined {
    return this.providers.get(name);
  }

  names(): string[] {
    return [...this.providers.keys()];
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.providers.values()].map((p) => p.close?.()));
  }
}
