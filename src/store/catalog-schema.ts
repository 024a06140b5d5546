/**
 * The catalog's tables (runtime models, sync runs, synced rows), in the ledger's database and with
 * its conventions: epoch-millisecond bigints, 0/1 flags, JSON in text columns.
 */
export interface RuntimeModelsTable {
  id: string;
  /** JSON: the fields the model sets (see RuntimeModel). */
  definition: string;
  created_at: number;
  updated_at: number;
}

/** Every definition a runtime model had: a row per create, update and delete (definition empty). */
export interface RuntimeHistoryTable {
  id: string;
  model_id: string;
  at: number;
  definition: string;
}

export interface SyncRunsTable {
  id: string;
  source: string;
  started_at: number;
  finished_at: number;
  ok: number;
  error: string | null;
  models: number;
  matched_count: number;
  unmatched_count: number;
  /** JSON: NameMatch[]. */
  matched: string;
  /** JSON: string[]. */
  unmatched: string;
}

/** One value set of one source for one model; a change adds a row and retires the previous one. */
export interface SyncedModelsTable {
  id: string;
  source: string;
  external_id: string;
  catalog_id: string | null;
  run_id: string;
  /** When these values were first seen. */
  first_seen_at: number;
  /** The last fetch that returned these values. */
  fetched_at: number;
  /** 1 for the values in use, 0 for history (changed or no longer listed). */
  current: number;
  /** JSON: the normalised fields (prices, context window, quality, capabilities). */
  values_json: string;
  /** JSON: the source's own values. */
  raw: string;
}

export interface CatalogSchema {
  catalog_runtime_models: RuntimeModelsTable;
  catalog_runtime_history: RuntimeHistoryTable;
  catalog_sync_runs: SyncRunsTable;
  catalog_synced_models: SyncedModelsTable;
}
