import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SourceModel, SyncReport } from '../../src/catalog/sync/types.js';
import { RoutingProfile } from '../../src/gen/orchestrator/v1/common.js';
import { CatalogSource, type ModelInfo } from '../../src/gen/orchestrator/v1/models.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { writeConfigFile } from '../helpers/config-file.js';
import { sha } from '../helpers/access-file.js';
import { callUnary, unaryError } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { ScriptedRunner } from '../helpers/scripted-sync-runner.js';

const MISTRAL = 'mistralai/mistral-large';

function openRouterReport(price: number, at: string): SyncReport {
  const models: SourceModel[] = [
    {
      source: 'openrouter',
      externalId: MISTRAL,
      contextWindow: 128_000,
      inputPricePerMillion: price,
      outputPricePerMillion: price * 3,
      raw: { id: MISTRAL, pricing: { prompt: String(price / 1e6), completion: String((price * 3) / 1e6) } },
    },
    {
      source: 'openrouter',
      externalId: 'openai/gpt-4o-mini',
      inputPricePerMillion: 0.9,
      outputPricePerMillion: 3.6,
      raw: { id: 'openai/gpt-4o-mini' },
    },
  ];
  return {
    source: 'openrouter',
    startedAt: new Date(Date.parse(at) - 1_000),
    finishedAt: new Date(at),
    ok: true,
    models,
    matched: [{ externalId: 'openai/gpt-4o-mini', catalogId: 'gpt-4o-mini', rule: 'normalised', confidence: 1 }],
    unmatched: [MISTRAL],
  };
}

const admin = { metadata: { authorization: 'Bearer root-secret' } };
const user = { metadata: { authorization: 'Bearer user-secret' } };

