import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CircuitState } from '../../src/gen/orchestrator/v1/common.js';
import { CatalogSource, type ModelInfo, type RuntimeModelSpec } from '../../src/gen/orchestrator/v1/models.js';
import { eventually as eventuallyHolds } from '../helpers/eventually.js';
import { callUnary, unaryError } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { startPostgres, type PostgresProcess } from '../helpers/postgres.js';
import { CatalogStore } from '../../src/store/catalog-store.js';

const POLL_MS = '200';

function spec(overrides: Partial<RuntimeModelSpec> = {}): RuntimeModelSpec {
  return {
    id: 'house-llama',
    provider: 'openai',
    upstreamId: 'gpt-4o-mini',
    aliases: ['hl'],
    contextWindow: 32_000,
    inputPricePerMillion: 1,
    outputPricePerMillion: 2,
    quality: 0.6,
    capabilities: { tools: true, images: false, jsonSchema: false },
    fallbacks: ['gpt-4o-mini'],
    family: '',
    tier: 0,
    ...overrides,
  };
}

const listModels = (h: Harness) => callUnary(h.clients.models.listModels.bind(h.clients.models), { provider: '', availableOnly: false });
const find = async (h: Harness, id: string): Promise<ModelInfo | undefined> =>
  (await listModels(h)).response.models.find((m) => m.id === id);

/** Polls the replica's ListModels until `accept` holds (replicas poll the database every POLL_MS). */
async function eventually(h: Harness, id: string, accept: (m: ModelInfo | undefined) => boolean): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < 10_000) {
    if (accept(await find(h, id))) return Date.now() - started;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`replica did not converge on ${id}`);
}

