import type { ProviderSpec } from '../config/file.js';
import { providerProxy, proxyFor } from '../config/upstream-env.js';
import { AnthropicProvider } from './anthropic/provider.js';
import { OpenAIProvider } from './openai/provider.js';
import type { UpstreamHttpOptions } from './http/upstream-http.js';
import type { Provider } from './types.js';
import { extend } from '../domain/extend.js';

/** Size limits for every provider (UPSTREAM_MAX_BODY_BYTES, UPSTREAM_MAX_EVENT_BYTES) and the forward proxy. */
export type UpstreamLimits = Pick<UpstreamHttpOptions, 'maxBodyBytes' | 'maxEventBytes' | 'proxy'>;

/** One provider client per declared provider, by kind. Keys come from the environment only. */
export function createProvider(spec: ProviderSpec, apiKey: string, limits: UpstreamLimits = {}): Provider {
  const http: UpstreamHttpOptions = extend(limits, {
    proxy: proxyFor(providerProxy(limits.proxy, spec.proxy), spec.baseURL),
    allowLinkLocal: spec.allowLinkLocal,
  });
  switch (spec.kind) {
    case 'openai':
      return new OpenAIProvider(
        extend(http, {
          name: spec.name,
          baseURL: spec.baseURL,
          apiKey,
          defaultHeaders: spec.headers,
          ...(spec.maxTokensField ? { maxTokensField: spec.maxTokensField } : {}),
          ...(spec.timeoutMs ? { timeoutMs: spec.timeoutMs } : {}),
        }),
      );
    case 'anthropic': {
      const provider = new AnthropicProvider(
        extend(http, {
          name: spec.name,
          baseURL: spec.baseURL,
          apiKey,
          defaultHeaders: spec.headers,
          ...(spec.anthropicVersion ? { anthropicVersion: spec.anthropicVersion } : {}),
          ...(spec.timeoutMs ? { timeoutMs: spec.timeoutMs } : {}),
        }),
      );
      // A declared Anthropic provider will be called: load its SDK now, in the background, so the
      // first call does not wait for it (the simulator's, which most processes never call, stays lazy).
      provider.sdkClient().catch(() => undefined);
      return provider;
    }
  }
}
