import { embeddingModelNamed } from './embedding-models.js';
import type { ModelCapabilities, ModelDefinition, ModelTier } from './models.js';
import type { FieldOrigin, ModelField, ModelOrigins } from './provenance.js';
import type { CatalogSourceName } from './sync/types.js';

/**
 * The catalog is composed from layers, field by field. Precedence, highest first:
 *
 *   config file  >  runtime models  >  synced data (OpenRouter > Hugging Face Hub; Arena for quality)  >  built-in
 *
 * with one exception for prices: a provider's own price list (the built-in list, or the config
 * file) wins over OpenRouter's resale price for the models that provider serves. OpenRouter's
 * price is used for the models served through OpenRouter, for runtime models that leave their
 * prices out, and for the models only OpenRouter lists.
 */

/** A model created at runtime (ModelService.CreateModel); fields left out come from synced data, then defaults. */
export interface RuntimeModel {
  readonly id: string;
  readonly provider: string;
  readonly upstreamId?: string | undefined;
  readonly aliases: readonly string[];
  readonly contextWindow?: number | undefined;
  readonly maxOutputTokens?: number | undefined;
  readonly inputPricePerMillion?: number | undefined;
  readonly outputPricePerMillion?: number | undefined;
  readonly cachedInputPricePerMillion?: number | undefined;
  readonly cacheWritePricePerMillion?: number | undefined;
  readonly quality?: number | undefined;
  readonly capabilities?: ModelCapabilities | undefined;
  readonly fallbacks: readonly string[];
  readonly family?: string | undefined;
  readonly tier?: ModelTier | undefined;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

/** What one source currently says about one model (the newest synced row). */
export interface SyncedValues {
  readonly source: CatalogSourceName;
  readonly externalId: string;
  /** The catalog id the name resolved to; undefined when it matched no catalog model. */
  readonly catalogId: string | undefined;
  readonly fetchedAt: Date;
  readonly contextWindow?: number | undefined;
  readonly maxOutputTokens?: number | undefined;
  readonly inputPricePerMillion?: number | undefined;
  readonly outputPricePerMillion?: number | undefined;
  readonly cachedInputPricePerMillion?: number | undefined;
  readonly cacheWritePricePerMillion?: number | undefined;
  readonly quality?: number | undefined;
  readonly capabilities?: Partial<ModelCapabilities> | undefined;
}

export interface CatalogLayers {
  readonly builtin: readonly ModelDefinition[];
  readonly config: readonly ModelDefinition[];
  readonly runtime: readonly RuntimeModel[];
  readonly synced: readonly SyncedValues[];
  /** The configured provider that reaches OpenRouter: models only OpenRouter lists are served by it. */
  readonly openRouterProvider?: string | undefined;
}

export interface ComposedCatalog {
  readonly models: readonly ModelDefinition[];
  readonly origins: ReadonlyMap<string, ModelOrigins>;
}

/** What a runtime model or an OpenRouter-only model gets for the fields nothing sets. */
export const MODEL_DEFAULTS = {
  contextWindow: 8_192,
  maxOutputTokens: 4_096,
  supportsStreaming: true,
  inputPricePerMillion: 0,
  outputPricePerMillion: 0,
  tier: 'medium',
  quality: 0.5,
  typicalTtftMs: 600,
  tokensPerSecond: 60,
} as const;

/** Synced sources in the order they are applied: a later one wins a field both set. */
const SOURCE_ORDER: readonly CatalogSourceName[] = ['huggingface', 'arena', 'openrouter'];

type Draft = { -readonly [K in keyof ModelDefinition]: ModelDefinition[K] };

class ModelDraft {
  readonly fields: Partial<Record<ModelField, FieldOrigin>> = {};
  constructor(
    readonly def: Draft,
    readonly base: FieldOrigin,
  ) {}

  set<K extends ModelField>(field: K, value: ModelDefinition[K] | undefined, origin: FieldOrigin): void {
    if (value === undefined) return;
    this.def[field] = value;
    this.fields[field] = origin;
  }

  originOf(field: ModelField): FieldOrigin {
    return this.fields[field] ?? this.base;
  }