function runtimeModelsOn(name: string, databaseUrl: () => string) {
  describe(`runtime models on ${name}, shared by two replicas`, () => {
    let a: Harness;
    let b: Harness;
    beforeAll(async () => {
      const env = { DATABASE_URL: databaseUrl(), CATALOG_POLL_MS: POLL_MS };
      a = await startHarness({ env });
      b = await startHarness({ env });
    }, 60_000);
    afterAll(async () => {
      await a?.close();
      await b?.close();
    });

    it('a model created on one replica is listed and callable on the other within seconds', async () => {
      const created = (await callUnary(a.clients.models.createModel.bind(a.clients.models), { model: spec() })).response.model;
      expect(created).toMatchObject({
        id: 'house-llama',
        provider: 'openai',
        contextWindow: 32_000,
        inputPricePerMillion: 1,
        available: true,
      });
      expect(created?.capabilities).toEqual({ tools: true, images: false, jsonSchema: false });
      const origin = (field: string) => created?.provenance.find((p) => p.field === field)?.source;
      expect(origin('input_price_per_million')).toBe(CatalogSource.CATALOG_SOURCE_RUNTIME);
      expect(origin('context_window')).toBe(CatalogSource.CATALOG_SOURCE_RUNTIME);

      const waited = await eventually(b, 'house-llama', (m) => m !== undefined);
      expect(waited).toBeLessThan(5_000);
      const answer = (await callUnary(b.clients.chat.chat.bind(b.clients.chat), { model: 'hl', prompt: 'hello', messages: [] })).response;
      expect(answer.model).toBe('house-llama');
      const usage = answer.usage;
      expect(usage && usage.promptTokens > 0).toBe(true);
      const expected = ((usage?.promptTokens ?? 0) * 1 + (usage?.completionTokens ?? 0) * 2) / 1e6;
      expect(answer.costUsd).toBeCloseTo(expected, 10);
    });

    it('an update on the second replica reaches the first', async () => {
      await callUnary(b.clients.models.updateModel.bind(b.clients.models), {
        model: spec({ inputPricePerMillion: 3, quality: undefined }),
      });
      await eventually(a, 'house-llama', (m) => m?.inputPricePerMillion === 3);
      const m = await find(a, 'house-llama');
      expect(m?.outputPricePerMillion).toBe(2);
      // Left out of the update: cleared, so the documented default applies.
      expect(m?.quality).toBe(0.5);
      const history = (
        await callUnary(a.clients.models.listModelHistory.bind(a.clients.models), {
          model: 'hl',
          field: 'input_price_per_million',
          limit: 0,
        })
      ).response.changes;
      expect(history.map((c) => [c.model, c.oldValue, c.newValue, c.source])).toEqual([
        ['house-llama', '1', '3', CatalogSource.CATALOG_SOURCE_RUNTIME],
        ['house-llama', '', '1', CatalogSource.CATALOG_SOURCE_RUNTIME],
      ]);
    });

    it('refuses bad definitions with the field that is wrong', async () => {
      const create = a.clients.models.createModel.bind(a.clients.models);
      const bad = await unaryError(create, {
        model: spec({ id: 'gpt-4o', provider: 'nope', inputPricePerMillion: -1, aliases: ['4o-mini'], fallbacks: ['nowhere'] }),
      });
      expect(bad.code).toBe(grpc.status.INVALID_ARGUMENT);
      const fields = bad.decoded.badRequest?.fieldViolations.map((v) => v.field);
      expect(fields).toEqual(
        expect.arrayContaining(['model.id', 'model.provider', 'model.input_price_per_million', 'model.aliases[0]', 'model.fallbacks[0]']),
      );
      // Well-formed but named as a model that exists: ALREADY_EXISTS, the name and its field named.
      const duplicate = await unaryError(create, { model: spec({ aliases: [] }) });
      expect(duplicate.code).toBe(grpc.status.ALREADY_EXISTS);
      expect(duplicate.decoded.errorInfo?.reason).toBe('MODEL_EXISTS');
      expect(duplicate.decoded.errorInfo?.metadata).toMatchObject({ model: 'house-llama', field: 'model.id' });
      expect(duplicate.decoded.badRequest?.fieldViolations.map((v) => v.field)).toEqual(['model.id']);
      const builtinAlias = await unaryError(create, { model: spec({ id: 'house-other', aliases: ['4o-mini'] }) });
      expect(builtinAlias.code).toBe(grpc.status.ALREADY_EXISTS);
      expect(builtinAlias.details).toMatch(/^model\.aliases\[0\]: "4o-mini" is already the name of the built-in or config-file model/);
      const aliasTaken = await unaryError(a.clients.models.updateModel.bind(a.clients.models), { model: spec({ aliases: ['4o-mini'] }) });
      expect(aliasTaken.code).toBe(grpc.status.ALREADY_EXISTS);
      expect(aliasTaken.decoded.errorInfo?.metadata).toMatchObject({ model: '4o-mini', field: 'model.aliases[0]' });
      const builtin = await unaryError(a.clients.models.updateModel.bind(a.clients.models), { model: spec({ id: 'gpt-4o' }) });
      expect(builtin.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(builtin.details).toMatch(/built-in or config-file model/);
      const missing = await unaryError(a.clients.models.deleteModel.bind(a.clients.models), { id: 'never-made' });
      expect(missing.code).toBe(grpc.status.NOT_FOUND);
    });

    it('two replicas creating one id at once: one creates it, the other is told the name is taken', async () => {
      const both = await Promise.allSettled(
        [a, b].map((h) => callUnary(h.clients.models.createModel.bind(h.clients.models), { model: spec({ id: 'twin', aliases: [] }) })),
      );
      expect(both.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const refused = both.find((r) => r.status === 'rejected');
      expect((refused as PromiseRejectedResult).reason.code).toBe(grpc.status.ALREADY_EXISTS);
      await callUnary(a.clients.models.deleteModel.bind(a.clients.models), { id: 'twin' });
    });

    it("an update written with an earlier clock than the last change (another replica's clock, or a write that committed late) reaches the other replica", async () => {
      const models = (h: Harness) => h.clients.models;
      await callUnary(models(a).createModel.bind(models(a)), { model: spec({ id: 'clock-slow', aliases: [], fallbacks: [] }) });
      await callUnary(models(a).createModel.bind(models(a)), { model: spec({ id: 'clock-fast', aliases: [], fallbacks: [] }) });
      await callUnary(models(b).updateModel.bind(models(b)), {
        model: spec({ id: 'clock-fast', aliases: [], fallbacks: [], inputPricePerMillion: 4 }),
      });
      await eventually(a, 'clock-fast', (m) => m?.inputPricePerMillion === 4);
      // Replica a's clock a minute behind b's: its change is stamped before b's last one.
      vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
      vi.setSystemTime(Date.now() - 60_000);
      try {
        await callUnary(models(a).updateModel.bind(models(a)), {
          model: spec({ id: 'clock-slow', aliases: [], fallbacks: [], inputPricePerMillion: 7 }),
        });
      } finally {
        vi.useRealTimers();
      }
      expect((await find(a, 'clock-slow'))?.inputPricePerMillion).toBe(7);
      await eventually(b, 'clock-slow', (m) => m?.inputPricePerMillion === 7);
      for (const id of ['clock-slow', 'clock-fast']) await callUnary(models(a).deleteModel.bind(models(a)), { id });
    });

    it('a model deleted on one replica is gone from the other', async () => {
      await callUnary(a.clients.models.deleteModel.bind(a.clients.models), { id: 'house-llama' });
      expect(await find(a, 'house-llama')).toBeUndefined();
      await eventually(b, 'house-llama', (m) => m === undefined);
      const refused = await unaryError(b.clients.chat.chat.bind(b.clients.chat), { model: 'hl', prompt: 'hello', messages: [] });
      expect(refused.code).toBe(grpc.status.NOT_FOUND);
    });
  });
}

runtimeModelsOn('SQLite', () => `sqlite:${join(mkdtempSync(join(tmpdir(), 'llmo-catalog-')), 'ledger.db')}`);

let pg: PostgresProcess | undefined;
beforeAll(async () => {
  pg = await startPostgres();
}, 90_000);
afterAll(async () => pg?.destroy());
runtimeModelsOn('PostgreSQL', () => (pg as PostgresProcess).url);

describe('runtime models without a database', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { DATABASE_URL: 'off' } });
  });
  afterAll(async () => h?.close());

  it('CreateModel is refused with FAILED_PRECONDITION saying the database is off', async () => {
    const err = await unaryError(h.clients.models.createModel.bind(h.clients.models), { model: spec() });
    expect(err.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(err.details).toMatch(/DATABASE_URL=off/);
  });

  it('SyncCatalog without a configured source is refused with FAILED_PRECONDITION naming the setting', async () => {
    const err = await unaryError(h.clients.models.syncCatalog.bind(h.clients.models), { source: CatalogSource.CATALOG_SOURCE_UNSPECIFIED });
    expect(err.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(err.details).toMatch(/catalog\.sync\.<source>\.url/);
  });
});

