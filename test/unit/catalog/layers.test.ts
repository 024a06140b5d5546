import { describe, expect, it } from 'vitest';
import { Catalog, costOf } from '../../../src/catalog/catalog.js';
import { composeCatalog, type CatalogLayers, type RuntimeModel, type SyncedValues } from '../../../src/catalog/layers.js';
import { BUILTIN_MODELS, type ModelDefinition } from '../../../src/catalog/models.js';
import { originOf } from '../../../src/catalog/provenance.js';

// Alone in these catalogs, so without its fallbacks.
const builtin: ModelDefinition = { ...(BUILTIN_MODELS.find((m) => m.id === 'gpt-4o-mini') as ModelDefinition), fallbacks: [] };
const fetchedAt = new Date('2026-11-01T00:00:00Z');
const at = new Date('2026-11-02T00:00:00Z');

function synced(values: Partial<SyncedValues> & Pick<SyncedValues, 'source' | 'externalId'>): SyncedValues {
  return { catalogId: undefined, fetchedAt, ...values };
}

function runtime(values: Partial<RuntimeModel> & Pick<RuntimeModel, 'id' | 'provider'>): RuntimeModel {
  return { aliases: [], fallbacks: [], createdAt: at, updatedAt: at, ...values };
}

function compose(layers: Partial<CatalogLayers>) {
  const composed = composeCatalog({ builtin: [builtin], config: [], runtime: [], synced: [], ...layers });
  const byId = new Map(composed.models.map((m) => [m.id, m]));
  return {
    model: (id: string) => byId.get(id) as ModelDefinition,
    origin: (id: string, field: Parameters<typeof originOf>[1]) =>
      originOf(composed.origins.get(id) ?? { base: { source: 'builtin' }, fields: {} }, field),
    composed,
  };
}