  /**
   * The cache-write price marks up the prompt price a layer set beside it: a layer that sets a
   * prompt price sets its own write price, or none (the default markup on that prompt price), and
   * either way is its origin.
   */
  setWritePrice(value: number | undefined, origin: FieldOrigin): void {
    if (value === undefined) delete this.def.cacheWritePricePerMillion;
    else this.def.cacheWritePricePerMillion = value;
    this.fields.cacheWritePricePerMillion = origin;
  }
}

export function composeCatalog(layers: CatalogLayers): ComposedCatalog {
  const drafts = new Map<string, ModelDraft>();
  for (const def of layers.builtin) drafts.set(def.id, new ModelDraft({ ...def }, { source: 'builtin' }));
  for (const model of layers.runtime) {
    if (!drafts.has(model.id)) drafts.set(model.id, new ModelDraft(runtimeBase(model), { source: 'runtime' }));
  }
  addOpenRouterOnly(layers, drafts);

  const synced = [...layers.synced].sort((a, b) => SOURCE_ORDER.indexOf(a.source) - SOURCE_ORDER.indexOf(b.source));
  for (const values of synced) {
    const target = values.catalogId !== undefined ? drafts.get(values.catalogId) : undefined;
    if (target) {
      applySynced(target, values, layers.openRouterProvider);
      continue;
    }
    // An OpenRouter name unmatched (or matched to a model since deleted) is a model of its own
    // (addOpenRouterOnly), or the runtime model of that name on the OpenRouter provider, whose
    // fields left out take OpenRouter's values.
    const own = drafts.get(values.externalId);
    const openRouterOwn =
      own?.base.source === 'openrouter' || (own?.base.source === 'runtime' && own.def.provider === layers.openRouterProvider);
    if (own && values.source === 'openrouter' && openRouterOwn) applySynced(own, values, layers.openRouterProvider);
  }
  for (const model of layers.runtime) {
    const draft = drafts.get(model.id);
    if (draft) applyRuntime(draft, model);
  }
  refuseEmbeddingNames(layers.config);
  for (const def of layers.config) {
    const draft = drafts.get(def.id);
    if (!draft) {
      drafts.set(def.id, new ModelDraft({ ...def }, { source: 'config' }));
      continue;
    }
    const origin: FieldOrigin = { source: 'config' };
    for (const field of Object.keys(def) as (keyof ModelDefinition)[]) {
      if (field !== 'id') draft.set(field, def[field], origin);
    }
    draft.setWritePrice(def.cacheWritePricePerMillion, origin);
  }
  dropDanglingRuntimeFallbacks(drafts);
  for (const draft of drafts.values()) {
    capDefaultOutput(draft);
    raiseDefaultWindow(draft);
  }
  const origins = new Map<string, ModelOrigins>();
  const models: ModelDefinition[] = [];
  for (const [id, draft] of drafts) {
    models.push(Object.freeze({ ...draft.def }));
    origins.set(id, { base: draft.base, fields: { ...draft.fields } });
  }
  return { models, origins };
}

function runtimeBase(model: RuntimeModel): Draft {
  return {
    id: model.id,
    provider: model.provider,
    aliases: [],
    contextWindow: MODEL_DEFAULTS.contextWindow,
    maxOutputTokens: MODEL_DEFAULTS.maxOutputTokens,
    supportsStreaming: MODEL_DEFAULTS.supportsStreaming,
    inputPricePerMillion: MODEL_DEFAULTS.inputPricePerMillion,
    outputPricePerMillion: MODEL_DEFAULTS.outputPricePerMillion,
    cachedInputPricePerMillion: MODEL_DEFAULTS.inputPricePerMillion,
    family: model.id,
    tier: MODEL_DEFAULTS.tier,
    fallbacks: [],
    quality: MODEL_DEFAULTS.quality,
    typicalTtftMs: MODEL_DEFAULTS.typicalTtftMs,
    tokensPerSecond: MODEL_DEFAULTS.tokensPerSecond,
  };
}

/**
 * The default maximum output is no larger than the window a layer set: an answer that could not
 * fit would pass the max_tokens check and be refused upstream. A maximum a layer set is kept as is.
 */
function capDefaultOutput(draft: ModelDraft): void {
  if (draft.fields.maxOutputTokens !== undefined || draft.base.source === 'builtin' || draft.base.source === 'config') return;
  draft.def.maxOutputTokens = Math.min(draft.def.maxOutputTokens, draft.def.contextWindow);
}

/**
 * The default window is no smaller than the maximum output a layer set: ListModels would show a
 * window the answer alone overflows, and routing would pass the model over for max_tokens it takes.
 * A window a layer set is kept as is.
 */
function raiseDefaultWindow(draft: ModelDraft): void {
  if (draft.fields.contextWindow !== undefined || draft.base.source === 'builtin' || draft.base.source === 'config') return;
  draft.def.contextWindow = Math.max(draft.def.contextWindow, draft.def.maxOutputTokens);
}

/**
 * A runtime model's fallback to a model the catalog no longer has (a synced model a later sync
 * dropped, written before such fallbacks were refused) is left out, so the catalog still builds:
 * one dangling name must not freeze every later change, or empty the catalog at start-up.
 */
function dropDanglingRuntimeFallbacks(drafts: ReadonlyMap<string, ModelDraft>): void {
  const names = new Set<string>();
  for (const draft of drafts.values()) for (const name of [draft.def.id, ...draft.def.aliases]) names.add(name.trim().toLowerCase());
  for (const draft of drafts.values()) {
    const origin = draft.fields.fallbacks;
    if (origin?.source !== 'runtime') continue;
    const kept = draft.def.fallbacks.filter((name) => names.has(name.trim().toLowerCase()));
    if (kept.length !== draft.def.fallbacks.length) draft.set('fallbacks', kept, origin);
  }
}

function applyRuntime(draft: ModelDraft, model: RuntimeModel): void {
  const origin: FieldOrigin = { source: 'runtime' };
  draft.set('provider', model.provider, origin);
  // A runtime model's names are stored as written and checked trimmed: trimmed here, where every
  // runtime model is read, so a row written with spaces (or before they were checked) works too.
  draft.set('upstreamId', model.upstreamId?.trim(), origin);
  draft.set(
    'aliases',
    model.aliases.map((a) => a.trim()),
    origin,
  );
  draft.set('contextWindow', model.contextWindow, origin);
  draft.set('maxOutputTokens', model.maxOutputTokens, origin);
  draft.set('inputPricePerMillion', model.inputPricePerMillion, origin);
  draft.set('outputPricePerMillion', model.outputPricePerMillion, origin);
  draft.set('cachedInputPricePerMillion', model.cachedInputPricePerMillion ?? model.inputPricePerMillion, origin);
  // Named alone, the write price is the runtime model's over OpenRouter's prompt price, as its cached price is.
  if (model.inputPricePerMillion !== undefined || model.cacheWritePricePerMillion !== undefined)
    draft.setWritePrice(model.cacheWritePricePerMillion, origin);
  draft.set('quality', model.quality, origin);
  draft.set('capabilities', model.capabilities, origin);
  draft.set(
    'fallbacks',
    model.fallbacks.map((f) => f.trim()),
    origin,
  );
  draft.set('family', model.family, origin);
  draft.set('tier', model.tier, origin);
}

function applySynced(draft: ModelDraft, values: SyncedValues, openRouterProvider: string | undefined): void {
  const origin: FieldOrigin = { source: values.source, fetchedAt: values.fetchedAt };
  // A provider's own price list beats a reseller's: OpenRouter's price replaces a built-in one only
  // for the models OpenRouter itself serves here.
  const resale = values.source === 'openrouter' && draft.def.provider !== openRouterProvider;
  const mayPrice = (field: ModelField): boolean => !(resale && draft.originOf(field).source === 'builtin');
  draft.set('contextWindow', values.contextWindow, origin);
  draft.set('maxOutputTokens', values.maxOutputTokens, origin);
  if (mayPrice('inputPricePerMillion')) {
    draft.set('inputPricePerMillion', values.inputPricePerMillion, origin);
    // The cached price comes with the prompt price it discounts, never beside another layer's:
    // the source's own where it lists one, else the prompt price (a runtime model or the config
    // file that names one applies after this and wins).
    const cached =
      values.inputPricePerMillion === undefined ? undefined : (values.cachedInputPricePerMillion ?? values.inputPricePerMillion);
    draft.set('cachedInputPricePerMillion', cached, origin);
    if (values.inputPricePerMillion !== undefined) draft.setWritePrice(values.cacheWritePricePerMillion, origin);
  }
  if (mayPrice('outputPricePerMillion')) draft.set('outputPricePerMillion', values.outputPricePerMillion, origin);
  draft.set('quality', values.quality, origin);
  if (values.capabilities) {
    const current = draft.def.capabilities ?? { tools: false, images: false, jsonSchema: false };
    draft.set('capabilities', { ...current, ...definedOnly(values.capabilities) }, origin);
  }
}

function definedOnly(caps: Partial<ModelCapabilities>): Partial<ModelCapabilities> {
  return Object.fromEntries(Object.entries(caps).filter(([, v]) => v !== undefined)) as Partial<ModelCapabilities>;
}

/** Models only OpenRouter lists become callable through the configured OpenRouter provider. */
function addOpenRouterOnly(layers: CatalogLayers, drafts: Map<string, ModelDraft>): void {
  const provider = layers.openRouterProvider;
  if (provider === undefined) return;
  const taken = new Set<string>();
  const ids = new Set<string>();
  for (const m of [...layers.builtin, ...layers.config, ...layers.runtime]) {
    ids.add(m.id.toLowerCase());
    for (const n of [m.id, ...m.aliases]) taken.add(n.toLowerCase());
  }
  for (const values of layers.synced) {
    // Matched to a model of the catalog: that model's values. Matched to one no longer there (a
    // runtime model deleted since the sync): the name is OpenRouter's own model again.
    if (values.source !== 'openrouter' || (values.catalogId !== undefined && ids.has(values.catalogId.toLowerCase()))) continue;
    const id = values.externalId;
    if (taken.has(id.toLowerCase())) continue;
    taken.add(id.toLowerCase());
    drafts.set(
      id,
      new ModelDraft(
        {
          ...runtimeBase({ id, provider, aliases: [], fallbacks: [], createdAt: values.fetchedAt, updatedAt: values.fetchedAt }),
          upstreamId: id,
          family: id.split('/').pop() ?? id,
        },
        { source: 'openrouter', fetchedAt: values.fetchedAt },
      ),
    );
  }
}

/** ListModels lists the embedding models under their names too: a config-file model may not take one (runtime models are refused the same). */
function refuseEmbeddingNames(config: readonly ModelDefinition[]): void {
  for (const def of config) {
    for (const name of [def.id, ...def.aliases]) {
      const owner = embeddingModelNamed(name);
      if (owner) throw new Error(`catalog: ${def.id}: "${name}" is the name of the embedding model "${owner.id}"`);
    }
  }
}
