import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, startApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { CatalogSource, type ModelInfo } from '../../src/gen/orchestrator/v1/models.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { sha } from '../helpers/access-file.js';
import { writeConfigFile } from '../helpers/config-file.js';
import { callUnary, type Clients, clientsFor } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { type SourceServer, startSourceServer } from '../helpers/source-server.js';

/**
 * The server as an air-gapped install runs it: the sources configured in the config file with
 * file: URLs, SyncCatalog fetching them through the real adapters, name resolution and the live catalog.
 */
const fixture = (name: string) => pathToFileURL(resolve('test/fixtures/catalog-sync', name)).href;
const admin = { metadata: { authorization: 'Bearer root-secret' } };

describe('SyncCatalog with the configured sources', () => {
  let openrouter: Simulator;
  let h: Harness;

  beforeAll(async () => {
    openrouter = await startSimulator({ latencyScale: 0 });
    const file = writeConfigFile(`access:
  api_keys:
    - { name: root, sha256: ${sha('root-secret')}, scopes: [admin] }
providers:
  - { name: openrouter, kind: openai, base_url: "${openrouter.baseURL}", api_key_env: OPENROUTER_API_KEY }
catalog:
  sync:
    openrouter: { url: "${fixture('openrouter-models.json')}" }
    arena: { url: "${fixture('arena-leaderboard.csv')}", min_votes: 0 }
`);
    h = await startHarness({ env: { CONFIG_FILE: file }, processEnv: { OPENROUTER_API_KEY: 'or-key' } });
  });
  afterAll(async () => {
    await h?.close();
    await openrouter?.close();
  });

  const sync = async (source: CatalogSource) =>
    (await callUnary(h.clients.models.syncCatalog.bind(h.clients.models), { source }, admin)).response.reports;
  const models = async (): Promise<ModelInfo[]> =>
    (await callUnary(h.clients.models.listModels.bind(h.clients.models), { provider: '', availableOnly: false }, admin)).response.models;

  it('OpenRouter from a file: its names resolve to catalog ids, and models only it lists become callable', async () => {
    const [report] = await sync(CatalogSource.CATALOG_SOURCE_OPENROUTER);
    expect(report?.ok).toBe(true);
    expect(report?.models).toBeGreaterThanOrEqual(5);
    const matched = Object.fromEntries((report?.matched ?? []).map((m) => [m.externalId, m.catalogId]));
    expect(matched['openai/gpt-4o']).toBe('gpt-4o');
    expect(matched['openai/gpt-4o-mini']).toBe('gpt-4o-mini');
    const llama = (await models()).find((m) => m.id === 'meta-llama/llama-3.3-70b-instruct');
    expect(llama).toMatchObject({ provider: 'openrouter', available: true });
    const answer = await callUnary(
      h.clients.chat.chat.bind(h.clients.chat),
      { model: 'meta-llama/llama-3.3-70b-instruct', prompt: 'hello', messages: [] },
      admin,
    );
    expect(answer.response.provider).toBe('openrouter');
    expect(answer.response.costUsd).toBeGreaterThan(0);
  });

  it('a model only OpenRouter lists stays through the next run: its own name is not matched to itself', async () => {
    const id = 'meta-llama/llama-3.3-70b-instruct';
    expect((await models()).some((m) => m.id === id)).toBe(true);
    const [again] = await sync(CatalogSource.CATALOG_SOURCE_OPENROUTER);
    expect(again?.ok).toBe(true);
    expect(again?.unmatched).toContain(id);
    expect(again?.matched.map((m) => m.catalogId)).not.toContain(id);
    expect((await models()).find((m) => m.id === id)).toMatchObject({ provider: 'openrouter', available: true });
  });

  it('the Arena leaderboard from a file sets quality, marked as coming from the Arena', async () => {
    const [report] = await sync(CatalogSource.CATALOG_SOURCE_ARENA);
    expect(report?.ok).toBe(true);
    expect(report?.matched).toContainEqual(expect.objectContaining({ externalId: 'GPT-4.1-2025-04-14', catalogId: 'gpt-4.1' }));
    const gpt41 = (await models()).find((m) => m.id === 'gpt-4.1');
    expect(gpt41?.quality).toBeGreaterThan(0.5);
    expect(gpt41?.provenance.find((p) => p.field === 'quality')?.source).toBe(CatalogSource.CATALOG_SOURCE_ARENA);
  });
});

