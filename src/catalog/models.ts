/**
 * The built-in catalog: the long-standing models (gpt-4o, gpt-4o-mini, gpt-4-turbo, gpt-3.5-turbo) and
 * current OpenAI ones. Prices are US dollars per million tokens, from OpenAI's public price list.
 * A config file (CONFIG_FILE) can add models and providers, or replace this list.
 * Quality scores are our own relative judgement (0..1); latency hints are typical public figures,
 * replaced by live measurements as soon as a model has traffic.
 */

export type ModelTier = 'small' | 'medium' | 'large';

/** What a model accepts beyond plain text; routing, race and fallback only pick models that support what a request uses. */
export interface ModelCapabilities {
  readonly tools: boolean;
  readonly images: boolean;
  /** A native JSON Schema output mode (strict structured output). */
  readonly jsonSchema: boolean;
}

export interface ModelDefinition {
  /** Canonical id, also the upstream id unless `upstreamId` says otherwise. */
  readonly id: string;
  readonly upstreamId?: string;
  /** Provider kind that serves it when configured ("openai"). */
  readonly provider: string;
  readonly aliases: readonly string[];
  readonly contextWindow: number;
  readonly maxOutputTokens: number;
  readonly supportsStreaming: boolean;
  readonly inputPricePerMillion: number;
  readonly outputPricePerMillion: number;
  readonly cachedInputPricePerMillion: number;
  /**
   * A prompt token written to the provider's prompt cache, where a source lists what the vendor
   * bills for it (OpenRouter's input_cache_write); unset: Anthropic's markup on the input price.
   */
  readonly cacheWritePricePerMillion?: number;
  readonly family: string;
  readonly tier: ModelTier;
  /** Default fallback chain after this model, smaller models of the family first in line. */
  readonly fallbacks: readonly string[];
  /** 0..1, relative answer quality; routing's quality dimension. */
  readonly quality: number;
  /** Typical time to first token and generation speed, used by routing before live traffic. */
  readonly typicalTtftMs: number;
  readonly tokensPerSecond: number;
  /** Absent means text only. */
  readonly capabilities?: ModelCapabilities;
}

/** Function tools, image input and strict JSON Schema output, as OpenAI documents each model. */
const ALL: ModelCapabilities = { tools: true, images: true, jsonSchema: true };
/** Structured outputs came after gpt-4-turbo. */
const TOOLS_AND_IMAGES: ModelCapabilities = { tools: true, images: true, jsonSchema: false };
const TOOLS_ONLY: ModelCapabilities = { tools: true, images: false, jsonSchema: false };

/** No capability at all: what a model without `capabilities` takes (plain text). */
export const TEXT_ONLY: ModelCapabilities = { tools: false, images: false, jsonSchema: false };

/**
 * A model's answer and prompt share its context window: a maximum output larger than the window
 * would let requests through that the provider refuses. Says what is wrong, or nothing; a field
 * left unset (a runtime model's, filled in later) is not checked.
 */
export function outputPastWindow(model: {
  readonly id: string;
  readonly contextWindow?: number | undefined;
  readonly maxOutputTokens?: number | undefined;
}): string | undefined {
  const { id, contextWindow, maxOutputTokens } = model;
  if (contextWindow === undefined || maxOutputTokens === undefined || maxOutputTokens <= contextWindow) return undefined;
  return `model "${id}": max_output_tokens (${maxOutputTokens}) exceeds context_window (${contextWindow})`;
}

