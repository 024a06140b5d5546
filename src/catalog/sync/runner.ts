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
        models = await source.load(signal ?? new AbortController().signal, notes);
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
