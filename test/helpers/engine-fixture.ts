import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { Catalog } from '../../src/catalog/catalog.js';
import { BUILTIN_MODELS } from '../../src/catalog/models.js';
import type { ChatInput } from '../../src/domain/chat.js';
import { loadConfig } from '../../src/config/config.js';
import { Engine, EventBus, type AccessControl, type CallContext } from '../../src/engine/index.js';
import { ProviderRegistry } from '../../src/providers/registry.js';
import { StatsStore } from '../../src/telemetry/stats.js';
import { ScriptedProvider } from './scripted-provider.js';

export function engineFixture(
  options: { defaultModel?: string; fallbackMessage?: string; env?: Record<string, string>; access?: AccessControl } = {},
) {
  const provider = new ScriptedProvider('openai');
  const registry = new ProviderRegistry();
  registry.register(provider);
  const catalog = new Catalog({ models: BUILTIN_MODELS, providers: new Map([['openai', 'openai']]) });
  const stats = new StatsStore();
  const engine = new Engine({
    catalog,
    providers: registry,
    events: new EventBus(stats.on),
    access: options.access,
    defaults: {
      model: options.defaultModel ?? 'gpt-4o',
      maxTokens: 500,
      fallbackMessage: options.fallbackMessage ?? 'default answer',
    },
    // Retries are off unless a test turns them on: these tests pin one behaviour at a time.
    batch: { globalConcurrency: 8 },
    resilience: loadConfig({ RETRY_MAX_ATTEMPTS: '1', RETRY_INITIAL_BACKOFF_MS: '1', RETRY_MAX_BACKOFF_MS: '5', ...options.env })
      .resilience,
  });
  return { engine, provider, stats, catalog };
}

export function input(prompt = 'hello', maxTokens?: number): ChatInput {
  return { messages: [{ role: 'user', content: prompt }], temperature: 0.5, maxTokens };
}

export function context(options: { timeoutMs?: number; controller?: AbortController } = {}): CallContext {
  const controller = options.controller ?? new AbortController();
  return {
    requestId: 'test-request',
    signal: controller.signal,
    deadline: Date.now() + (options.timeoutMs ?? 10_000),
    log: pino({ level: 'silent' }),
    startedAt: performance.now(),
  };
}

export const ref = (name: string, field = 'model') => ({ name, field });

/**
 * A stream's events one by one, from the groups the engine hands them out in (one group per
 * upstream read); pulled lazily, so a test that stops early stops the stream at the same point.
 */
export async function* eventsOf<Event>(groups: AsyncIterable<readonly Event[]>): AsyncGenerator<Event> {
  for await (const group of groups) yield* group;
}

/** The request limits a ChatService built over the fixture validates with: the server's defaults. */
export const SERVER_LIMITS = {
  maxContentChars: 100_000,
  maxModelsPerCall: 8,
  defaultTemperature: 0.7,
  batchMaxItems: 100,
  batchDefaultConcurrency: 4,
  batchMaxConcurrency: 16,
};
