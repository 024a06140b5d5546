import type { ProviderSpec } from '../config/file.js';
import { AnthropicProvider } from './anthropic.js';
import { OpenAIProvider } from './openai.js';
import type { Provider } from './types.js';

/** One provider client per declared provider, by kind. Keys come from the environment only. */
export function createProvider(spec: ProviderSpec, apiKey: string): Provider {
  switch (spec.kind) {
    case 'openai':
      return new OpenAIProvider({
        name: spec.name,
        baseURL: spec.baseURL,
        apiKey,
        defaultHeaders: spec.headers,
        ...(spec.maxTokensField ? { maxTokensField: spec.maxTokensField } : {}),
        ...(spec.timeoutMs ? { timeoutMs: spec.timeoutMs } : {}),
      });
    case 'anthropic':
      return new AnthropicProvider({
        name: spec.name,
        baseURL: spec.baseURL,
        apiKey,
        defaultHeaders: spec.headers,
        ...(spec.anthropicVersion ? { anthropicVersion: spec.anthropicVersion } : {}),
        ...(spec.timeoutMs ? { timeoutMs: spec.timeoutMs } : {}),
      });
  }
}
