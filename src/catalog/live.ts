import type { Logger } from 'pino';
import {
  catalogSyncLockUnavailable,
  catalogSyncRunning,
  modelNameTaken,
  noCatalogSource,
  runtimeModelInUse,
  runtimeModelNotFound,
} from '../domain/catalog-errors.js';
import { invalidArgument, type FieldViolation, type OrchestratorError } from '../domain/errors.js';
import type { CatalogFingerprint, CatalogStore, FieldChange } from '../store/catalog-store.js';
import { CatalogSnapshot, type Catalog, type CatalogModel, type CatalogOptions, modelNameKey } from './catalog.js';
import { type CatalogLayers, composeCatalog, type ComposedCatalog, type RuntimeModel, type SyncedValues } from './layers.js';
import { EMBEDDING_MODELS, embeddingModelNamed } from './embedding-models.js';
import type { ModelDefinition } from './models.js';
import { checkRuntimeModel, type RuntimeModelInput } from './runtime-models.js';
import type { CatalogSourceName, SyncReport } from './sync/types.js';
import { SyncLockUnavailable } from './sync/scheduler.js';
import { databaseOff, databaseUnreachable } from '../domain/service-errors.js';

/** The scheduler's door for runs on demand (SyncScheduler.runNow). */
export interface SyncGate {
  /** The run's report once applied; undefined when another replica holds the source's lock. */
  runNow(source: CatalogSourceName): Promise<SyncReport | undefined>;
  /** The sources set up to run. */
  readonly sources: readonly CatalogSourceName[];
}

export interface LiveCatalogOptions {
  /** The catalog the engine reads; replaced in place on every rebuild. */
  readonly catalog: Catalog;
  readonly builtin: readonly ModelDefinition[];
  readonly config: readonly ModelDefinition[];
  /** Binds composed definitions to this process's providers (and the simulator). */
  readonly bind: (composed: ComposedCatalog) => CatalogOptions;
  /** Provider names runtime models may name. */
  readonly providers: ReadonlySet<string>;
  /** The configured provider that reaches OpenRouter, if any. */
  readonly openRouterProvider?: string | undefined;
  /** Undefined without a database (DATABASE_URL=off): no runtime models, synced data kept in memory. */
  readonly store?: CatalogStore | undefined;
  /** How often every replica looks for runtime-model and synced-data changes. */
  readonly pollMs: number;
  /** Runs a source now, through the lock every run takes (the scheduler); undefined: no source configured. */
  readonly sync?: SyncGate | undefined;
  readonly log: Logger;
  /** Told about every applied report (the sync metric). */
  readonly onReport?: (report: SyncReport) => void;
}

/**
 * The catalog as it changes at runtime: runtime models (CreateModel, UpdateModel, DeleteModel) and
 * synced data are persisted in the database, and every replica rebuilds its catalog from the
 * database when it sees a change (polled every `pollMs`), so all replicas converge within seconds.
 */
export class LiveCatalog {
  private runtime: readonly RuntimeModel[] = [];
  private synced: readonly SyncedValues[] = [];
  private seen: CatalogFingerprint | undefined;
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private pollFailing = false;

  constructor(private readonly options: LiveCatalogOptions) {}

  get catalog(): Catalog {
    return this.options.catalog;
  }

