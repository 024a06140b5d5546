import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { modelNameKey } from '../catalog/catalog.js';
import type { RuntimeModel, SyncedValues } from '../catalog/layers.js';
import type { FieldSource } from '../catalog/provenance.js';
import type { CatalogSourceName, SourceModel, SyncReport } from '../catalog/sync/types.js';
import type { CatalogSchema, SyncedModelsTable } from './catalog-schema.js';
import type { LedgerDatabase } from './database.js';
import { extend } from '../domain/extend.js';
import { historyTime, RUNTIME_MODELS_LOCK_KEY, runtimeModelOf } from './runtime-model-rows.js';

/** One change of one field of one model, as ListModelHistory shows it. */
export interface FieldChange {
  readonly modelId: string;
  readonly field: string;
  /** JSON of the value before; empty when the source first listed the model. */
  readonly oldValue: string;
  /** JSON of the value after; empty when the source stopped listing the model. */
  readonly newValue: string;
  readonly source: FieldSource;
  readonly at: Date;
}

/** Changes in the catalog tables since the last look: cheap to ask every few seconds. */
export type CatalogFingerprint = string;

/** A synced row as history reads it: everything but the source's raw record, which can be large. */
const HISTORY_COLUMNS = ['source', 'external_id', 'catalog_id', 'run_id', 'first_seen_at', 'fetched_at', 'current', 'values_json'] as const;
type HistoryRow = Pick<SyncedModelsTable, (typeof HISTORY_COLUMNS)[number]>;

type Values = Omit<SourceModel, 'source' | 'externalId' | 'raw' | 'license'>;
const VALUE_FIELDS = [
  'contextWindow',
  'maxOutputTokens',
  'inputPricePerMillion',
  'outputPricePerMillion',
  'cachedInputPricePerMillion',
  'cacheWritePricePerMillion',
  'quality',
  'capabilities',
] as const;

/** Reads and writes runtime models and synced catalog data in the ledger database. */
export class CatalogStore {
  constructor(private readonly database: () => LedgerDatabase | undefined) {}

  private db(): Kysely<CatalogSchema> {
    const open = this.database();
    if (!open) throw new Error('the catalog database is not reachable');
    // The same database as the ledger: its Kysely instance typed with the catalog tables.
    return open.db as unknown as Kysely<CatalogSchema>;
  }

  get available(): boolean {
    return this.database() !== undefined;
  }

  async fingerprint(): Promise<CatalogFingerprint> {
    const db = this.db();
    // Every create, update and delete adds a history row in its own transaction, so their count
    // changes with each change; the latest updated_at would not when a replica whose clock is
    // behind (or whose write commits after a later-stamped one) changes another model.
    const runtime = await db
      .selectFrom('catalog_runtime_history')
      .select((eb) => [eb.fn.countAll().as('n'), eb.fn.max('at').as('at')])
      .executeTakeFirst();
    // A changed value adds a row and a retired model leaves the current ones, whatever the run's
    // clock said; the latest fetch time still moves with a run that changed nothing.
    const synced = await db
      .selectFrom('catalog_synced_models')
      .select((eb) => [eb.fn.countAll().as('n'), eb.fn.sum('current').as('current'), eb.fn.max('fetched_at').as('at')])
      .executeTakeFirst();
    return `${String(runtime?.n)}:${String(runtime?.at)}/${String(synced?.n)}:${String(synced?.current)}:${String(synced?.at)}`;
  }

  async runtimeModels(): Promise<RuntimeModel[]> {
    const rows = await this.db().selectFrom('catalog_runtime_models').selectAll().orderBy('id').execute();
    return rows.map(runtimeModelOf);
  }

  async runtimeModel(id: string): Promise<RuntimeModel | undefined> {
    return (await this.runtimeModels()).find((m) => m.id === id);
  }

