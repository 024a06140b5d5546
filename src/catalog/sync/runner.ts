import { SyncError, reasonOf } from './errors.js';
import { type KnownModel, resolveNames } from './resolve.js';
import type { CatalogSource, CatalogSourceName, SourceModel, SyncReport, SyncRunner } from './types.js';

export interface SyncRunnerOptions {
  readonly sources: readonly CatalogSource[];
  /** The names the catalog knows now (ids, aliases, upstream ids) for a run of `source`: read at every run. */
  readonly known: (source: CatalogSourceName) => readonly KnownModel[];
  readonly overrides?: Readonly<Record<string, string | null>>;
  readonly fuzzyThreshold?: number;
  /** Injected for tests. */
  readonly now?: () => Date;
}

/**
 * Loads one source, resolves its names and reports. Never throws: a failure is a report with
 * `ok: false` and the reason, so the catalog keeps its last good data and shows why.
 */
export function createSyncRunner(options: SyncRunnerOptions): SyncRunner {
  const sources = new Map(options.sources.map((s) => [s.name, s]));
  const now = options.now ?? (() => new Date());
  return {
    sources: [...sources.keys()],
    async run(name: CatalogSourceName, signal?: AbortSignal): Promise<SyncReport> {
      const startedAt = now();
      const warnings: string[] = [];
      const skipped: string[] = [];
      const notes = {
        warn: (m: string) => warnings.push(m),
        skip: (id: string, m: string) => {
          skipped.push(id);
          warnings.push(m);
        },
      };
      const failed = (err: unknown): SyncReport => ({
        source: name,
        startedAt,
        finishedAt: now(),
        ok: false,
        error: reasonOf(err),
        ...(err instanceof SyncError && err.retryAfterMs !== undefined ? { retryAfterMs: err.retryAfterMs } : {}),
        models: [],
        matched: [],
        unmatched: [],
        ...(warnings.length ? { warnings } : {}),
      });
      const source = sources.get(name);
      if (!source) return failed(new SyncError('not_configured', `catalog source ${name} is not configured`));
      let models: readonly SourceModel[];
      try {
        models = distinct(await source.load(signal ?? new AbortController().signal, notes), notes.warn);
      } catch (err) {
        return failed(err);
      }
      try {
        const resolution = resolveNames(
          models.map((m) => m.externalId),
          {
            known: options.known(name),
            ...(options.overrides ? { overrides: options.overrides } : {}),
            ...(options.fuzzyThreshold !== undefined ? { fuzzyThreshold: options.fuzzyThreshold } : {}),
          },
        );
        return {
          source: name,
          startedAt,
          finishedAt: now(),
          ok: true,
          models,
          matched: resolution.matched,
          unmatched: resolution.unmatched,
          ignored: resolution.ignored,
          superseded: resolution.superseded,
          ...(warnings.length ? { warnings } : {}),
          ...(skipped.length ? { skipped } : {}),
        };
      } catch (err) {
        return failed(err);
      }
    },
  };
}

/**
 * One model per name. A source that lists a name twice would be counted twice and applied twice:
 * the database keeps the first entry, a gateway without one the last. The first is kept, and the
 * name is warned about once per run.
 */
function distinct(models: readonly SourceModel[], warn: (message: string) => void): readonly SourceModel[] {
  const times = new Map<string, number>();
  const kept: SourceModel[] = [];
  for (const model of models) {
    const seen = times.get(model.externalId) ?? 0;
    times.set(model.externalId, seen + 1);
    if (seen === 0) kept.push(model);
  }
  for (const [name, n] of times) if (n > 1) warn(`${name} is listed ${n} times: the first entry is used`);
  return kept;
}
