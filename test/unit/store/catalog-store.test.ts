import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SourceModel, SyncReport } from '../../../src/catalog/sync/types.js';
import { CatalogStore } from '../../../src/store/catalog-store.js';
import { connect, migrate, type LedgerDatabase } from '../../../src/store/database.js';
import { SQLITE_MEMORY } from '../../../src/store/url.js';

let database: LedgerDatabase;
let store: CatalogStore;
beforeEach(async () => {
  database = connect({ kind: 'sqlite', file: SQLITE_MEMORY });
  await migrate(database);
  store = new CatalogStore(() => database);
});
afterEach(async () => database.close());

const model = (externalId: string, input: number): SourceModel => ({
  source: 'openrouter',
  externalId,
  inputPricePerMillion: input,
  raw: { id: externalId, pricing: { prompt: String(input / 1e6) } },
});

function report(day: number, models: SourceModel[], ok = true): SyncReport {
  return {
    source: 'openrouter',
    startedAt: new Date(Date.UTC(2026, 10, day, 9)),
    finishedAt: new Date(Date.UTC(2026, 10, day, 10)),
    ok,
    ...(ok ? {} : { error: 'timed out after 10000 ms' }),
    models,
    matched: models
      .filter((m) => m.externalId === 'openai/gpt-4o')
      .map((m) => ({ externalId: m.externalId, catalogId: 'gpt-4o', rule: 'normalised', confidence: 1 })),
    unmatched: models.filter((m) => m.externalId !== 'openai/gpt-4o').map((m) => m.externalId),
  };
}

describe('synced catalog rows', () => {
  it('keep the current values per source, move the fetch time when nothing changed, and keep history', async () => {
    await store.recordSync(report(1, [model('openai/gpt-4o', 2.5), model('x/solo', 1)]));
    await store.recordSync(report(2, [model('openai/gpt-4o', 2.5), model('x/solo', 1.5)]));
    const current = await store.currentSynced();
    expect(current.map((c) => [c.externalId, c.catalogId, c.inputPricePerMillion, c.fetchedAt.getUTCDate()]).sort()).toEqual([
      ['openai/gpt-4o', 'gpt-4o', 2.5, 2],
      ['x/solo', undefined, 1.5, 2],
    ]);
    const history = await store.history(undefined, undefined, 100);
    expect(history.map((c) => [c.modelId, c.oldValue, c.newValue, c.at.getUTCDate()])).toEqual([
      ['x/solo', '1', '1.5', 2],
      ['gpt-4o', '', '2.5', 1],
      ['x/solo', '', '1', 1],
    ]);
    // A catalog id finds its source rows.
    expect((await store.history('gpt-4o', 'inputPricePerMillion', 10)).map((c) => c.newValue)).toEqual(['2.5']);
  });

  it('keep the cached-prompt price a source lists, and its changes in the history', async () => {
    const cached = (price: number): SourceModel => ({ ...model('anthropic/claude-3.5-sonnet', 3), cachedInputPricePerMillion: price });
    await store.recordSync(report(1, [cached(0.3)]));
    expect((await store.currentSynced())[0]).toMatchObject({ inputPricePerMillion: 3, cachedInputPricePerMillion: 0.3 });
    await store.recordSync(report(2, [cached(0.25)]));
    expect((await store.currentSynced())[0]?.cachedInputPricePerMillion).toBe(0.25);
    const history = await store.history('anthropic/claude-3.5-sonnet', 'cachedInputPricePerMillion', 10);
    expect(history.map((c) => [c.oldValue, c.newValue])).toEqual([
      ['0.3', '0.25'],
      ['', '0.3'],
    ]);
  });

  it('keep the cache-write price a source lists, and its changes in the history', async () => {
    const written = (price: number): SourceModel => ({ ...model('anthropic/claude-3.5-sonnet', 3), cacheWritePricePerMillion: price });
    await store.recordSync(report(1, [written(3.75)]));
    expect((await store.currentSynced())[0]).toMatchObject({ inputPricePerMillion: 3, cacheWritePricePerMillion: 3.75 });
    await store.recordSync(report(2, [written(4)]));
    expect((await store.currentSynced())[0]?.cacheWritePricePerMillion).toBe(4);
    const history = await store.history('anthropic/claude-3.5-sonnet', 'cacheWritePricePerMillion', 10);
    expect(history.map((c) => [c.oldValue, c.newValue])).toEqual([
      ['3.75', '4'],
      ['', '3.75'],
    ]);
  });

  it("a source's run stamped before another source's last run (a replica's clock behind) changes the fingerprint", async () => {
    const arena = (day: number, quality: number): SyncReport => ({
      ...report(day, []),
      source: 'arena',
      models: [{ source: 'arena', externalId: 'gpt-4o', quality, raw: { id: 'gpt-4o' } }],
    });
    await store.recordSync(arena(3, 0.8));
    await store.recordSync(report(1, [model('openai/gpt-4o', 2.5), model('x/solo', 1)]));
    let seen = await store.fingerprint();
    // A value changed by a run stamped before arena's.
    await store.recordSync(report(2, [model('openai/gpt-4o', 2.5), model('x/solo', 1.5)]));
    expect(await store.fingerprint()).not.toBe(seen);
    seen = await store.fingerprint();
    // A model retired by such a run.
    await store.recordSync(report(2, [model('openai/gpt-4o', 2.5)]));
    expect(await store.fingerprint()).not.toBe(seen);
  });

  it('a failed run is recorded but changes nothing; a model no longer listed is retired into history', async () => {
    await store.recordSync(report(1, [model('openai/gpt-4o', 2.5), model('x/solo', 1)]));
    const before = await store.currentSynced();
    await store.recordSync(report(2, [], false));
    expect(await store.currentSynced()).toEqual(before);
    const runs = await database.db
      .selectFrom('catalog_sync_runs' as never)
      .select(['ok', 'error'] as never[])
      .orderBy('started_at' as never)
      .execute();
    expect(runs).toEqual([
      { ok: 1, error: null },
      { ok: 0, error: 'timed out after 10000 ms' },
    ]);

    await store.recordSync(report(3, [model('openai/gpt-4o', 2.5)]));
    expect((await store.currentSynced()).map((c) => c.externalId)).toEqual(['openai/gpt-4o']);
    const gone = await store.history('x/solo', undefined, 10);
    expect(gone[0]).toMatchObject({ oldValue: '1', newValue: '' });
    expect(gone[0]?.at.getUTCDate()).toBe(3);
    // A model the catalog no longer resolves (so its name reaches the store as typed) in another case.
    expect(await store.history('X/Solo', undefined, 10)).toEqual(gone);
    expect(await store.history('GPT-4o', 'inputPricePerMillion', 10)).toEqual(await store.history('gpt-4o', 'inputPricePerMillion', 10));
    expect(await store.history('GPT-4o', 'inputPricePerMillion', 10)).toHaveLength(1);
  });
});

