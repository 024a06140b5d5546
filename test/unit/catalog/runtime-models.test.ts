import { describe, expect, it } from 'vitest';
import { BUILTIN_MODELS } from '../../../src/catalog/models.js';
import { type RuntimeModelInput, runtimeModelViolations } from '../../../src/catalog/runtime-models.js';

const rules = {
  providers: new Set(['openai']),
  fixed: BUILTIN_MODELS,
  runtime: [],
  resolves: (name: string) => BUILTIN_MODELS.some((m) => m.id === name.trim()),
};

const spec = (values: Partial<RuntimeModelInput> = {}): RuntimeModelInput => ({
  id: 'house-llama',
  provider: 'openai',
  aliases: [],
  fallbacks: [],
  ...values,
});

/** The field paths CreateModel's BadRequest would list. */
const refused = (values: Partial<RuntimeModelInput>): string[] => runtimeModelViolations(spec(values), rules).map((v) => v.field);

describe('runtime model definitions', () => {
  it('take a quality from 0 to 1, and refuse one outside', () => {
    expect(refused({ quality: 0 })).toEqual([]);
    expect(refused({ quality: 1 })).toEqual([]);
    expect(refused({ quality: 1.01 })).toEqual(['model.quality']);
    expect(refused({ quality: -0.01 })).toEqual(['model.quality']);
  });

  it('take a maximum output up to the context window, and refuse one above it', () => {
    expect(refused({ contextWindow: 8_000, maxOutputTokens: 8_000 })).toEqual([]);
    expect(refused({ contextWindow: 8_000, maxOutputTokens: 8_001 })).toEqual(['model.max_output_tokens']);
  });

  it('take a cache-write price of 0 or more, and refuse a negative or non-finite one as the other prices', () => {
    expect(refused({ cacheWritePricePerMillion: 0 })).toEqual([]);
    expect(refused({ cacheWritePricePerMillion: 3.75 })).toEqual([]);
    expect(refused({ cacheWritePricePerMillion: -1 })).toEqual(['model.cache_write_price_per_million']);
    expect(refused({ cacheWritePricePerMillion: Number.POSITIVE_INFINITY })).toEqual(['model.cache_write_price_per_million']);
  });
});