describe('catalog precedence: config file > runtime models > synced data > built-in', () => {
  it('a synced value replaces a built-in one and says where it came from and when', () => {
    const c = compose({
      synced: [synced({ source: 'huggingface', externalId: 'openai/gpt-4o-mini', catalogId: 'gpt-4o-mini', contextWindow: 200_000 })],
    });
    expect(c.model('gpt-4o-mini').contextWindow).toBe(200_000);
    expect(c.origin('gpt-4o-mini', 'contextWindow')).toEqual({ source: 'huggingface', fetchedAt });
    // Fields no layer touched stay built-in.
    expect(c.origin('gpt-4o-mini', 'maxOutputTokens')).toEqual({ source: 'builtin' });
  });

  it("the Arena's quality replaces the built-in judgement", () => {
    const c = compose({
      synced: [synced({ source: 'arena', externalId: 'GPT-4o-mini-2024-07-18', catalogId: 'gpt-4o-mini', quality: 0.77 })],
    });
    expect(c.model('gpt-4o-mini').quality).toBe(0.77);
    expect(c.origin('gpt-4o-mini', 'quality').source).toBe('arena');
  });

  it('a runtime model beats synced data for the fields it sets; synced data fills the ones it leaves out', () => {
    const c = compose({
      runtime: [runtime({ id: 'local-llama', provider: 'openai', quality: 0.6, contextWindow: 32_000 })],
      synced: [
        synced({ source: 'arena', externalId: 'llama', catalogId: 'local-llama', quality: 0.9 }),
        synced({
          source: 'openrouter',
          externalId: 'meta/llama',
          catalogId: 'local-llama',
          contextWindow: 128_000,
          inputPricePerMillion: 0.3,
        }),
      ],
    });
    const m = c.model('local-llama');
    expect([m.quality, m.contextWindow]).toEqual([0.6, 32_000]);
    expect(c.origin('local-llama', 'quality').source).toBe('runtime');
    // The runtime model named no price: OpenRouter's is the only one there is.
    expect(m.inputPricePerMillion).toBe(0.3);
    expect(c.origin('local-llama', 'inputPricePerMillion').source).toBe('openrouter');
    // Neither sets it: the documented default.
    expect(m.maxOutputTokens).toBe(4_096);
  });

  it('the config file beats everything for the fields it sets', () => {
    const fromFile: ModelDefinition = { ...builtin, quality: 0.42, inputPricePerMillion: 9 };
    const c = compose({
      config: [fromFile],
      synced: [synced({ source: 'arena', externalId: 'gpt-4o-mini', catalogId: 'gpt-4o-mini', quality: 0.99 })],
    });
    expect(c.model('gpt-4o-mini').quality).toBe(0.42);
    expect(c.model('gpt-4o-mini').inputPricePerMillion).toBe(9);
    expect(c.origin('gpt-4o-mini', 'quality').source).toBe('config');
    expect(c.composed.models.filter((m) => m.id === 'gpt-4o-mini')).toHaveLength(1);
  });

  it('the config file beats a runtime model of the same id (a later file taking its id)', () => {
    const fromFile: ModelDefinition = { ...builtin, id: 'local-llama', quality: 0.42, contextWindow: 64_000, inputPricePerMillion: 9 };
    const c = compose({
      config: [fromFile],
      runtime: [runtime({ id: 'local-llama', provider: 'openai', quality: 0.6, contextWindow: 32_000, inputPricePerMillion: 1 })],
    });
    const m = c.model('local-llama');
    expect([m.quality, m.contextWindow, m.inputPricePerMillion]).toEqual([0.42, 64_000, 9]);
    expect(c.origin('local-llama', 'contextWindow').source).toBe('config');
  });

  it('OpenRouter beats the Hugging Face Hub where both give the context window, whichever reported first', () => {
    const hub = synced({ source: 'huggingface', externalId: 'openai/gpt-4o-mini', catalogId: 'gpt-4o-mini', contextWindow: 100_000 });
    const openRouter = synced({ source: 'openrouter', externalId: 'openai/gpt-4o-mini', catalogId: 'gpt-4o-mini', contextWindow: 64_000 });
    for (const order of [
      [hub, openRouter],
      [openRouter, hub],
    ]) {
      const c = compose({ synced: order });
      expect(c.model('gpt-4o-mini').contextWindow).toBe(64_000);
      expect(c.origin('gpt-4o-mini', 'contextWindow').source).toBe('openrouter');
    }
  });

  it('a runtime model that names a prompt price and no cached price is charged its prompt price for cached tokens', () => {
    const c = compose({ runtime: [runtime({ id: 'local-llama', provider: 'openai', inputPricePerMillion: 2, outputPricePerMillion: 6 })] });
    expect(c.model('local-llama').cachedInputPricePerMillion).toBe(2);
    expect(c.origin('local-llama', 'cachedInputPricePerMillion').source).toBe('runtime');
  });

  it("the Hub's capabilities change only what it says: a model's JSON Schema output stays", () => {
    const c = compose({
      synced: [
        synced({
          source: 'huggingface',
          externalId: 'openai/gpt-4o-mini',
          catalogId: 'gpt-4o-mini',
          capabilities: { tools: false, images: true },
        }),
      ],
    });
    expect(builtin.capabilities?.jsonSchema).toBe(true);
    expect(c.model('gpt-4o-mini').capabilities).toEqual({ tools: false, images: true, jsonSchema: true });
    expect(c.origin('gpt-4o-mini', 'capabilities').source).toBe('huggingface');
  });
});

describe("prices: a provider's own price list beats OpenRouter's resale price", () => {
  const resale = synced({
    source: 'openrouter',
    externalId: 'openai/gpt-4o-mini',
    catalogId: 'gpt-4o-mini',
    inputPricePerMillion: 0.9,
    outputPricePerMillion: 3.6,
    contextWindow: 64_000,
  });

  it("OpenAI's built-in price stays for the model OpenAI serves; OpenRouter's other fields still apply", () => {
    const c = compose({ synced: [resale], openRouterProvider: 'openrouter' });
    const m = c.model('gpt-4o-mini');
    expect([m.inputPricePerMillion, m.outputPricePerMillion, m.cachedInputPricePerMillion]).toEqual([0.15, 0.6, 0.075]);
    expect(c.origin('gpt-4o-mini', 'inputPricePerMillion').source).toBe('builtin');
    expect(m.contextWindow).toBe(64_000);
  });

  it("OpenRouter's price is the price of a model OpenRouter serves", () => {
    const c = compose({ builtin: [{ ...builtin, provider: 'openrouter' }], synced: [resale], openRouterProvider: 'openrouter' });
    const m = c.model('gpt-4o-mini');
    expect([m.inputPricePerMillion, m.outputPricePerMillion, m.cachedInputPricePerMillion]).toEqual([0.9, 3.6, 0.9]);
    expect(c.origin('gpt-4o-mini', 'outputPricePerMillion')).toEqual({ source: 'openrouter', fetchedAt });
  });
});