describe('a Hugging Face model that is gone from the Hub', () => {
  let app: App;
  let clients: Clients;
  const logs: Record<string, unknown>[] = [];

  beforeAll(async () => {
    const file = writeConfigFile(`catalog:
  sync:
    huggingface:
      url: "${fixture('hf')}"
      models: [meta-llama/Llama-3.1-8B-Instruct, meta-llama/No-Such-Model]
`);
    const config = loadConfig({
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
      SIMULATOR: 'on',
      METRICS: 'off',
      HTTP_PORT: '0',
      SIMULATOR_PORT: '0',
      DATABASE_URL: 'sqlite::memory:',
      CONFIG_FILE: file,
    });
    const log = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
    app = await startApp(config, log, {});
    clients = clientsFor(app.port);
  });
  afterAll(async () => {
    clients?.close();
    await app?.stop(200);
  });

  it('is skipped, the run still succeeds, and the log of the run names the skipped model', async () => {
    const { reports } = (
      await callUnary(clients.models.syncCatalog.bind(clients.models), { source: CatalogSource.CATALOG_SOURCE_HUGGINGFACE })
    ).response;
    expect(reports[0]).toMatchObject({ ok: true, models: 1 });
    const applied = logs.find((l) => l.msg === 'catalog sync applied' && l.source === 'huggingface');
    expect(applied?.level).toBe(40);
    expect(applied?.warnings).toEqual([expect.stringContaining('meta-llama/No-Such-Model skipped')]);
  });
});

describe('SyncCatalog naming no source, with a config file that names only the Arena', () => {
  let h: Harness;
  beforeAll(async () => {
    const file = writeConfigFile(`catalog:
  sync:
    arena: { url: "${fixture('arena-leaderboard.csv')}" }
`);
    h = await startHarness({ env: { CONFIG_FILE: file } });
  });
  afterAll(async () => h?.close());

  const syncRuns = async () =>
    (await (await fetch(h.app.metricsServer?.url ?? '')).text())
      .split('\n')
      .filter((l) => l.startsWith('llm_orchestrator_catalog_sync_runs_total{'));

  it('runs the Arena alone: the sources the file does not set up are neither run nor counted as failed runs', async () => {
    const { reports } = (
      await callUnary(h.clients.models.syncCatalog.bind(h.clients.models), { source: CatalogSource.CATALOG_SOURCE_UNSPECIFIED })
    ).response;
    expect(reports.map((r) => [r.source, r.ok, r.error])).toEqual([[CatalogSource.CATALOG_SOURCE_ARENA, true, '']]);
    expect(await syncRuns()).toEqual([
      expect.stringMatching(/^llm_orchestrator_catalog_sync_runs_total\{source="arena",outcome="ok"\} 1$/),
    ]);
  });

  it('answers a source named but not set up with a failed report, and records no run of it', async () => {
    const { reports } = (
      await callUnary(h.clients.models.syncCatalog.bind(h.clients.models), { source: CatalogSource.CATALOG_SOURCE_OPENROUTER })
    ).response;
    expect(reports.map((r) => [r.source, r.ok, r.error])).toEqual([
      [CatalogSource.CATALOG_SOURCE_OPENROUTER, false, 'catalog source openrouter is not configured'],
    ]);
    expect((await syncRuns()).filter((l) => l.includes('openrouter'))).toEqual([]);
  });
});

describe('a source answering a token count beyond what ModelInfo can carry', () => {
  let source: SourceServer;
  let openrouter: Simulator;
  let h: Harness;
  const listing = (context: number) =>
    JSON.stringify({
      data: [
        { id: 'openai/gpt-4o', context_length: 128000, pricing: { prompt: '0.0000025', completion: '0.00001' } },
        { id: 'acme/huge', context_length: context, pricing: { prompt: '0.000001', completion: '0.000002' } },
      ],
    });

  beforeAll(async () => {
    source = await startSourceServer();
    openrouter = await startSimulator({ latencyScale: 0 });
    const file = writeConfigFile(`providers:
  - { name: openrouter, kind: openai, base_url: "${openrouter.baseURL}", api_key_env: OPENROUTER_API_KEY }
catalog:
  sync:
    openrouter: { url: "${source.url}/api/v1/models" }
`);
    h = await startHarness({ env: { CONFIG_FILE: file }, processEnv: { OPENROUTER_API_KEY: 'or-key' } });
  });
  afterAll(async () => {
    await h?.close();
    await openrouter?.close();
    await source?.close();
  });

  const list = () => callUnary(h.clients.models.listModels.bind(h.clients.models), { provider: '', availableOnly: false });

  it('fails the run naming the field, and ListModels keeps answering', async () => {
    source.set('/api/v1/models', { body: listing(200_000) });
    const [good] = (
      await callUnary(h.clients.models.syncCatalog.bind(h.clients.models), { source: CatalogSource.CATALOG_SOURCE_OPENROUTER })
    ).response.reports;
    expect(good?.ok).toBe(true);
    source.set('/api/v1/models', { body: listing(10_000_000_000) });
    const [bad] = (
      await callUnary(h.clients.models.syncCatalog.bind(h.clients.models), { source: CatalogSource.CATALOG_SOURCE_OPENROUTER })
    ).response.reports;
    expect(bad?.ok).toBe(false);
    expect(bad?.error).toMatch(/unexpected shape at \$\.data\[1\]\.context_length/);
    const models = (await list()).response.models;
    expect(models.find((m) => m.id === 'acme/huge')?.contextWindow).toBe(200_000);
  });
});
