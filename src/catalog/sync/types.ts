import type { ModelCapabilities } from '../models.js';

/**
 * The contract between the catalog's outside sources (adapters, name resolution, the scheduler) and
 * the catalog that persists and applies what they report.
 */
export type CatalogSourceName = 'openrouter' | 'arena' | 'huggingface';

/** Every source, in the order SyncCatalog with no source named runs them. */
export const CATALOG_SOURCES: readonly CatalogSourceName[] = ['openrouter', 'arena', 'huggingface'];

/** What one source says about one model, normalised to our units. */
export interface SourceModel {
  readonly source: CatalogSourceName;
  /** The model's name as the source spells it ("openai/gpt-4o", "GPT-4o-2024-05-13"). */
  readonly externalId: string;
  readonly contextWindow?: number;
  readonly maxOutputTokens?: number;
  /** US dollars per million tokens. */
  readonly inputPricePerMillion?: number;
  readonly outputPricePerMillion?: number;
  /** A prompt token read from the provider's prompt cache; absent where the source lists none. */
  readonly cachedInputPricePerMillion?: number;
  /** A prompt token written to the provider's prompt cache; absent where the source lists none. */
  readonly cacheWritePricePerMillion?: number;
  /** 0..1, comparable across models (see the source's normalisation). */
  readonly quality?: number;
  readonly capabilities?: Partial<ModelCapabilities>;
  readonly license?: string;
  /** The source's own values for this model, kept for history and audit. */
  readonly raw: Readonly<Record<string, unknown>>;
}

export type MatchRule = 'override' | 'exact' | 'alias' | 'normalised' | 'fuzzy';

export interface NameMatch {
  readonly externalId: string;
  readonly catalogId: string;
  readonly rule: MatchRule;
  /** 1 for override, exact, alias and normalised matches; the similarity for fuzzy ones. */
  readonly confidence: number;
}

export interface SyncReport {
  readonly source: CatalogSourceName;
  readonly startedAt: Date;
  readonly finishedAt: Date;
  readonly ok: boolean;
  /** Why the run failed (timeout, HTTP status, the first schema violation); absent when ok. */
  readonly error?: string;
  /** Everything the source returned that parsed, matched or not. */
  readonly models: readonly SourceModel[];
  readonly matched: readonly NameMatch[];
  readonly unmatched: readonly string[];
  /** Names an override maps to null: deliberately left out. */
  readonly ignored?: readonly string[];
  /**
   * Names that resolved to a catalog id another name of this run already took (dated snapshots of
   * one model: "openai/gpt-4o-2024-05-13" beside "openai/gpt-4o"); only the `matched` one applies.
   */
  readonly superseded?: readonly NameMatch[];
  /** A failed run's source asked us to wait this long before trying again (HTTP Retry-After). */
  readonly retryAfterMs?: number;
  /** Problems that did not fail the run (a configured Hub model that is gone). */
  readonly warnings?: readonly string[];
  /** Names the source could not read this run (and said so): their last good values stay. */
  readonly skipped?: readonly string[];
}

/** What a source may say during a run without failing it. */
export interface SyncNotes {
  warn(message: string): void;
  /** A model the source could not read this run: warned about, and its last good values kept. */
  skip?(externalId: string, message: string): void;
}

/** One outside source: fetches, validates and normalises. Throws a SyncError with a clear reason. */
export interface CatalogSource {
  readonly name: CatalogSourceName;
  load(signal: AbortSignal, notes?: SyncNotes): Promise<readonly SourceModel[]>;
}

/** Runs one source now (SyncCatalog) or on its schedule; the catalog applies and persists the report. */
export interface SyncRunner {
  run(source: CatalogSourceName, signal?: AbortSignal): Promise<SyncReport>;
  /** The sources set up to run; undefined: any (a runner given by a test). */
  readonly sources?: readonly CatalogSourceName[];
}