describe('the cached-prompt price OpenRouter lists (input_cache_read)', () => {
  const listed = synced({
    source: 'openrouter',
    externalId: 'openai/gpt-4o-mini',
    catalogId: 'gpt-4o-mini',
    inputPricePerMillion: 0.9,
    outputPricePerMillion: 3.6,
    cachedInputPricePerMillion: 0.45,
  });

  it('is the cached price of a model OpenRouter serves, from the same layer as its prompt price', () => {
    const c = compose({ builtin: [{ ...builtin, provider: 'openrouter' }], synced: [listed], openRouterProvider: 'openrouter' });
    expect(c.model('gpt-4o-mini').cachedInputPricePerMillion).toBe(0.45);
    expect(c.origin('gpt-4o-mini', 'cachedInputPricePerMillion')).toEqual({ source: 'openrouter', fetchedAt });
  });

  it('never sits beside a built-in prompt price: a model another provider serves keeps its own cached price', () => {
    const c = compose({ synced: [{ ...listed, cachedInputPricePerMillion: 0.01 }], openRouterProvider: 'openrouter' });
    expect(c.model('gpt-4o-mini').cachedInputPricePerMillion).toBe(0.075);
    expect(c.origin('gpt-4o-mini', 'cachedInputPricePerMillion').source).toBe('builtin');
  });

  it('prices the cached tokens of a model only OpenRouter lists', () => {
    const only = synced({
      source: 'openrouter',
      externalId: 'anthropic/claude-3.5-sonnet',
      inputPricePerMillion: 3,
      cachedInputPricePerMillion: 0.3,
    });
    const c = compose({ synced: [only], openRouterProvider: 'openrouter' });
    const m = c.model('anthropic/claude-3.5-sonnet');
    expect([m.inputPricePerMillion, m.cachedInputPricePerMillion]).toEqual([3, 0.3]);
    const usage = { promptTokens: 1_000_000, completionTokens: 0, totalTokens: 1_000_000, cachedTokens: 900_000 };
    expect(costOf(m, usage)).toBeCloseTo(0.3 + 0.27, 10);
  });

  it("is a runtime model's when it names no prices, and follows a prompt price it names", () => {
    const row = { ...listed, catalogId: 'local-llama' };
    const unpriced = compose({ runtime: [runtime({ id: 'local-llama', provider: 'openai' })], synced: [row] });
    expect(unpriced.model('local-llama').cachedInputPricePerMillion).toBe(0.45);
    const priced = compose({ runtime: [runtime({ id: 'local-llama', provider: 'openai', inputPricePerMillion: 2 })], synced: [row] });
    expect(priced.model('local-llama').cachedInputPricePerMillion).toBe(2);
    expect(priced.origin('local-llama', 'cachedInputPricePerMillion').source).toBe('runtime');
  });

  it('is not taken without a prompt price beside it (the auto router: varies)', () => {
    const noPrompt = synced({ source: 'openrouter', externalId: 'vendor/odd', cachedInputPricePerMillion: 0.5 });
    const c = compose({ synced: [noPrompt], openRouterProvider: 'openrouter' });
    expect(c.model('vendor/odd')).toMatchObject({ inputPricePerMillion: 0, cachedInputPricePerMillion: 0 });
  });

  it('where OpenRouter lists none, the cached price follows its prompt price as before', () => {
    const { cachedInputPricePerMillion: _, ...unlisted } = listed;
    const c = compose({ builtin: [{ ...builtin, provider: 'openrouter' }], synced: [unlisted], openRouterProvider: 'openrouter' });
    expect(c.model('gpt-4o-mini').cachedInputPricePerMillion).toBe(0.9);
  });
});