  /**
   * Inserts (`create`: false when the id exists) or replaces (`update`: false when it does not); each change is kept in the history.
   * `check` is given the other runtime models as the write finds them, and throws to refuse it: one
   * replica's check before the write cannot see a name another replica writes meanwhile, and two
   * models answering to one name would leave every replica's catalog unable to take any change.
   */
  async putRuntimeModel(
    model: RuntimeModel,
    mode: 'create' | 'update',
    check?: (others: readonly RuntimeModel[]) => void,
  ): Promise<boolean> {
    const { id, createdAt, updatedAt, ...rest } = model;
    const definition = JSON.stringify(rest);
    const dialect = this.database()?.dialect;
    const write = this.db()
      .transaction()
      .execute(async (tx) => {
        if (check) {
          // SQLite's transactions already take the write lock first (database.ts); PostgreSQL's do not.
          if (dialect === 'postgres') await sql`select pg_advisory_xact_lock(${RUNTIME_MODELS_LOCK_KEY})`.execute(tx);
          const rows = await tx.selectFrom('catalog_runtime_models').selectAll().where('id', '!=', id).orderBy('id').execute();
          check(rows.map(runtimeModelOf));
        }
        if (mode === 'create') {
          const existing = await tx.selectFrom('catalog_runtime_models').select('id').where('id', '=', id).executeTakeFirst();
          if (existing) return false;
          await tx
            .insertInto('catalog_runtime_models')
            .values({ id, definition, created_at: createdAt.getTime(), updated_at: updatedAt.getTime() })
            .execute();
        } else {
          const result = await tx
            .updateTable('catalog_runtime_models')
            .set({ definition, updated_at: updatedAt.getTime() })
            .where('id', '=', id)
            .executeTakeFirst();
          if (Number(result.numUpdatedRows) === 0) return false;
        }
        await tx
          .insertInto('catalog_runtime_history')
          .values({ id: randomUUID(), model_id: id, at: await historyTime(tx, id, updatedAt.getTime()), definition })
          .execute();
        return true;
      });
    return write.catch(async (err: unknown) => {
      // Two replicas creating one id at once: the second meets the first's primary key.
      const taken =
        mode === 'create' && (await this.db().selectFrom('catalog_runtime_models').select('id').where('id', '=', id).executeTakeFirst());
      if (taken) return false;
      throw err;
    });
  }

  async deleteRuntimeModel(id: string, at = new Date()): Promise<boolean> {
    return this.db()
      .transaction()
      .execute(async (tx) => {
        const result = await tx.deleteFrom('catalog_runtime_models').where('id', '=', id).executeTakeFirst();
        if (Number(result.numDeletedRows) === 0) return false;
        await tx
          .insertInto('catalog_runtime_history')
          .values({ id: randomUUID(), model_id: id, at: await historyTime(tx, id, at.getTime()), definition: '' })
          .execute();
        return true;
      });
  }

  /** Field changes of runtime models: each definition against the one before (a delete clears every field). */
  private async runtimeChanges(modelId: string | undefined): Promise<FieldChange[]> {
    const all = await this.db().selectFrom('catalog_runtime_history').selectAll().orderBy('at').orderBy('id').execute();
    // Runtime models are named in any case (DeleteModel took it so): a deleted one too, which the catalog no longer resolves.
    const rows = modelId === undefined ? all : all.filter((r) => modelNameKey(r.model_id) === modelNameKey(modelId));
    const last = new Map<string, Record<string, unknown>>();
    const changes: FieldChange[] = [];
    for (const row of rows) {
      const before = last.get(row.model_id) ?? {};
      const after = row.definition === '' ? {} : (JSON.parse(row.definition) as Record<string, unknown>);
      const fields = new Set([...Object.keys(before), ...Object.keys(after)]);
      changes.push(...diffFields(row.model_id, 'runtime', [...fields].sort(), before, after, Number(row.at)));
      last.set(row.model_id, after);
    }
    return changes;
  }

  /** The values each source gives now (its newest run's rows). */
  async currentSynced(): Promise<SyncedValues[]> {
    const rows = await this.db().selectFrom('catalog_synced_models').selectAll().where('current', '=', 1).execute();
    return rows.map((r) =>
      extend(JSON.parse(r.values_json) as Values, {
        source: r.source as CatalogSourceName,
        externalId: r.external_id,
        catalogId: r.catalog_id ?? undefined,
        fetchedAt: new Date(Number(r.fetched_at)),
      }),
    );
  }

