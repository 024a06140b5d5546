import { expect } from 'vitest';
import type { SourceModel, SyncReport } from '../../src/catalog/sync/types.js';
import { CatalogStore } from '../../src/store/catalog-store.js';
import type { LedgerDatabase } from '../../src/store/database.js';
import type { RetentionJob } from '../../src/store/retention.js';

const DAY = 86_400_000;

const model = (externalId: string, input: number): SourceModel => ({
  source: 'openrouter',
  externalId,
  inputPricePerMillion: input,
  raw: { id: externalId },
});

function run(now: number, daysAgo: number, models: SourceModel[] | 'failed', source: SyncReport['source'] = 'openrouter'): SyncReport {
  const at = now - daysAgo * DAY;
  const ok = models !== 'failed';
  return {
    source,
    startedAt: new Date(at),
    finishedAt: new Date(at + 60_000),
    ok,
    ...(ok ? {} : { error: 'timed out after 30000 ms' }),
    models: ok ? models : [],
    matched: [],
    unmatched: ok ? models.map((m) => m.externalId) : [],
  };
}

async function runs(database: LedgerDatabase): Promise<string[]> {
  const db = database.db as unknown as import('kysely').Kysely<import('../../src/store/catalog-schema.js').CatalogSchema>;
  const rows = await db.selectFrom('catalog_sync_runs').select(['source', 'started_at', 'ok']).orderBy('started_at').execute();
  return rows.map((r) => `${r.source} ${Math.round((Date.now() - Number(r.started_at)) / DAY)}d ${Number(r.ok) ? 'ok' : 'failed'}`);
}

/**
 * A year of scheduled syncs in small: old failed runs and old runs whose rows changed since, next to
 * runs that model history still names, the newest run of each source and a recent run. The
 * retention job (30 days) removes the old runs nothing needs, in batches, and ListModelHistory
 * reads the same before and after.
 */
export async function checkSyncRunRetention(database: LedgerDatabase, job: (batchSize: number) => RetentionJob): Promise<void> {
  const store = new CatalogStore(() => database);
  const now = Date.now();
  await store.recordSync(run(now, 60, [model('a/one', 1), model('b/two', 1)]));
  // a/one's price changes and b/two is no longer listed: both rows are retired by this run.
  await store.recordSync(run(now, 50, [model('a/one', 2)]));
  for (let d = 45; d > 40; d--) await store.recordSync(run(now, d, 'failed'));
  // b/two is listed again; a/one's current row moves on to this run.
  await store.recordSync(run(now, 40, [model('a/one', 2), model('b/two', 1)]));
  await store.recordSync(run(now, 1, 'failed'));
  await store.recordSync(run(now, 50, 'failed', 'arena'));
  const history = await store.history(undefined, undefined, 1000);
  expect(history.length).toBeGreaterThan(0);
  expect(history.map((c) => `${c.modelId} ${c.oldValue}->${c.newValue}`)).toContain('b/two 1->');

  const [first, second] = await Promise.all([job(2).runOnce(now), job(2).runOnce(now)]);
  expect(await runs(database)).toEqual([
    // Named by retired rows: without its finish time, b/two's "stopped listing" would be lost.
    'openrouter 60d ok',
    // The newest run of a source is kept, however old: it says when the source last ran.
    'arena 50d failed',
    'openrouter 40d ok',
    'openrouter 1d failed',
  ]);
  const removed = [first, second].filter((r) => !r.skipped);
  expect(removed.reduce((n, r) => n + r.syncRuns, 0)).toBe(6);
  expect(await store.history(undefined, undefined, 1000)).toEqual(history);
  expect((await store.currentSynced()).map((s) => `${s.externalId} ${s.inputPricePerMillion}`).sort()).toEqual(['a/one 2', 'b/two 1']);
  // A second run finds nothing more to remove.
  expect((await job(2).runOnce(now)).syncRuns).toBe(0);
}