describe('runtime model rows', () => {
  it('create refuses an existing id; update and delete report whether the model existed', async () => {
    const at = new Date(Date.UTC(2026, 10, 1));
    const m = { id: 'house', provider: 'openai', aliases: ['h'], fallbacks: [], inputPricePerMillion: 1, createdAt: at, updatedAt: at };
    expect(await store.putRuntimeModel(m, 'create')).toBe(true);
    expect(await store.putRuntimeModel(m, 'create')).toBe(false);
    const print = await store.fingerprint();
    expect(await store.putRuntimeModel({ ...m, inputPricePerMillion: 2, updatedAt: new Date(at.getTime() + 1) }, 'update')).toBe(true);
    expect(await store.fingerprint()).not.toBe(print);
    expect(await store.runtimeModels()).toEqual([{ ...m, inputPricePerMillion: 2, updatedAt: new Date(at.getTime() + 1) }]);
    expect(await store.deleteRuntimeModel('house')).toBe(true);
    expect(await store.deleteRuntimeModel('house')).toBe(false);
    expect(await store.putRuntimeModel(m, 'update')).toBe(false);

    const history = await store.history('house', 'inputPricePerMillion', 10);
    expect(history.map((c) => [c.source, c.oldValue, c.newValue])).toEqual([
      ['runtime', '2', ''],
      ['runtime', '1', '2'],
      ['runtime', '', '1'],
    ]);
  });
});

describe('runtime model history', () => {
  it('keeps the order changes were written in, whatever time each was stamped with', async () => {
    const at = Date.UTC(2026, 10, 1);
    const m = (id: string, price: number, stamp: number) => ({
      id,
      provider: 'openai',
      aliases: [],
      fallbacks: [],
      inputPricePerMillion: price,
      createdAt: new Date(at),
      updatedAt: new Date(stamp),
    });
    // CreateModel then UpdateModel within one millisecond: the history rows share their time.
    const ids = Array.from({ length: 20 }, (_, i) => `same-ms-${i}`);
    for (const id of ids) {
      expect(await store.putRuntimeModel(m(id, 1, at), 'create')).toBe(true);
      expect(await store.putRuntimeModel(m(id, 2, at), 'update')).toBe(true);
    }
    // Two replicas' updates, the later one written by a replica whose clock is behind.
    expect(await store.putRuntimeModel(m('skewed', 1, at), 'create')).toBe(true);
    expect(await store.putRuntimeModel(m('skewed', 2, at + 5_000), 'update')).toBe(true);
    expect(await store.putRuntimeModel(m('skewed', 3, at + 1_000), 'update')).toBe(true);
    expect((await store.runtimeModel('skewed'))?.inputPricePerMillion).toBe(3);

    for (const id of ids) {
      const history = await store.history(id, 'inputPricePerMillion', 10);
      expect(
        history.map((c) => [c.oldValue, c.newValue]),
        id,
      ).toEqual([
        ['1', '2'],
        ['', '1'],
      ]);
    }
    const skewed = await store.history('skewed', 'inputPricePerMillion', 10);
    expect(skewed.map((c) => [c.oldValue, c.newValue])).toEqual([
      ['2', '3'],
      ['1', '2'],
      ['', '1'],
    ]);
  });
});