describe('the cache-write price OpenRouter lists (input_cache_write)', () => {
  const listed = synced({
    source: 'openrouter',
    externalId: 'openai/gpt-4o-mini',
    catalogId: 'gpt-4o-mini',
    inputPricePerMillion: 0.9,
    outputPricePerMillion: 3.6,
    cacheWritePricePerMillion: 1.8,
  });
  const served = { ...builtin, provider: 'openrouter' };

  it('is the cache-write price of a model OpenRouter serves, from the same layer as its prompt price', () => {
    const c = compose({ builtin: [served], synced: [listed], openRouterProvider: 'openrouter' });
    expect(c.model('gpt-4o-mini').cacheWritePricePerMillion).toBe(1.8);
    expect(c.origin('gpt-4o-mini', 'cacheWritePricePerMillion')).toEqual({ source: 'openrouter', fetchedAt });
  });

  it('never sits beside a built-in prompt price: a model another provider serves has none', () => {
    const c = compose({ synced: [listed], openRouterProvider: 'openrouter' });
    expect(c.model('gpt-4o-mini').cacheWritePricePerMillion).toBeUndefined();
  });

  it('prices the cache writes of a model only OpenRouter lists', () => {
    const only = synced({
      source: 'openrouter',
      externalId: 'google/gemini-2.5-pro',
      inputPricePerMillion: 1.25,
      cachedInputPricePerMillion: 0.31,
      cacheWritePricePerMillion: 1.625,
    });
    const m = compose({ synced: [only], openRouterProvider: 'openrouter' }).model('google/gemini-2.5-pro');
    expect(m.cacheWritePricePerMillion).toBe(1.625);
    const usage = { promptTokens: 1_000_000, completionTokens: 0, totalTokens: 1_000_000, cachedTokens: 0, cacheWriteTokens: 1_000_000 };
    expect(costOf(m, usage)).toBeCloseTo(1.625, 10);
  });

  it('is dropped by a runtime model or a config-file model that names its own prompt price', () => {
    const row = { ...listed, catalogId: 'local-llama' };
    const unpriced = compose({ runtime: [runtime({ id: 'local-llama', provider: 'openai' })], synced: [row] });
    expect(unpriced.model('local-llama').cacheWritePricePerMillion).toBe(1.8);
    const priced = compose({ runtime: [runtime({ id: 'local-llama', provider: 'openai', inputPricePerMillion: 2 })], synced: [row] });
    expect(priced.model('local-llama').cacheWritePricePerMillion).toBeUndefined();
    const fromFile = compose({
      builtin: [served],
      config: [{ ...served, inputPricePerMillion: 5 }],
      synced: [listed],
      openRouterProvider: 'openrouter',
    });
    expect(fromFile.model('gpt-4o-mini')).toMatchObject({ inputPricePerMillion: 5 });
    expect(fromFile.model('gpt-4o-mini').cacheWritePricePerMillion).toBeUndefined();
  });

  it('names the layer that dropped it as the origin of a model with none, not the built-in list', () => {
    const row = { ...listed, catalogId: 'local-llama' };
    const priced = compose({ runtime: [runtime({ id: 'local-llama', provider: 'openai', inputPricePerMillion: 2 })], synced: [row] });
    expect(priced.origin('local-llama', 'cacheWritePricePerMillion').source).toBe('runtime');
    const fromFile = compose({
      builtin: [served],
      config: [{ ...served, inputPricePerMillion: 5 }],
      synced: [listed],
      openRouterProvider: 'openrouter',
    });
    expect(fromFile.origin('gpt-4o-mini', 'cacheWritePricePerMillion').source).toBe('config');
    const { cacheWritePricePerMillion: _, ...unlisted } = listed;
    const relisted = compose({ builtin: [served], synced: [unlisted], openRouterProvider: 'openrouter' });
    expect(relisted.origin('gpt-4o-mini', 'cacheWritePricePerMillion')).toEqual({ source: 'openrouter', fetchedAt });
  });

  it("is replaced by a runtime model's own, named with or without a prompt price", () => {
    const row = { ...listed, catalogId: 'local-llama' };
    const own = compose({
      runtime: [runtime({ id: 'local-llama', provider: 'openai', inputPricePerMillion: 2, cacheWritePricePerMillion: 4 })],
      synced: [row],
    });
    expect(own.model('local-llama').cacheWritePricePerMillion).toBe(4);
    expect(own.origin('local-llama', 'cacheWritePricePerMillion').source).toBe('runtime');
    const alone = compose({ runtime: [runtime({ id: 'local-llama', provider: 'openai', cacheWritePricePerMillion: 2.5 })], synced: [row] });
    expect(alone.model('local-llama')).toMatchObject({ inputPricePerMillion: 0.9, cacheWritePricePerMillion: 2.5 });
    expect(alone.origin('local-llama', 'cacheWritePricePerMillion').source).toBe('runtime');
  });

  it('is not taken without a prompt price beside it, and a later row that lists none takes it away', () => {
    const noPrompt = synced({ source: 'openrouter', externalId: 'vendor/odd', cacheWritePricePerMillion: 0.5 });
    expect(compose({ synced: [noPrompt], openRouterProvider: 'openrouter' }).model('vendor/odd').cacheWritePricePerMillion).toBeUndefined();
    const { cacheWritePricePerMillion: _, ...unlisted } = listed;
    const dated = { ...unlisted, externalId: 'openai/gpt-4o-mini-2024-07-18', inputPricePerMillion: 0.8 };
    const c = compose({ builtin: [served], synced: [listed, dated], openRouterProvider: 'openrouter' });
    expect(c.model('gpt-4o-mini')).toMatchObject({ inputPricePerMillion: 0.8 });
    expect(c.model('gpt-4o-mini').cacheWritePricePerMillion).toBeUndefined();
  });
});