describe('SyncCatalog: synced prices and quality feed ListModels, cost and routing', () => {
  let openrouter: Simulator;
  let h: Harness;
  const runner = new ScriptedRunner();

  beforeAll(async () => {
    // OpenRouter is played by a second simulator, reached through a provider named "openrouter".
    openrouter = await startSimulator({ latencyScale: 0 });
    const file = writeConfigFile(`access:
  api_keys:
    - { name: root, sha256: ${sha('root-secret')}, scopes: [admin] }
    - { name: user, sha256: ${sha('user-secret')} }
providers:
  - { name: openrouter, kind: openai, base_url: "${openrouter.baseURL}", api_key_env: OPENROUTER_API_KEY }
`);
    h = await startHarness({
      env: { CONFIG_FILE: file, METRICS: 'on' },
      processEnv: { OPENROUTER_API_KEY: 'or-key' },
      startOptions: { catalogSync: runner },
    });
  });
  afterAll(async () => {
    await h?.close();
    await openrouter?.close();
  });

  const sync = (source: CatalogSource, options = admin) =>
    callUnary(h.clients.models.syncCatalog.bind(h.clients.models), { source }, options).then((r) => r.response.reports);
  const model = async (id: string): Promise<ModelInfo | undefined> =>
    (
      await callUnary(h.clients.models.listModels.bind(h.clients.models), { provider: '', availableOnly: false }, user)
    ).response.models.find((m) => m.id === id);
  const chat = async (id: string) => {
    const answer = (await callUnary(h.clients.chat.chat.bind(h.clients.chat), { model: id, prompt: 'price me', messages: [] }, user))
      .response;
    const usage = answer.usage ?? { promptTokens: 0, completionTokens: 0 };
    return { answer, cost: (price: number, output: number) => (usage.promptTokens * price + usage.completionTokens * output) / 1e6 };
  };
  const provenance = (m: ModelInfo | undefined, field: string) => m?.provenance.find((p) => p.field === field);

  it('needs the admin scope', async () => {
    const refused = await unaryError(
      h.clients.models.syncCatalog.bind(h.clients.models),
      { source: CatalogSource.CATALOG_SOURCE_OPENROUTER },
      user,
    );
    expect(refused.code).toBe(grpc.status.PERMISSION_DENIED);
    const create = await unaryError(h.clients.models.createModel.bind(h.clients.models), { model: undefined }, user);
    expect(create.code).toBe(grpc.status.PERMISSION_DENIED);
  });

  it('an applied report makes an OpenRouter-only model callable at its price, while OpenAI keeps its own price', async () => {
    runner.next(openRouterReport(2, '2026-11-01T10:00:00Z'));
    const [report] = await sync(CatalogSource.CATALOG_SOURCE_OPENROUTER);
    expect(report).toMatchObject({ source: CatalogSource.CATALOG_SOURCE_OPENROUTER, ok: true, models: 2, unmatched: [MISTRAL] });
    expect(report?.matched[0]).toMatchObject({ externalId: 'openai/gpt-4o-mini', catalogId: 'gpt-4o-mini', rule: 'normalised' });

    const mistral = await model(MISTRAL);
    expect(mistral).toMatchObject({
      provider: 'openrouter',
      available: true,
      inputPricePerMillion: 2,
      outputPricePerMillion: 6,
      contextWindow: 128_000,
    });
    expect(provenance(mistral, 'input_price_per_million')).toEqual({
      field: 'input_price_per_million',
      source: CatalogSource.CATALOG_SOURCE_OPENROUTER,
      fetchedAt: { seconds: Date.parse('2026-11-01T10:00:00Z') / 1000, nanos: 0 },
    });
    const mini = await model('gpt-4o-mini');
    expect(mini?.inputPricePerMillion).toBe(0.15);
    expect(provenance(mini, 'input_price_per_million')?.source).toBe(CatalogSource.CATALOG_SOURCE_BUILTIN);

    const { answer, cost } = await chat(MISTRAL);
    expect(answer.provider).toBe('openrouter');
    expect(answer.costUsd).toBeCloseTo(cost(2, 6), 12);
    expect(openrouter.requests.at(-1)?.model).toBe(MISTRAL);
  });

  it('a changed price is listed, charged on the next call, and kept in the history', async () => {
    runner.next(openRouterReport(4, '2026-11-02T10:00:00Z'));
    await sync(CatalogSource.CATALOG_SOURCE_OPENROUTER);
    expect((await model(MISTRAL))?.inputPricePerMillion).toBe(4);
    const { answer, cost } = await chat(MISTRAL);
    expect(answer.costUsd).toBeCloseTo(cost(4, 12), 12);

    const history = (
      await callUnary(
        h.clients.models.listModelHistory.bind(h.clients.models),
        { model: MISTRAL, field: 'input_price_per_million', limit: 0 },
        user,
      )
    ).response.changes;
    expect(history.map((c) => [c.oldValue, c.newValue, c.source])).toEqual([
      ['2', '4', CatalogSource.CATALOG_SOURCE_OPENROUTER],
      ['', '2', CatalogSource.CATALOG_SOURCE_OPENROUTER],
    ]);
  });

  it('a failed report is reported, counted and logged, and the last good price stays in use', async () => {
    runner.next({
      ...openRouterReport(8, '2026-11-03T10:00:00Z'),
      ok: false,
      error: 'HTTP 503 from https://openrouter.ai/api/v1/models',
      models: [],
    });
    const [report] = await sync(CatalogSource.CATALOG_SOURCE_OPENROUTER);
    expect(report).toMatchObject({ ok: false, error: 'HTTP 503 from https://openrouter.ai/api/v1/models' });
    const mistral = await model(MISTRAL);
    expect(mistral?.inputPricePerMillion).toBe(4);
    expect(provenance(mistral, 'input_price_per_million')?.fetchedAt?.seconds).toBe(Date.parse('2026-11-02T10:00:00Z') / 1000);
    const { answer, cost } = await chat(MISTRAL);
    expect(answer.costUsd).toBeCloseTo(cost(4, 12), 12);

    const metrics = await (await fetch(h.app.metricsServer?.url ?? '')).text();
    expect(metrics).toContain('llm_orchestrator_catalog_sync_runs_total{source="openrouter",outcome="failed"} 1');
    expect(metrics).toContain('llm_orchestrator_catalog_sync_runs_total{source="openrouter",outcome="ok"} 2');
  });

  it("the Arena's quality is what routing sees; a source without a URL is a failed run in the report", async () => {
    const qualityOfMini = async () =>
      (
        await callUnary(
          h.clients.models.rankModels.bind(h.clients.models),
          { profile: RoutingProfile.ROUTING_PROFILE_QUALITY, prompt: 'hi', candidates: ['gpt-4o-mini', 'gpt-4o'] },
          user,
        )
      ).response.decision?.ranking.find((c) => c.model === 'gpt-4o-mini')?.quality ?? Number.NaN;
    const before = await qualityOfMini();
    runner.next({
      source: 'arena',
      startedAt: new Date(),
      finishedAt: new Date(),
      ok: true,
      models: [{ source: 'arena', externalId: 'GPT-4o-mini-2024-07-18', quality: 0.97, raw: { score: 1290 } }],
      matched: [{ externalId: 'GPT-4o-mini-2024-07-18', catalogId: 'gpt-4o-mini', rule: 'normalised', confidence: 1 }],
      unmatched: [],
    });
    const reports = await sync(CatalogSource.CATALOG_SOURCE_UNSPECIFIED);
    expect(reports.map((r) => [r.source, r.ok])).toEqual([
      [CatalogSource.CATALOG_SOURCE_OPENROUTER, false],
      [CatalogSource.CATALOG_SOURCE_ARENA, true],
      [CatalogSource.CATALOG_SOURCE_HUGGINGFACE, false],
    ]);
    expect(reports[2]?.error).toMatch(/no URL configured/);
    const mini = await model('gpt-4o-mini');
    expect(mini?.quality).toBe(0.97);
    expect(provenance(mini, 'quality')?.source).toBe(CatalogSource.CATALOG_SOURCE_ARENA);
    expect(await qualityOfMini()).toBeGreaterThan(before);
  });
});