export const BUILTIN_MODELS: readonly ModelDefinition[] = [
  {
    id: 'gpt-4o',
    provider: 'openai',
    aliases: ['4o', 'gpt4o'],
    contextWindow: 128_000,
    maxOutputTokens: 16_384,
    supportsStreaming: true,
    inputPricePerMillion: 2.5,
    outputPricePerMillion: 10,
    cachedInputPricePerMillion: 1.25,
    family: 'gpt-4o',
    tier: 'large',
    quality: 0.85,
    typicalTtftMs: 450,
    tokensPerSecond: 80,
    capabilities: ALL,
    fallbacks: ['gpt-4o-mini', 'gpt-3.5-turbo'],
  },
  {
    id: 'gpt-4o-mini',
    provider: 'openai',
    aliases: ['4o-mini', 'gpt4o-mini'],
    contextWindow: 128_000,
    maxOutputTokens: 16_384,
    supportsStreaming: true,
    inputPricePerMillion: 0.15,
    outputPricePerMillion: 0.6,
    cachedInputPricePerMillion: 0.075,
    family: 'gpt-4o',
    tier: 'small',
    quality: 0.7,
    typicalTtftMs: 350,
    tokensPerSecond: 110,
    capabilities: ALL,
    fallbacks: ['gpt-3.5-turbo'],
  },
  {
    id: 'gpt-4-turbo',
    provider: 'openai',
    aliases: ['gpt-4-turbo-2024-04-09', 'gpt4-turbo'],
    contextWindow: 128_000,
    maxOutputTokens: 4_096,
    supportsStreaming: true,
    inputPricePerMillion: 10,
    outputPricePerMillion: 30,
    cachedInputPricePerMillion: 10,
    family: 'gpt-4',
    tier: 'large',
    quality: 0.8,
    typicalTtftMs: 700,
    tokensPerSecond: 35,
    capabilities: TOOLS_AND_IMAGES,
    fallbacks: ['gpt-4o-mini', 'gpt-3.5-turbo'],
  },
  {
    id: 'gpt-3.5-turbo',
    provider: 'openai',
    aliases: ['gpt-3.5', 'gpt35-turbo'],
    contextWindow: 16_385,
    maxOutputTokens: 4_096,
    supportsStreaming: true,
    inputPricePerMillion: 0.5,
    outputPricePerMillion: 1.5,
    cachedInputPricePerMillion: 0.5,
    family: 'gpt-3.5',
    tier: 'small',
    quality: 0.55,
    typicalTtftMs: 300,
    tokensPerSecond: 120,
    capabilities: TOOLS_ONLY,
    fallbacks: [],
  },
  {
    id: 'gpt-4.1',
    provider: 'openai',
    aliases: ['gpt41'],
    contextWindow: 1_047_576,
    maxOutputTokens: 32_768,
    supportsStreaming: true,
    inputPricePerMillion: 2,
    outputPricePerMillion: 8,
    cachedInputPricePerMillion: 0.5,
    family: 'gpt-4.1',
    tier: 'large',
    quality: 0.88,
    typicalTtftMs: 500,
    tokensPerSecond: 80,
    capabilities: ALL,
    fallbacks: ['gpt-4.1-mini', 'gpt-4.1-nano'],
  },
  {
    id: 'gpt-4.1-mini',
    provider: 'openai',
    aliases: ['gpt41-mini'],
    contextWindow: 1_047_576,
    maxOutputTokens: 32_768,
    supportsStreaming: true,
    inputPricePerMillion: 0.4,
    outputPricePerMillion: 1.6,
    cachedInputPricePerMillion: 0.1,
    family: 'gpt-4.1',
    tier: 'medium',
    quality: 0.75,
    typicalTtftMs: 350,
    tokensPerSecond: 110,
    capabilities: ALL,
    fallbacks: ['gpt-4.1-nano'],
  },
  {
    id: 'gpt-4.1-nano',
    provider: 'openai',
    aliases: ['gpt41-nano'],
    contextWindow: 1_047_576,
    maxOutputTokens: 32_768,
    supportsStreaming: true,
    inputPricePerMillion: 0.1,
    outputPricePerMillion: 0.4,
    cachedInputPricePerMillion: 0.025,
    family: 'gpt-4.1',
    tier: 'small',
    quality: 0.6,
    typicalTtftMs: 250,
    tokensPerSecond: 150,
    capabilities: ALL,
    fallbacks: [],
  },
  {
    id: 'o3',
    provider: 'openai',
    aliases: [],
    contextWindow: 200_000,
    maxOutputTokens: 100_000,
    supportsStreaming: true,
    inputPricePerMillion: 2,
    outputPricePerMillion: 8,
    cachedInputPricePerMillion: 0.5,
    family: 'o',
    tier: 'large',
    quality: 0.95,
    typicalTtftMs: 2500,
    tokensPerSecond: 60,
    capabilities: ALL,
    fallbacks: ['o4-mini'],
  },
  {
    id: 'o4-mini',
    provider: 'openai',
    aliases: [],
    contextWindow: 200_000,
    maxOutputTokens: 100_000,
    supportsStreaming: true,
    inputPricePerMillion: 1.1,
    outputPricePerMillion: 4.4,
    cachedInputPricePerMillion: 0.275,
    family: 'o',
    tier: 'small',
    quality: 0.86,
    typicalTtftMs: 1500,
    tokensPerSecond: 90,
    capabilities: ALL,
    fallbacks: [],
  },
  {
    id: 'gpt-5',
    provider: 'openai',
    aliases: ['gpt5'],
    contextWindow: 400_000,
    maxOutputTokens: 128_000,
    supportsStreaming: true,
    inputPricePerMillion: 1.25,
    outputPricePerMillion: 10,
    cachedInputPricePerMillion: 0.125,
    family: 'gpt-5',
    tier: 'large',
    quality: 0.96,
    typicalTtftMs: 1800,
    tokensPerSecond: 70,
    capabilities: ALL,
    fallbacks: ['gpt-5-mini', 'gpt-5-nano'],
  },
  {
    id: 'gpt-5-mini',
    provider: 'openai',
    aliases: ['gpt5-mini'],
    contextWindow: 400_000,
    maxOutputTokens: 128_000,
    supportsStreaming: true,
    inputPricePerMillion: 0.25,
    outputPricePerMillion: 2,
    cachedInputPricePerMillion: 0.025,
    family: 'gpt-5',
    tier: 'medium',
    quality: 0.85,
    typicalTtftMs: 900,
    tokensPerSecond: 100,
    capabilities: ALL,
    fallbacks: ['gpt-5-nano'],
  },
  {
    id: 'gpt-5-nano',
    provider: 'openai',
    aliases: ['gpt5-nano'],
    contextWindow: 400_000,
    maxOutputTokens: 128_000,
    supportsStreaming: true,
    inputPricePerMillion: 0.05,
    outputPricePerMillion: 0.4,
    cachedInputPricePerMillion: 0.005,
    family: 'gpt-5',
    tier: 'small',
    quality: 0.7,
    typicalTtftMs: 600,
    tokensPerSecond: 140,
    capabilities: ALL,
    fallbacks: [],
  },
];
