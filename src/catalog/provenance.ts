import type { ModelDefinition } from './models.js';
import type { CatalogSourceName } from './sync/types.js';

/** Where a field's value came from: the built-in list, the config file, a runtime model, or a synced source. */
export type FieldSource = 'builtin' | 'config' | 'runtime' | CatalogSourceName;

export interface FieldOrigin {
  readonly source: FieldSource;
  /** When the source was last fetched (synced values only). */
  readonly fetchedAt?: Date;
}

/** Every field of a definition but its id (the id names the model; it has no origin of its own). */
export type ModelField = Exclude<keyof ModelDefinition, 'id'>;

/** A model's field origins: the fields some layer set, and the origin of all the others. */
export interface ModelOrigins {
  readonly base: FieldOrigin;
  readonly fields: Readonly<Partial<Record<ModelField, FieldOrigin>>>;
}

export function everyFieldFrom(origin: FieldOrigin): ModelOrigins {
  return { base: origin, fields: {} };
}

export function originOf(origins: ModelOrigins, field: ModelField): FieldOrigin {
  return origins.fields[field] ?? origins.base;
}

/** The fields ListModels reports origins for, in a stable order. */
export const REPORTED_FIELDS: readonly ModelField[] = [
  'provider',
  'upstreamId',
  'aliases',
  'contextWindow',
  'maxOutputTokens',
  'supportsStreaming',
  'inputPricePerMillion',
  'outputPricePerMillion',
  'cachedInputPricePerMillion',
  'cacheWritePricePerMillion',
  'family',
  'tier',
  'fallbacks',
  'quality',
  'typicalTtftMs',
  'tokensPerSecond',
  'capabilities',
];