describe('ListModelHistory of a model a source stopped listing, then listed again', () => {
  let openrouter: Simulator;
  let h: Harness;
  const runner = new ScriptedRunner();

  beforeAll(async () => {
    openrouter = await startSimulator({ latencyScale: 0 });
    const file = writeConfigFile(`providers:
  - { name: openrouter, kind: openai, base_url: "${openrouter.baseURL}", api_key_env: OPENROUTER_API_KEY }
`);
    h = await startHarness({
      env: { CONFIG_FILE: file },
      processEnv: { OPENROUTER_API_KEY: 'or-key' },
      startOptions: { catalogSync: runner },
    });
  });
  afterAll(async () => {
    await h?.close();
    await openrouter?.close();
  });

  it('shows the model leaving and coming back', async () => {
    const sync = () => callUnary(h.clients.models.syncCatalog.bind(h.clients.models), { source: CatalogSource.CATALOG_SOURCE_OPENROUTER });
    runner.next(openRouterReport(2, '2026-11-01T10:00:00Z'));
    await sync();
    const without = openRouterReport(2, '2026-11-02T10:00:00Z');
    runner.next({ ...without, models: without.models.filter((m) => m.externalId !== MISTRAL), unmatched: [] });
    await sync();
    runner.next(openRouterReport(2, '2026-11-03T10:00:00Z'));
    await sync();
    const history = (
      await callUnary(h.clients.models.listModelHistory.bind(h.clients.models), {
        model: MISTRAL,
        field: 'input_price_per_million',
        limit: 0,
      })
    ).response.changes;
    expect(history.map((c) => [c.oldValue, c.newValue, new Date((c.changedAt?.seconds ?? 0) * 1000).toISOString()])).toEqual([
      ['', '2', '2026-11-03T10:00:00.000Z'],
      ['2', '', '2026-11-02T10:00:00.000Z'],
      ['', '2', '2026-11-01T10:00:00.000Z'],
    ]);
  });
});
