import type { CatalogModel } from '../catalog/catalog.js';
import type { FieldViolation } from '../domain/errors.js';
import { isEmbeddingModel } from '../catalog/embedding-models.js';
import type { RuntimeModelInput } from '../catalog/runtime-models.js';
import type { ModelTier as DomainTier } from '../catalog/models.js';
import { originOf, REPORTED_FIELDS, type FieldSource } from '../catalog/provenance.js';
import type { CatalogSourceName, SyncReport as DomainReport } from '../catalog/sync/types.js';
import type { CircuitState } from '../gen/orchestrator/v1/common.js';
import {
  CatalogSource,
  ModelKind,
  ModelTier,
  type ModelFieldChange,
  type ModelInfo,
  type RuntimeModelSpec,
  type SyncReport,
} from '../gen/orchestrator/v1/models.js';
import type { FieldChange } from '../store/catalog-store.js';
import { timestamp } from './encode.js';

const TIER: Readonly<Record<DomainTier, ModelTier>> = {
  small: ModelTier.MODEL_TIER_SMALL,
  medium: ModelTier.MODEL_TIER_MEDIUM,
  large: ModelTier.MODEL_TIER_LARGE,
};

const SOURCE: Readonly<Record<FieldSource, CatalogSource>> = {
  builtin: CatalogSource.CATALOG_SOURCE_BUILTIN,
  config: CatalogSource.CATALOG_SOURCE_CONFIG,
  runtime: CatalogSource.CATALOG_SOURCE_RUNTIME,
  openrouter: CatalogSource.CATALOG_SOURCE_OPENROUTER,
  arena: CatalogSource.CATALOG_SOURCE_ARENA,
  huggingface: CatalogSource.CATALOG_SOURCE_HUGGINGFACE,
};

/** The sources SyncCatalog can run. */
export const SYNC_SOURCE_OF: Readonly<Partial<Record<CatalogSource, CatalogSourceName>>> = {
  [CatalogSource.CATALOG_SOURCE_OPENROUTER]: 'openrouter',
  [CatalogSource.CATALOG_SOURCE_ARENA]: 'arena',
  [CatalogSource.CATALOG_SOURCE_HUGGINGFACE]: 'huggingface',
};

/** ModelInfo's field names are the proto's: inputPricePerMillion -> input_price_per_million. */
export function snakeCase(field: string): string {
  return field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

export function camelCase(field: string): string {
  return field.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

export function encodeModel(m: CatalogModel, breakerState: CircuitState): ModelInfo {
  return {
    id: m.id,
    provider: m.servedBy ?? m.provider,
    aliases: [...m.aliases],
    contextWindow: m.contextWindow,
    maxOutputTokens: m.maxOutputTokens,
    supportsStreaming: m.supportsStreaming,
    inputPricePerMillion: m.inputPricePerMillion,
    outputPricePerMillion: m.outputPricePerMillion,
    cachedInputPricePerMillion: m.cachedInputPricePerMillion,
    cacheWritePricePerMillion: m.cacheWritePricePerMillion,
    family: m.family,
    tier: TIER[m.tier],
    fallbacks: [...m.fallbacks],
    available: m.servedBy !== undefined,
    simulated: m.simulated,
    breakerState,
    quality: m.quality,
    ...(m.capabilities ? { capabilities: { ...m.capabilities } } : {}),
    provenance: REPORTED_FIELDS.map((field) => {
      const origin = originOf(m.origins, field);
      return {
        field: snakeCase(field),
        source: SOURCE[origin.source],
        ...(origin.fetchedAt ? { fetchedAt: timestamp(origin.fetchedAt.getTime()) } : {}),
      };
    }),
    kind: isEmbeddingModel(m) ? ModelKind.MODEL_KIND_EMBEDDING : ModelKind.MODEL_KIND_CHAT,
    dimensions: isEmbeddingModel(m) ? m.dimensions : 0,
  };
}

const DOMAIN_TIER: Readonly<Partial<Record<ModelTier, DomainTier>>> = {
  [ModelTier.MODEL_TIER_SMALL]: 'small',
  [ModelTier.MODEL_TIER_MEDIUM]: 'medium',
  [ModelTier.MODEL_TIER_LARGE]: 'large',
};

/**
 * A RuntimeModelSpec as the catalog reads it, and what only its encoding shows wrong: an unknown
 * tier (a newer client's, say) is refused like any unknown enum value, not read as medium, and
 * listed with the spec's other problems.
 */
export function decodeRuntimeModel(spec: RuntimeModelSpec): { readonly input: RuntimeModelInput; readonly violations: FieldViolation[] } {
  const tier = DOMAIN_TIER[spec.tier];
  const violations: FieldViolation[] =
    !tier && spec.tier !== ModelTier.MODEL_TIER_UNSPECIFIED
      ? [{ field: 'model.tier', description: 'must be MODEL_TIER_UNSPECIFIED, MODEL_TIER_SMALL, MODEL_TIER_MEDIUM or MODEL_TIER_LARGE' }]
      : [];
  const input: RuntimeModelInput = {
    id: spec.id.trim(),
    provider: spec.provider.trim(),
    upstreamId: spec.upstreamId === '' ? undefined : spec.upstreamId,
    aliases: spec.aliases,
    contextWindow: spec.contextWindow,
    maxOutputTokens: spec.maxOutputTokens,
    inputPricePerMillion: spec.inputPricePerMillion,
    outputPricePerMillion: spec.outputPricePerMillion,
    cachedInputPricePerMillion: spec.cachedInputPricePerMillion,
    cacheWritePricePerMillion: spec.cacheWritePricePerMillion,
    quality: spec.quality,
    capabilities: spec.capabilities ? { ...spec.capabilities } : undefined,
    fallbacks: spec.fallbacks,
    family: spec.family.trim() === '' ? undefined : spec.family.trim(),
    tier,
  };
  return { input, violations };
}

export function encodeReport(r: DomainReport): SyncReport {
  return {
    source: SOURCE[r.source],
    startedAt: timestamp(r.startedAt.getTime()),
    finishedAt: timestamp(r.finishedAt.getTime()),
    ok: r.ok,
    error: r.error ?? '',
    models: r.models.length,
    matched: r.matched.map((m) => ({ externalId: m.externalId, catalogId: m.catalogId, rule: m.rule, confidence: m.confidence })),
    unmatched: [...r.unmatched],
  };
}

export function encodeChange(c: FieldChange): ModelFieldChange {
  return {
    model: c.modelId,
    field: snakeCase(c.field),
    oldValue: c.oldValue,
    newValue: c.newValue,
    source: SOURCE[c.source],
    changedAt: timestamp(c.at.getTime()),
  };
}
