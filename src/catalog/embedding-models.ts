import { Catalog, modelNameKey, type CatalogModel, type CatalogOptions } from './catalog.js';
import type { ModelDefinition } from './models.js';

/**
 * Embedding models, kept in a catalog of their own so chat routing, race and fallback never
 * see them. Prices are US dollars per million input tokens, from OpenAI's public price list;
 * embeddings produce no output tokens.
 */
export interface EmbeddingModelDefinition extends ModelDefinition {
  readonly kind: 'embedding';
  /** Length of the vectors the model returns by default. */
  readonly dimensions: number;
  /** Whether the model can return shorter vectors (the `dimensions` request field). */
  readonly shortenable: boolean;
  /** Inputs the upstream takes in one request. */
  readonly maxInputs: number;
}

export type EmbeddingCatalogModel = CatalogModel & EmbeddingModelDefinition;

export function isEmbeddingModel(model: CatalogModel): model is EmbeddingCatalogModel {
  return (model as Partial<EmbeddingCatalogModel>).kind === 'embedding';
}

function embeddingModel(
  id: string,
  options: { price: number; dimensions: number; shortenable: boolean; quality: number },
): EmbeddingModelDefinition {
  return {
    id,
    kind: 'embedding',
    provider: 'openai',
    aliases: [],
    contextWindow: 8191,
    maxOutputTokens: 0,
    supportsStreaming: false,
    inputPricePerMillion: options.price,
    outputPricePerMillion: 0,
    cachedInputPricePerMillion: options.price,
    family: 'text-embedding',
    tier: 'small',
    fallbacks: [],
    quality: options.quality,
    typicalTtftMs: 200,
    tokensPerSecond: 0,
    dimensions: options.dimensions,
    shortenable: options.shortenable,
    maxInputs: 2048,
  };
}

export const EMBEDDING_MODELS: readonly EmbeddingModelDefinition[] = [
  embeddingModel('text-embedding-3-small', { price: 0.02, dimensions: 1536, shortenable: true, quality: 0.6 }),
  embeddingModel('text-embedding-3-large', { price: 0.13, dimensions: 3072, shortenable: true, quality: 0.8 }),
  embeddingModel('text-embedding-ada-002', { price: 0.1, dimensions: 1536, shortenable: false, quality: 0.5 }),
];

export const DEFAULT_EMBEDDING_MODEL = 'text-embedding-3-small';

/** The built-in embedding model a name (its id or an alias, in any case) belongs to. */
export function embeddingModelNamed(name: string): EmbeddingModelDefinition | undefined {
  const key = modelNameKey(name);
  return EMBEDDING_MODELS.find((m) => [m.id, ...m.aliases].some((n) => modelNameKey(n) === key));
}

/** The embedding models bound to the providers of this process, looked up like chat models. */
export class EmbeddingCatalog {
  private readonly inner: Catalog;
  private readonly defs = new Map<string, EmbeddingModelDefinition>();

  constructor(options: Omit<CatalogOptions, 'models'> & { models?: readonly EmbeddingModelDefinition[] }) {
    const models = options.models ?? EMBEDDING_MODELS;
    for (const m of models) this.defs.set(m.id, m);
    this.inner = new Catalog({ ...options, models });
  }

  get models(): readonly EmbeddingCatalogModel[] {
    return this.inner.models.map((m) => this.bind(m));
  }

  find(name: string): EmbeddingCatalogModel | undefined {
    const model = this.inner.find(name);
    return model ? this.bind(model) : undefined;
  }

  private bind(model: CatalogModel): EmbeddingCatalogModel {
    const def = this.defs.get(model.id);
    if (!def) throw new Error(`embedding catalog: ${model.id} has no definition`);
    return { ...def, ...model, kind: 'embedding' };
  }
}