  /** Loads what the database holds, then keeps polling for changes. */
  async start(): Promise<void> {
    await this.refresh().catch((err: unknown) => this.pollFailed(err));
    if (!this.options.store) return;
    this.timer = setInterval(() => {
      this.refresh().catch((err: unknown) => this.pollFailed(err));
    }, this.options.pollMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Reloads from the database when something changed there (or always, with `force`). */
  refresh(force = false): Promise<boolean> {
    return this.serial(async () => {
      const store = this.options.store;
      if (!store?.available) return false;
      const print = await store.fingerprint();
      if (!force && print === this.seen) return false;
      const [runtime, synced] = await Promise.all([store.runtimeModels(), store.currentSynced()]);
      this.rebuild(runtime, synced);
      this.seen = print;
      if (this.pollFailing) this.options.log.info('catalog database reachable again');
      this.pollFailing = false;
      return true;
    });
  }

  /** `violations`: what the request's encoding already showed wrong, refused with the rest. */
  async createModel(input: RuntimeModelInput, violations: readonly FieldViolation[] = []): Promise<CatalogModel> {
    const store = this.requireStore();
    return this.serial(async () => {
      const others = await store.runtimeModels();
      this.check(input, others, violations);
      const now = new Date();
      const created = await this.put(store, { ...input, createdAt: now, updatedAt: now }, 'create', violations);
      if (!created)
        throw modelNameTaken([
          { field: 'model.id', description: `"${input.id}" is already the name of the runtime model "${input.id}"`, name: input.id },
        ]);
      return this.reload(input.id);
    });
  }

  /** Replaces a runtime model's definition (every field; leave one out to let synced data or defaults fill it). */
  async updateModel(input: RuntimeModelInput, violations: readonly FieldViolation[] = []): Promise<CatalogModel> {
    const store = this.requireStore();
    return this.serial(async () => {
      const all = await store.runtimeModels();
      // Named as every other lookup names a model: any case.
      const existing = all.find((m) => sameName(m.id, input.id));
      if (!existing) throw this.notRuntime(input.id, 'model.id', all);
      const model = { ...input, id: existing.id };
      this.check(
        model,
        all.filter((m) => m.id !== existing.id),
        violations,
      );
      const written = await this.put(store, { ...model, createdAt: existing.createdAt, updatedAt: new Date() }, 'update', violations);
      if (!written) {
        // Another replica deleted it since it was read: serve that deletion now, as the poll would.
        await this.reloadNow();
        throw runtimeModelNotFound(existing.id, 'model.id');
      }
      return this.reload(existing.id);
    });
  }

  async deleteModel(id: string): Promise<void> {
    const store = this.requireStore();
    await this.serial(async () => {
      const all = await store.runtimeModels();
      const found = all.find((m) => sameName(m.id, id));
      if (!found) throw this.notRuntime(id, 'id', all);
      id = found.id;
      const users = all.filter((m) => m.id !== id && m.fallbacks.some((f) => this.catalog.find(f)?.id === id));
      if (users.length > 0) {
        throw runtimeModelInUse(
          id,
          users.map((u) => u.id),
        );
      }
      await store.deleteRuntimeModel(id);
      await this.reloadNow();
    });
  }

  /**
   * Persists a report, then rebuilds the catalog from what is current. A failed report is recorded
   * (and logged) but changes nothing: the last good values stay in use.
   */
  async applyReport(report: SyncReport): Promise<SyncReport> {
    const { log, store } = this.options;
    this.options.onReport?.(report);
    if (!report.ok) {
      log.warn({ source: report.source, error: report.error }, 'catalog sync failed: the last good data stays in use');
    } else {
      // SyncCatalog's answer carries counts and matches only: what a run skipped or set aside is
      // visible nowhere but here, and a skipped model (gone from the Hub) deserves a warning.
      const warnings = report.warnings ?? [];
      log[warnings.length > 0 ? 'warn' : 'info'](
        {
          source: report.source,
          models: report.models.length,
          matched: report.matched.length,
          unmatched: report.unmatched.length,
          ...(warnings.length > 0 ? { warnings } : {}),
          ...(report.ignored?.length ? { ignored: report.ignored } : {}),
          ...(report.superseded?.length ? { superseded: report.superseded.map((m) => m.externalId) } : {}),
        },
        'catalog sync applied',
      );
    }
    await this.serial(async () => {
      if (store?.available) {
        await store.recordSync(report);
        await this.reloadNow();
      } else if (report.ok) {
        // A model the source could not read this run (gone from the Hub) keeps its last good values.
        const skipped = new Set((report.skipped ?? []).map((id) => id.toLowerCase()));
        const kept = this.synced.filter((s) => s.source !== report.source || skipped.has(s.externalId.toLowerCase()));
        this.rebuild(this.runtime, [...kept, ...inMemory(report)]);
      }
    });
    return report;
  }

  /**
   * Runs the named sources now (all of them when none is named), one after another, through the
   * scheduler's lock and one-at-a-time rule; each report is applied before it is answered. A source
   * another replica is syncing right now is refused (CATALOG_SYNC_RUNNING, with a retry delay).
   */
  async sync(sources: readonly CatalogSourceName[]): Promise<SyncReport[]> {
    const gate = this.options.sync;
    if (!gate) {
      throw noCatalogSource();
    }
    const reports: SyncReport[] = [];
    for (const source of sources.length > 0 ? sources : gate.sources) {
      const report = await gate.runNow(source).catch((err: unknown) => {
        throw err instanceof SyncLockUnavailable ? catalogSyncLockUnavailable(source, err.cause) : err;
      });
      if (!report)
        throw catalogSyncRunning(
          source,
          reports.map((r) => r.source),
        );
      reports.push(report);
    }
    return reports;
  }

  /**
   * `name` as a start-up on a config file with these layers would find it: they, under what the
   * database holds now (runtime models, synced lists). Undefined when that catalog does not build,
   * as start-up then serves the file's catalog alone.
   */
  findWithFile(file: Omit<CatalogLayers, 'runtime' | 'synced'>, name: string): CatalogModel | undefined {
    try {
      return new CatalogSnapshot(this.options.bind(composeCatalog({ ...file, runtime: this.runtime, synced: this.synced }))).find(name);
    } catch {
      return undefined;
    }
  }

  history(modelId: string | undefined, field: string | undefined, limit: number): Promise<FieldChange[]> {
    return this.requireStore().history(modelId, field, limit);
  }

  private check(input: RuntimeModelInput, others: readonly RuntimeModel[], violations: readonly FieldViolation[]): void {
    checkRuntimeModel(input, violations, {
      providers: this.options.providers,
      fixed: [...this.options.builtin, ...this.options.config],
      embedding: EMBEDDING_MODELS,
      runtime: others,
      resolves: (name) => this.catalog.find(name) !== undefined || others.some((m) => m.id === name),
      synced: (name) => this.catalog.find(name)?.origins.base.source === 'openrouter' && !others.some((m) => m.id === name),
    });
    // Whatever else would stop the catalog from building (a name clash with an OpenRouter-only model
    // is not one: the runtime model takes the name) is refused before anything is written.
    try {
      this.bindAndBuild([...others, { ...input, createdAt: new Date(), updatedAt: new Date() }], this.synced, true);
    } catch (err) {
      throw invalidArgument([{ field: 'model', description: err instanceof Error ? err.message.replace(/^catalog: /, '') : String(err) }]);
    }
  }

  /**
   * Writes with the check made again on the other models as the write finds them. Refused there,
   * another replica wrote a name meanwhile: this replica serves it now, as the refusal names it.
   */
  private async put(store: CatalogStore, model: RuntimeModel, mode: 'create' | 'update', violations: readonly FieldViolation[]) {
    let raced = false;
    try {
      return await store.putRuntimeModel(model, mode, (current) => {
        raced = true;
        this.check(model, current, violations);
        raced = false;
      });
    } catch (err) {
      // A reload that fails leaves it to the next poll; the refusal is the answer either way.
      if (raced) await this.reloadNow().catch(() => undefined);
      throw err;
    }
  }

  private async reload(id: string): Promise<CatalogModel> {
    await this.reloadNow();
    const model = this.catalog.find(id);
    if (!model) throw new Error(`catalog: runtime model ${id} missing after reload`);
    return model;
  }

  private async reloadNow(): Promise<void> {
    const store = this.requireStore();
    const print = await store.fingerprint();
    const [runtime, synced] = await Promise.all([store.runtimeModels(), store.currentSynced()]);
    this.rebuild(runtime, synced);
    this.seen = print;
  }

  private rebuild(runtime: readonly RuntimeModel[], synced: readonly SyncedValues[]): void {
    try {
      this.bindAndBuild(runtime, synced, false);
      this.runtime = runtime;
      this.synced = synced;
    } catch (err) {
      // Another replica's change that this one cannot take (a config file that differs): keep serving the last good catalog.
      this.options.log.error(
        { err: err instanceof Error ? err.message : String(err) },
        'catalog rebuild failed: the previous catalog stays in use',
      );
    }
  }

  private bindAndBuild(runtime: readonly RuntimeModel[], synced: readonly SyncedValues[], dryRun: boolean): void {
    const { builtin, config, openRouterProvider } = this.options;
    const options = this.options.bind(composeCatalog({ builtin, config, runtime, synced, openRouterProvider }));
    // A dry run builds a snapshot nobody uses: it throws what the real rebuild would.
    if (dryRun) new CatalogSnapshot(options).find('');
    else this.catalog.replace(options);
  }

  private requireStore(): CatalogStore {
    const store = this.options.store;
    if (!store) {
      throw databaseOff('runtime models and catalog history');
    }
    if (!store.available) {
      throw databaseUnreachable();
    }
    return store;
  }

  /** `field`: where the request names the model (UpdateModel's `model.id`, DeleteModel's `id`). */
  private notRuntime(id: string, field: string, runtime: readonly RuntimeModel[]): OrchestratorError {
    // A change names its model by id: an alias may move to another model between two calls, and
    // "no runtime model" would contradict ListModels, which lists the model under that alias.
    const aliased = runtime.find((m) => m.aliases.some((a) => sameName(a, id)));
    if (aliased) {
      return invalidArgument([
        { field, description: `"${id}" is an alias of the runtime model "${aliased.id}": name the model by its id` },
      ]);
    }
    // Named as every lookup names a model: any case, by an alias too ("no runtime model" would
    // contradict ListModels, which lists the model under that alias).
    const fixed = [...this.options.builtin, ...this.options.config].find((m) => [m.id, ...m.aliases].some((n) => sameName(n, id)));
    // ListModels lists the embedding models too: "no runtime model" would contradict it.
    const embedding = fixed ? undefined : embeddingModelNamed(id);
    const owner = fixed ? `"${fixed.id}" is a built-in or config-file model` : embedding && `"${embedding.id}" is an embedding model`;
    if (owner) return invalidArgument([{ field, description: `${owner}; only runtime models can be changed at runtime` }]);
    return runtimeModelNotFound(id, field);
  }

  private serial<T>(task: () => Promise<T>): Promise<T> {
    const next = this.chain.then(task, task);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private pollFailed(err: unknown): void {
    if (!this.pollFailing)
      this.options.log.warn(
        { err: err instanceof Error ? err.message : String(err) },
        'catalog database poll failed: serving the last catalog',
      );
    this.pollFailing = true;
  }
}

/** A successful report's values, for a gateway without a database. */
function inMemory(report: SyncReport): SyncedValues[] {
  const catalogIdOf = new Map(report.matched.map((m) => [m.externalId, m.catalogId]));
  // An override to null leaves the name out of the catalog, as the database path never stores it.
  const ignored = new Set(report.ignored ?? []);
  return report.models
    .filter((m) => !ignored.has(m.externalId))
    .map((m) => ({
      source: m.source,
      externalId: m.externalId,
      catalogId: catalogIdOf.get(m.externalId),
      fetchedAt: report.finishedAt,
      contextWindow: m.contextWindow,
      maxOutputTokens: m.maxOutputTokens,
      inputPricePerMillion: m.inputPricePerMillion,
      outputPricePerMillion: m.outputPricePerMillion,
      cachedInputPricePerMillion: m.cachedInputPricePerMillion,
      cacheWritePricePerMillion: m.cacheWritePricePerMillion,
      quality: m.quality,
      capabilities: m.capabilities,
    }));
}

function sameName(a: string, b: string): boolean {
  return modelNameKey(a) === modelNameKey(b);
}