describe('DEFAULT_MODEL naming a runtime model', () => {
  const databaseUrl = `sqlite:${join(mkdtempSync(join(tmpdir(), 'llmo-default-')), 'ledger.db')}`;
  let h: Harness | undefined;
  afterAll(async () => h?.close());

  it('starts once the model is in the database and answers a call with no model from it', async () => {
    const first = await startHarness({ env: { DATABASE_URL: databaseUrl } });
    try {
      await callUnary(first.clients.models.createModel.bind(first.clients.models), { model: spec({ id: 'house-default', aliases: [] }) });
    } finally {
      await first.close();
    }
    h = await startHarness({ env: { DATABASE_URL: databaseUrl, DEFAULT_MODEL: 'house-default' } });
    const answer = (await callUnary(h.clients.chat.chat.bind(h.clients.chat), { model: '', prompt: 'hello', messages: [] })).response;
    expect(answer.model).toBe('house-default');
  });

  it('a call with no model, once that model is deleted, is told DEFAULT_MODEL names a model the catalog no longer has', async () => {
    if (!h) throw new Error('the gateway did not start');
    await callUnary(h.clients.models.deleteModel.bind(h.clients.models), { id: 'house-default' });
    const refused = await unaryError(h.clients.chat.chat.bind(h.clients.chat), { model: '', prompt: 'hello', messages: [] });
    expect(refused.code).toBe(grpc.status.NOT_FOUND);
    expect(refused.details).toMatch(/DEFAULT_MODEL "house-default" is not in the catalog any more/);
    const chain = await unaryError(h.clients.chat.fallback.bind(h.clients.chat), {
      model: '',
      prompt: 'hello',
      messages: [],
      models: [],
      disableDefaultMessage: false,
    });
    expect(chain.code).toBe(grpc.status.NOT_FOUND);
    expect(chain.details).toMatch(/DEFAULT_MODEL "house-default" is not in the catalog any more/);
  });
});