describe('models only OpenRouter lists', () => {
  const only = synced({
    source: 'openrouter',
    externalId: 'mistralai/mistral-large',
    contextWindow: 128_000,
    inputPricePerMillion: 2,
    outputPricePerMillion: 6,
  });

  it('are served by the configured OpenRouter provider under their OpenRouter id', () => {
    const c = compose({ synced: [only], openRouterProvider: 'openrouter' });
    const m = c.model('mistralai/mistral-large');
    expect(m).toMatchObject({
      provider: 'openrouter',
      upstreamId: 'mistralai/mistral-large',
      contextWindow: 128_000,
      inputPricePerMillion: 2,
    });
    expect(c.origin('mistralai/mistral-large', 'outputPricePerMillion').source).toBe('openrouter');
  });

  it('are left out without an OpenRouter provider, and never shadow a catalog name', () => {
    expect(compose({ synced: [only] }).model('mistralai/mistral-large')).toBeUndefined();
    const clash = synced({ source: 'openrouter', externalId: 'GPT-4o-mini', inputPricePerMillion: 99 });
    const c = compose({ synced: [clash], openRouterProvider: 'openrouter' });
    expect(c.composed.models.map((m) => m.id)).toEqual(['gpt-4o-mini']);
    expect(c.model('gpt-4o-mini').inputPricePerMillion).toBe(0.15);
  });

  it('with a window under 4,096 and no maximum output, take the window as their maximum output, not the larger default', () => {
    const small = synced({ source: 'openrouter', externalId: 'tiny/model', contextWindow: 2_048 });
    const capped = synced({ source: 'openrouter', externalId: 'tiny/capped', contextWindow: 2_048, maxOutputTokens: 1_000 });
    const c = compose({ synced: [small, capped], openRouterProvider: 'openrouter' });
    expect(c.model('tiny/model').maxOutputTokens).toBe(2_048);
    expect(c.model('tiny/capped').maxOutputTokens).toBe(1_000);
  });
});

describe('a maximum output past the default window', () => {
  it('widens the default window to it when no layer sets one; a window a layer sets is kept', () => {
    const c = compose({
      runtime: [
        runtime({ id: 'long-answers', provider: 'openai', maxOutputTokens: 10_000 }),
        runtime({ id: 'or-long', provider: 'openrouter', maxOutputTokens: 10_000 }),
        runtime({ id: 'or-set', provider: 'openrouter', contextWindow: 12_000, maxOutputTokens: 10_000 }),
      ],
      synced: [
        synced({ source: 'openrouter', externalId: 'or-long', contextWindow: 32_000 }),
        synced({ source: 'openrouter', externalId: 'vendor/long', maxOutputTokens: 20_000 }),
      ],
      openRouterProvider: 'openrouter',
    });
    expect(c.model('long-answers').contextWindow).toBe(10_000);
    expect(c.model('long-answers').maxOutputTokens).toBe(10_000);
    expect(c.model('or-long').contextWindow).toBe(32_000);
    expect(c.model('or-set').contextWindow).toBe(12_000);
    expect(c.model('vendor/long').contextWindow).toBe(20_000);
  });
});