  /** When any replica last started a run of this source (epoch ms): the scheduler skips a tick another replica already ran. */
  async lastSyncStart(source: string): Promise<number | undefined> {
    const row = await this.db()
      .selectFrom('catalog_sync_runs')
      .select((eb) => eb.fn.max('started_at').as('last'))
      .where('source', '=', source)
      .executeTakeFirst();
    return row?.last === null || row?.last === undefined ? undefined : Number(row.last);
  }

  /**
   * Records a run. A successful one replaces the source's current rows: unchanged values only get a
   * new fetch time, changed ones a new row (the old one stays as history), models the source no
   * longer lists are retired. A failed run is recorded and leaves the current rows as they were.
   */
  async recordSync(report: SyncReport): Promise<string> {
    const runId = randomUUID();
    const at = report.finishedAt.getTime();
    await this.db()
      .transaction()
      .execute(async (tx) => {
        await tx
          .insertInto('catalog_sync_runs')
          .values({
            id: runId,
            source: report.source,
            started_at: report.startedAt.getTime(),
            finished_at: at,
            ok: report.ok ? 1 : 0,
            error: report.error ?? null,
            models: report.models.length,
            matched_count: report.matched.length,
            unmatched_count: report.unmatched.length,
            matched: JSON.stringify(report.matched),
            unmatched: JSON.stringify(report.unmatched),
          })
          .execute();
        if (!report.ok) return;
        const current = await tx
          .selectFrom('catalog_synced_models')
          .selectAll()
          .where('current', '=', 1)
          .where('source', '=', report.source)
          .execute();
        const byExternal = new Map(current.map((r) => [r.external_id, r]));
        const catalogIdOf = new Map(report.matched.map((m) => [m.externalId, m.catalogId]));
        const seen = new Set<string>();
        // Deliberately left out (an override to null): not a model, so not kept as one.
        const ignored = new Set(report.ignored ?? []);
        for (const model of report.models) {
          if (seen.has(model.externalId) || ignored.has(model.externalId)) continue;
          seen.add(model.externalId);
          const values = JSON.stringify(valuesOf(model));
          const catalogId = catalogIdOf.get(model.externalId) ?? null;
          const old = byExternal.get(model.externalId);
          if (old && old.values_json === values && old.catalog_id === catalogId) {
            await tx.updateTable('catalog_synced_models').set({ fetched_at: at, run_id: runId }).where('id', '=', old.id).execute();
            continue;
          }
          if (old) await tx.updateTable('catalog_synced_models').set({ current: 0 }).where('id', '=', old.id).execute();
          await tx
            .insertInto('catalog_synced_models')
            .values({
              id: randomUUID(),
              source: report.source,
              external_id: model.externalId,
              catalog_id: catalogId,
              run_id: runId,
              first_seen_at: at,
              fetched_at: at,
              current: 1,
              values_json: values,
              raw: JSON.stringify(model.raw),
            })
            .execute();
        }
        // A model the source could not read this run keeps its last good values.
        const skipped = new Set((report.skipped ?? []).map((id) => id.toLowerCase()));
        const gone = current.filter((r) => !seen.has(r.external_id) && !skipped.has(r.external_id.toLowerCase())).map((r) => r.id);
        if (gone.length > 0)
          await tx.updateTable('catalog_synced_models').set({ current: 0, fetched_at: at }).where('id', 'in', gone).execute();
      });
    return runId;
  }

  /**
   * Deletes up to `limit` runs started before `cutoff` (one transaction) and answers how many. Kept
   * whatever their age: a run a synced row still names (history reads its finish time to tell a
   * model the source stopped listing from one whose values changed), and the newest run of each
   * source (when it last ran, for the scheduler and whoever reads the table).
   */
  async deleteOldSyncRuns(cutoff: number, limit: number): Promise<number> {
    return this.db()
      .transaction()
      .execute(async (tx) => {
        const ids = await tx
          .selectFrom('catalog_sync_runs as r')
          .select('r.id')
          .where('r.started_at', '<', cutoff)
          .where('r.id', 'not in', tx.selectFrom('catalog_synced_models').select('run_id'))
          .where(({ exists, selectFrom }) =>
            exists(
              selectFrom('catalog_sync_runs as n')
                .select('n.id')
                .whereRef('n.source', '=', 'r.source')
                .whereRef('n.started_at', '>', 'r.started_at'),
            ),
          )
          .limit(limit)
          .execute();
        if (ids.length === 0) return 0;
        const result = await tx
          .deleteFrom('catalog_sync_runs')
          .where(
            'id',
            'in',
            ids.map((r) => r.id),
          )
          .executeTakeFirst();
        return Number(result.numDeletedRows);
      });
  }

