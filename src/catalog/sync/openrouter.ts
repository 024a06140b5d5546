import { z } from 'zod';
import { fetchOptions, fetchText, parseJson, type SourceLimits, sourceName, tokenCount } from './fetch-source.js';
import type { CatalogSource, SourceModel } from './types.js';
import { pricePerMillion } from '../../domain/money.js';

/**
 * OpenRouter's public model list (GET /api/v1/models, no key needed): ids like "openai/gpt-4o",
 * prices in US dollars per token as decimal strings, context and output limits, modalities and the
 * request parameters each model accepts.
 */
export const OPENROUTER_MODELS_URL = 'https://openrouter.ai/api/v1/models';

/**
 * Far above any model's price (the dearest cost thousandths of a dollar per token), and low enough
 * that a price per million tokens and the cost of any call stay finite: a larger price (a source's
 * garbage, "1e300") would be kept as no price at all, so the model's tokens would be free.
 */
const MAX_PRICE_PER_TOKEN = 1000;

/** OpenRouter's price for "depends on the routed model" (openrouter/auto): no price of its own. */
const VARIES = -1;

/**
 * A price per token: a decimal string (OpenRouter's form) or a number. Any other negative price is
 * garbage, not "varies": kept as no price, it would make the model's tokens free.
 */
const price = z
  .union([z.string().regex(/^-?\d+(\.\d+)?(e-?\d+)?$/i, 'a decimal number'), z.number()])
  .refine((p) => Number(p) <= MAX_PRICE_PER_TOKEN, `a price up to ${MAX_PRICE_PER_TOKEN} US dollars per token`)
  .refine((p) => Number(p) >= 0 || Number(p) === VARIES, `a price from 0 US dollars per token, or ${VARIES} (varies)`);
const count = tokenCount.nullish();

const modelSchema = z.looseObject({
  id: sourceName,
  name: z.string().optional(),
  context_length: count,
  // input_cache_read and input_cache_write: a prompt token read from and written to the provider's
  // prompt cache, listed for the models that cache prompts (a write only where the vendor bills it).
  pricing: z
    .looseObject({ prompt: price, completion: price, input_cache_read: price.nullish(), input_cache_write: price.nullish() })
    .optional(),
  top_provider: z.looseObject({ context_length: count, max_completion_tokens: count }).nullish(),
  architecture: z.looseObject({ input_modalities: z.array(z.string()).nullish(), modality: z.string().nullish() }).nullish(),
  supported_parameters: z.array(z.string()).nullish(),
});

// An empty list is a broken answer, not a catalog that lost every model: it would retire every
// synced value and every OpenRouter-only model with them.
const bodySchema = z.looseObject({ data: z.array(modelSchema).min(1, 'an empty model list') });

export type OpenRouterModel = z.infer<typeof modelSchema>;

export interface OpenRouterSourceOptions extends SourceLimits {
  readonly url?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

export function createOpenRouterSource(options: OpenRouterSourceOptions = {}): CatalogSource {
  const url = options.url ?? OPENROUTER_MODELS_URL;
  return {
    name: 'openrouter',
    async load(signal) {
      const text = await fetchText(url, fetchOptions(options, signal, options.headers));
      return parseJson(text, bodySchema, 'OpenRouter models').data.map(normaliseOpenRouterModel);
    },
  };
}

export function normaliseOpenRouterModel(model: OpenRouterModel): SourceModel {
  const context = model.context_length ?? model.top_provider?.context_length ?? undefined;
  const maxOutput = model.top_provider?.max_completion_tokens ?? undefined;
  const params = new Set(model.supported_parameters ?? []);
  const inputs = model.architecture?.input_modalities ?? modalitiesOf(model.architecture?.modality);
  return {
    source: 'openrouter',
    externalId: model.id,
    ...(context ? { contextWindow: context } : {}),
    ...(maxOutput ? { maxOutputTokens: maxOutput } : {}),
    ...perMillion('inputPricePerMillion', model.pricing?.prompt),
    ...perMillion('outputPricePerMillion', model.pricing?.completion),
    ...perMillion('cachedInputPricePerMillion', model.pricing?.input_cache_read ?? undefined),
    ...perMillion('cacheWritePricePerMillion', model.pricing?.input_cache_write ?? undefined),
    capabilities: {
      tools: params.has('tools'),
      images: inputs.includes('image'),
      // `structured_outputs` is OpenRouter's flag for a native JSON Schema mode; `response_format`
      // alone may be JSON mode only, and routing a json_schema request there would fail.
      jsonSchema: params.has('structured_outputs'),
    },
    raw: model,
  };
}

/** "text+image->text": the input side, for entries that carry only the older `modality` string. */
function modalitiesOf(modality: string | null | undefined): string[] {
  return (modality?.split('->')[0] ?? '').split('+').filter(Boolean);
}

function perMillion(
  key: 'inputPricePerMillion' | 'outputPricePerMillion' | 'cachedInputPricePerMillion' | 'cacheWritePricePerMillion',
  text: string | number | undefined,
): Partial<SourceModel> {
  const perToken = text === undefined ? undefined : Number(text);
  if (perToken === undefined || perToken === VARIES || !Number.isFinite(perToken)) return {};
  return { [key]: pricePerMillion(perToken) };
}