describe('Catalog.replace', () => {
  it('swaps the whole catalog while a call keeps the model and the price it resolved', () => {
    const providers = new Map([['openai', 'openai']]);
    const catalog = new Catalog({ models: [builtin], providers });
    const resolved = catalog.find('4o-mini');
    catalog.replace({ models: [{ ...builtin, inputPricePerMillion: 1, aliases: [] }], providers });
    const usage = { promptTokens: 1_000_000, completionTokens: 0, totalTokens: 1_000_000, cachedTokens: 0 };
    expect(resolved && costOf(resolved, usage)).toBe(0.15);
    expect(costOf(catalog.find('gpt-4o-mini') as ModelDefinition, usage)).toBe(1);
    expect(catalog.find('4o-mini')).toBeUndefined();
  });

  it('tells its listeners which model endpoints a replacement ended: ids gone, models now served by another provider or upstream model', () => {
    const providers = new Map([
      ['openai', 'openai'],
      ['other', 'other'],
    ]);
    const catalog = new Catalog({ models: [builtin, { ...builtin, id: 'house', aliases: [] }], providers });
    const told: string[][] = [];
    catalog.onRemoved((removed) => told.push(removed.map((m) => `${m.servedBy}/${m.id}`)));
    catalog.replace({ models: [{ ...builtin, provider: 'other' }], providers });
    catalog.replace({ models: [{ ...builtin, provider: 'other', inputPricePerMillion: 1 }], providers });
    catalog.replace({ models: [{ ...builtin, provider: 'other', upstreamId: 'gpt-4o-mini-2024-07-18' }], providers });
    expect(told).toEqual([['openai/gpt-4o-mini', 'openai/house'], ['other/gpt-4o-mini']]);
  });

  it("gives a model's fallback chain each model once, however its fallbacks name them", () => {
    const mini: ModelDefinition = { ...builtin, aliases: ['4o-mini'], fallbacks: ['gpt-4o-mini', 'gpt-4.1-nano', 'GPT-4.1-NANO', 'nano'] };
    const nano = BUILTIN_MODELS.find((m) => m.id === 'gpt-4.1-nano') as ModelDefinition;
    const catalog = new Catalog({ models: [mini, { ...nano, aliases: ['nano'], fallbacks: [] }], providers: new Map() });
    expect(catalog.chainFrom(catalog.find('4o-mini')!).map((m) => m.id)).toEqual(['gpt-4o-mini', 'gpt-4.1-nano']);
  });

  it('keeps the current catalog when the next one cannot be built', () => {
    const providers = new Map([['openai', 'openai']]);
    const catalog = new Catalog({ models: [builtin], providers });
    expect(() => catalog.replace({ models: [{ ...builtin, fallbacks: ['nowhere'] }], providers })).toThrow(/unknown model "nowhere"/);
    expect(catalog.find('gpt-4o-mini')?.fallbacks).toEqual(builtin.fallbacks);
  });
});

describe('a runtime fallback to a model the catalog no longer has', () => {
  it('is left out, so the catalog still builds (a synced model a later sync dropped)', () => {
    const layers = {
      openRouterProvider: 'openrouter',
      runtime: [
        runtime({ id: 'house', provider: 'openai', upstreamId: 'gpt-4o-mini', fallbacks: ['gpt-4o-mini', 'mistralai/mistral-large'] }),
      ],
    };
    const c = compose(layers);
    expect(c.model('house').fallbacks).toEqual(['gpt-4o-mini']);
    // And the catalog of it builds: every fallback names a model.
    expect(() => new Catalog({ models: c.composed.models, providers: new Map() })).not.toThrow();
  });
});

describe('a runtime model stored with spaces around its names', () => {
  it('is sent upstream and looked up by them without the spaces, however it was stored', () => {
    const c = compose({
      runtime: [
        runtime({ id: 'house', provider: 'openai', upstreamId: ' gpt-4o-mini ', aliases: [' home '], fallbacks: [' gpt-4o-mini '] }),
      ],
    });
    expect(c.model('house')).toMatchObject({ upstreamId: 'gpt-4o-mini', aliases: ['home'], fallbacks: ['gpt-4o-mini'] });
  });
});

describe('config-file models and the embedding models', () => {
  it('refuses a config-file model named, or aliased, as an embedding model: ListModels lists both under that name', () => {
    const named = { ...builtin, id: 'text-embedding-3-small', aliases: [] };
    expect(() => compose({ config: [named] })).toThrow(
      /"text-embedding-3-small" is the name of the embedding model "text-embedding-3-small"/,
    );
    const aliased = { ...builtin, id: 'house', aliases: ['Text-Embedding-3-Large'] };
    expect(() => compose({ config: [aliased] })).toThrow(
      /house: "Text-Embedding-3-Large" is the name of the embedding model "text-embedding-3-large"/,
    );
    // Overriding a built-in chat model's fields is not naming a new model.
    expect(compose({ config: [{ ...builtin, quality: 0.9 }] }).model('gpt-4o-mini').quality).toBe(0.9);
  });
});