  /** Field changes over time, newest first, for one model or all. */
  async history(modelId: string | undefined, field: string | undefined, limit: number): Promise<FieldChange[]> {
    const all = await this.db().selectFrom('catalog_synced_models').select(HISTORY_COLUMNS).orderBy('first_seen_at').execute();
    // Names match as the catalog resolves them (a model it no longer lists reaches here as typed).
    // Compared here, not by SQL lower(): SQLite's folds ASCII only, PostgreSQL's depends on the locale.
    const name = modelId === undefined ? undefined : modelNameKey(modelId);
    const rows =
      name === undefined
        ? all
        : all.filter((r) => modelNameKey(r.external_id) === name || (r.catalog_id !== null && modelNameKey(r.catalog_id) === name));
    const bySeries = new Map<string, HistoryRow[]>();
    for (const row of rows) {
      const key = `${row.source}\u0000${row.external_id}`;
      bySeries.set(key, [...(bySeries.get(key) ?? []), row]);
    }
    const changes: FieldChange[] = await this.runtimeChanges(modelId);
    const stoppedListing = await this.stoppedListing(rows);
    for (const series of bySeries.values()) {
      let before: Record<string, unknown> = {};
      series.forEach((row, i) => {
        const after = JSON.parse(row.values_json) as Record<string, unknown>;
        changes.push(...diff(row, before, after, Number(row.first_seen_at)));
        before = after;
        // Retired without a successor, or retired by a run that no longer listed it (then listed
        // again later): the source stopped listing the model.
        if (Number(row.current) === 0 && (i === series.length - 1 || stoppedListing(row))) {
          changes.push(...diff(row, before, {}, Number(row.fetched_at)));
          before = {};
        }
      });
    }
    return changes
      .filter((c) => field === undefined || c.field === field)
      .sort((a, b) => b.at.getTime() - a.at.getTime())
      .slice(0, limit);
  }

  /**
   * Whether a retired row was retired because a run no longer listed its model, rather than
   * replaced by changed values. A row's fetch time is its last listing run's finish time, except
   * when a run that did not list it retires it: that moves the fetch time past its run's.
   */
  private async stoppedListing(rows: readonly HistoryRow[]): Promise<(row: HistoryRow) => boolean> {
    const runIds = [...new Set(rows.filter((r) => Number(r.current) === 0).map((r) => r.run_id))];
    const finished = new Map<string, number>();
    if (runIds.length > 0) {
      const runs = await this.db().selectFrom('catalog_sync_runs').select(['id', 'finished_at']).where('id', 'in', runIds).execute();
      for (const run of runs) finished.set(run.id, Number(run.finished_at));
    }
    return (row) => {
      const listed = finished.get(row.run_id);
      return listed !== undefined && Number(row.fetched_at) > listed;
    };
  }
}

function valuesOf(model: SourceModel): Values {
  const out: Record<string, unknown> = {};
  for (const field of VALUE_FIELDS) if (model[field] !== undefined) out[field] = model[field];
  return out as Values;
}

function diff(row: HistoryRow, before: Record<string, unknown>, after: Record<string, unknown>, at: number): FieldChange[] {
  return diffFields(row.catalog_id ?? row.external_id, row.source as CatalogSourceName, VALUE_FIELDS, before, after, at);
}

function diffFields(
  modelId: string,
  source: FieldSource,
  fields: readonly string[],
  before: Record<string, unknown>,
  after: Record<string, unknown>,
  at: number,
): FieldChange[] {
  const changes: FieldChange[] = [];
  for (const field of fields) {
    const a = before[field] === undefined ? '' : JSON.stringify(before[field]);
    const b = after[field] === undefined ? '' : JSON.stringify(after[field]);
    if (a !== b) changes.push({ modelId, field, oldValue: a, newValue: b, source, at: new Date(at) });
  }
  return changes;
}