describe('runtime models created and deleted over time', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { BREAKER_CONSECUTIVE_FAILURES: '2', BREAKER_HALF_OPEN_AFTER_MS: '60000' } });
  });
  afterAll(async () => h?.close());

  const create = (id: string, upstreamId = 'gpt-4o-mini') =>
    callUnary(h.clients.models.createModel.bind(h.clients.models), { model: spec({ id, upstreamId, aliases: [], fallbacks: [] }) });
  const remove = (id: string) => callUnary(h.clients.models.deleteModel.bind(h.clients.models), { id });
  const chat = (model: string) => callUnary(h.clients.chat.chat.bind(h.clients.chat), { model, prompt: 'hello', messages: [] });

  it('refuses a runtime model named as an embedding model, which ListModels and GET /v1/models list under that name', async () => {
    const taken = await unaryError(h.clients.models.createModel.bind(h.clients.models), {
      model: spec({ id: 'text-embedding-3-small', aliases: ['text-embedding-3-large'], fallbacks: [] }),
    });
    expect(taken.code).toBe(grpc.status.ALREADY_EXISTS);
    expect(taken.decoded.badRequest?.fieldViolations.map((v) => v.field)).toEqual(['model.id', 'model.aliases[0]']);
    expect(taken.details).toMatch(/embedding model "text-embedding-3-small"/);
    const ids = (
      await callUnary(h.clients.models.listModels.bind(h.clients.models), { provider: '', availableOnly: false })
    ).response.models.map((m) => m.id);
    expect(ids.filter((id) => id === 'text-embedding-3-small')).toHaveLength(1);
  });

  it('refuses a fallback to an embedding model, saying it is one, where ListModels would show it listed', async () => {
    const err = await unaryError(h.clients.models.createModel.bind(h.clients.models), {
      model: spec({ id: 'falls-to-vectors', aliases: [], fallbacks: ['gpt-4o-mini', 'Text-Embedding-3-Small'] }),
    });
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.decoded.badRequest?.fieldViolations.map((v) => v.field)).toEqual(['model.fallbacks[1]']);
    expect(err.details).toContain('text-embedding-3-small is an embedding model');
    expect(err.details).not.toContain('ListModels');
  });

  it('UpdateModel giving a model an alias or id another runtime model answers to is ALREADY_EXISTS (MODEL_EXISTS), and the model keeps its names', async () => {
    await callUnary(h.clients.models.createModel.bind(h.clients.models), {
      model: spec({ id: 'owner-model', aliases: ['owner-alias'], fallbacks: [] }),
    });
    await callUnary(h.clients.models.createModel.bind(h.clients.models), {
      model: spec({ id: 'renamed-model', aliases: ['own-alias'], fallbacks: [] }),
    });
    const update = h.clients.models.updateModel.bind(h.clients.models);
    const taken = await unaryError(update, {
      model: spec({ id: 'renamed-model', aliases: ['own-alias', 'Owner-Alias', 'owner-model'], fallbacks: [] }),
    });
    expect(taken.code).toBe(grpc.status.ALREADY_EXISTS);
    expect(taken.decoded.errorInfo?.reason).toBe('MODEL_EXISTS');
    expect(taken.decoded.errorInfo?.metadata).toMatchObject({ model: 'Owner-Alias', field: 'model.aliases[1]' });
    expect(taken.decoded.badRequest?.fieldViolations.map((v) => v.field)).toEqual(['model.aliases[1]', 'model.aliases[2]']);
    expect(taken.details).toMatch(
      /^model\.aliases\[1\]: "Owner-Alias" is already the name of the runtime model "owner-model" \(and 1 more\)$/,
    );
    expect((await find(h, 'renamed-model'))?.aliases).toEqual(['own-alias']);
    expect((await chat('owner-alias')).response.model).toBe('owner-model');
    await remove('renamed-model');
    await remove('owner-model');
  });

  it('UpdateModel and DeleteModel naming a runtime model by its alias are INVALID_ARGUMENT naming its id, and the model stays', async () => {
    await callUnary(h.clients.models.createModel.bind(h.clients.models), {
      model: spec({ id: 'aliased-model', aliases: ['aliased-short'], fallbacks: [] }),
    });
    const updated = await unaryError(h.clients.models.updateModel.bind(h.clients.models), {
      model: spec({ id: 'Aliased-Short', aliases: [], fallbacks: [] }),
    });
    expect(updated.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(updated.decoded.badRequest?.fieldViolations).toMatchObject([
      { field: 'model.id', description: '"Aliased-Short" is an alias of the runtime model "aliased-model": name the model by its id' },
    ]);
    const deleted = await unaryError(h.clients.models.deleteModel.bind(h.clients.models), { id: 'aliased-short' });
    expect(deleted.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(deleted.decoded.badRequest?.fieldViolations.map((v) => v.field)).toEqual(['id']);
    expect((await find(h, 'aliased-model'))?.aliases).toEqual(['aliased-short']);
    await remove('aliased-model');
  });

  it('UpdateModel and DeleteModel naming a built-in model by its alias are INVALID_ARGUMENT, as by its id, not NOT_FOUND', async () => {
    const updated = await unaryError(h.clients.models.updateModel.bind(h.clients.models), {
      model: spec({ id: '4O-Mini', aliases: [], fallbacks: [] }),
    });
    expect(updated.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(updated.decoded.badRequest?.fieldViolations).toMatchObject([
      { field: 'model.id', description: '"gpt-4o-mini" is a built-in or config-file model; only runtime models can be changed at runtime' },
    ]);
    const deleted = await unaryError(h.clients.models.deleteModel.bind(h.clients.models), { id: '4o-mini' });
    expect(deleted.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(deleted.decoded.badRequest?.fieldViolations.map((v) => v.field)).toEqual(['id']);
    expect(deleted.details).toMatch(/"gpt-4o-mini" is a built-in or config-file model/);
  });

  it('UpdateModel and DeleteModel of an id no model has are NOT_FOUND (MODEL_NOT_FOUND) naming the model and the field, as every unknown model is', async () => {
    const updated = await unaryError(h.clients.models.updateModel.bind(h.clients.models), {
      model: spec({ id: 'never-made', aliases: [], fallbacks: [] }),
    });
    expect(updated.code).toBe(grpc.status.NOT_FOUND);
    expect(updated.decoded.errorInfo?.reason).toBe('MODEL_NOT_FOUND');
    expect(updated.decoded.errorInfo?.metadata).toEqual({ model: 'never-made', field: 'model.id' });
    const deleted = await unaryError(h.clients.models.deleteModel.bind(h.clients.models), { id: 'never-made' });
    expect(deleted.code).toBe(grpc.status.NOT_FOUND);
    expect(deleted.decoded.errorInfo?.metadata).toEqual({ model: 'never-made', field: 'id' });
  });

  it('UpdateModel of a model another replica deletes before the update is written is NOT_FOUND, not an internal error', async () => {
    await create('churn-gone');
    const put = CatalogStore.prototype.putRuntimeModel;
    // Another replica's DeleteModel commits between this replica's read and its write.
    const raced = vi.spyOn(CatalogStore.prototype, 'putRuntimeModel').mockImplementationOnce(async function (
      this: CatalogStore,
      ...args: Parameters<CatalogStore['putRuntimeModel']>
    ) {
      await this.deleteRuntimeModel(args[0].id);
      return put.apply(this, args);
    });
    try {
      const refused = await unaryError(h.clients.models.updateModel.bind(h.clients.models), {
        model: spec({ id: 'churn-gone', aliases: [], fallbacks: [], inputPricePerMillion: 9 }),
      });
      expect(refused.code).toBe(grpc.status.NOT_FOUND);
      expect(refused.decoded.errorInfo).toMatchObject({ reason: 'MODEL_NOT_FOUND', metadata: { model: 'churn-gone', field: 'model.id' } });
    } finally {
      raced.mockRestore();
    }
    // This replica serves the deletion at once, not only after its next poll.
    expect(await find(h, 'churn-gone')).toBeUndefined();
  });

  it('a deleted model leaves GetStats and /metrics, while its calls stay in the totals', async () => {
    const ids = Array.from({ length: 20 }, (_, i) => `churn-${i}`);
    for (const id of ids) {
      await create(id);
      await chat(id);
      await remove(id);
    }
    const stats = (await callUnary(h.clients.stats.getStats.bind(h.clients.stats), {})).response;
    expect(stats.models.map((m) => m.name).filter((n) => n.startsWith('churn-'))).toEqual([]);
    // "Since start": the calls the deleted models answered are still counted.
    expect(stats.providers.find((p) => p.name === 'openai')?.requests).toBeGreaterThanOrEqual(ids.length);
    expect(stats.completionTokens).toBeGreaterThan(0);
    const metrics = await (await fetch(h.app.metricsServer?.url ?? '')).text();
    expect(metrics.split('\n').filter((line) => line.includes('model="churn-'))).toEqual([]);
    const listed = (await (await fetch(`${h.app.http?.url}/v1/models`)).json()) as { data: { id: string }[] };
    expect(listed.data.map((m) => m.id).filter((id) => id.startsWith('churn-'))).toEqual([]);
    expect((await fetch(`${h.app.http?.url}/v1/models/churn-0`)).status).toBe(404);
  });

  it('a call still running when its model is deleted does not bring the model back into GetStats and /metrics when it ends', async () => {
    await create('churn-busy', 'churn-busy-up');
    h.upstream.injectFault({ kind: 'delay', delayMs: 1_500, model: 'churn-busy-up' });
    try {
      const running = chat('churn-busy');
      await eventuallyHolds(
        async () => h.upstream.requests.some((r) => r.model === 'churn-busy-up'),
        (sent) => sent,
        5_000,
      );
      await remove('churn-busy');
      expect((await running).response.model).toBe('churn-busy');
    } finally {
      h.upstream.clearFaults();
    }
    const stats = (await callUnary(h.clients.stats.getStats.bind(h.clients.stats), {})).response;
    expect(stats.models.map((m) => m.name)).not.toContain('churn-busy');
    const metrics = await (await fetch(h.app.metricsServer?.url ?? '')).text();
    expect(metrics.split('\n').filter((line) => line.includes('model="churn-busy"'))).toEqual([]);
  });

  it('UpdateModel pointing a model with an open breaker at another upstream model gives it a closed breaker: the next call goes out', async () => {
    await create('churn-fixed', 'churn-fixed-wrong');
    h.upstream.injectFault({ kind: 'http_error', status: 503, model: 'churn-fixed-wrong' });
    try {
      for (let i = 0; i < 2; i++)
        await unaryError(h.clients.chat.chat.bind(h.clients.chat), { model: 'churn-fixed', prompt: 'hello', messages: [] });
      expect((await find(h, 'churn-fixed'))?.breakerState).toBe(CircuitState.CIRCUIT_STATE_OPEN);
    } finally {
      h.upstream.clearFaults();
    }
    await callUnary(h.clients.models.updateModel.bind(h.clients.models), {
      model: spec({ id: 'churn-fixed', upstreamId: 'gpt-4o-mini', aliases: [], fallbacks: [] }),
    });
    expect((await find(h, 'churn-fixed'))?.breakerState).toBe(CircuitState.CIRCUIT_STATE_CLOSED);
    expect((await chat('churn-fixed')).response.model).toBe('churn-fixed');
    await remove('churn-fixed');
  });

  it('a call in flight when UpdateModel changes the prices is charged the prices it started with; the next call the new ones', async () => {
    await create('churn-price', 'churn-price-up');
    h.upstream.injectFault({ kind: 'delay', delayMs: 1_000, model: 'churn-price-up', times: 1 });
    const running = chat('churn-price');
    await eventuallyHolds(
      async () => h.upstream.requests.some((r) => r.model === 'churn-price-up'),
      (sent) => sent,
      5_000,
    );
    await callUnary(h.clients.models.updateModel.bind(h.clients.models), {
      model: spec({
        id: 'churn-price',
        upstreamId: 'churn-price-up',
        aliases: [],
        fallbacks: [],
        inputPricePerMillion: 100,
        outputPricePerMillion: 200,
      }),
    });
    const priced = (
      answer: { costUsd: number; usage?: { promptTokens: number; completionTokens: number } | undefined },
      input: number,
      output: number,
    ) => ((answer.usage?.promptTokens ?? 0) * input + (answer.usage?.completionTokens ?? 0) * output) / 1e6;
    const old = (await running).response;
    expect(old.costUsd).toBeCloseTo(priced(old, 1, 2), 10);
    const next = (await chat('churn-price')).response;
    expect(next.costUsd).toBeCloseTo(priced(next, 100, 200), 10);
    await remove('churn-price');
  });

  it('ListModelHistory of a deleted model names it in any case, as DeleteModel did', async () => {
    await create('Churn-Hist');
    await callUnary(h.clients.models.deleteModel.bind(h.clients.models), { id: 'churn-hist' });
    const changes = (
      await callUnary(h.clients.models.listModelHistory.bind(h.clients.models), { model: 'churn-hist', field: 'provider', limit: 0 })
    ).response.changes;
    expect(changes.map((c) => [c.model, c.oldValue, c.newValue])).toEqual([
      ['Churn-Hist', '"openai"', ''],
      ['Churn-Hist', '', '"openai"'],
    ]);
  });

  it('a deterministic call after UpdateModel points the model at another upstream model is answered by that one, not from the cache', async () => {
    await create('churn-cached', 'gpt-4o-mini');
    const ask = async () =>
      (
        await callUnary(h.clients.chat.chat.bind(h.clients.chat), {
          model: 'churn-cached',
          prompt: 'same question',
          messages: [],
          temperature: 0,
        })
      ).response;
    const before = await ask();
    expect((await ask()).cache?.hit).toBe(true);
    await callUnary(h.clients.models.updateModel.bind(h.clients.models), {
      model: spec({ id: 'churn-cached', upstreamId: 'gpt-4o', aliases: [], fallbacks: [] }),
    });
    const sent = h.upstream.requests.length;
    const after = await ask();
    expect(after.cache?.hit).toBe(false);
    expect(h.upstream.requests.slice(sent).map((r) => r.model)).toEqual(['gpt-4o']);
    expect(after.content).not.toBe(before.content);
    await remove('churn-cached');
  });

  it("a model created again under a deleted name starts with a closed breaker, not the deleted one's open breaker", async () => {
    await create('churn-again', 'churn-again-up');
    h.upstream.injectFault({ kind: 'http_error', status: 503, model: 'churn-again-up' });
    try {
      for (let i = 0; i < 2; i++)
        await unaryError(h.clients.chat.chat.bind(h.clients.chat), { model: 'churn-again', prompt: 'hello', messages: [] });
      expect((await find(h, 'churn-again'))?.breakerState).toBe(CircuitState.CIRCUIT_STATE_OPEN);
    } finally {
      h.upstream.clearFaults();
    }
    await remove('churn-again');
    await create('churn-again', 'churn-again-up');
    expect((await find(h, 'churn-again'))?.breakerState).toBe(CircuitState.CIRCUIT_STATE_CLOSED);
    expect((await chat('churn-again')).response.model).toBe('churn-again');
  });
});
