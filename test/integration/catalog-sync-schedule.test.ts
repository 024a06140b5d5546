import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { CatalogSource, type ModelInfo } from '../../src/gen/orchestrator/v1/models.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { sha } from '../helpers/access-file.js';
import { writeConfigFile } from '../helpers/config-file.js';
import { callUnary, type Clients } from '../helpers/grpc-client.js';
import { startSourceServer, type SourceServer } from '../helpers/source-server.js';
import { type SyncGateway, startSyncGateway } from '../helpers/sync-gateway.js';

/**
 * The schedule end to end: a real server whose config file schedules OpenRouter every second
 * (croner's seconds field) against a local source. A good run sets the price ListModels shows and
 * calls are charged; then the source breaks, the next scheduled runs fail, and the old price stays
 * in use while the failure shows in the log, on /metrics and in SyncCatalog's report.
 */
const PATH = '/api/v1/models';
const MISTRAL = 'mistralai/mistral-large';
const admin = { metadata: { authorization: 'Bearer root-secret' } };

/** OpenRouter's models list (GET /api/v1/models) with one model at `perMillion` dollars per million input tokens. */
function modelsAt(perMillion: number): string {
  return JSON.stringify({
    data: [
      {
        id: MISTRAL,
        name: 'Mistral Large',
        context_length: 128000,
        architecture: { modality: 'text->text', input_modalities: ['text'], output_modalities: ['text'] },
        pricing: { prompt: String(perMillion / 1e6), completion: String((3 * perMillion) / 1e6) },
        top_provider: { context_length: 128000, max_completion_tokens: 4096 },
        supported_parameters: ['max_tokens', 'temperature', 'tools'],
      },
    ],
  });
}

interface LogLine {
  readonly msg: string;
  readonly source?: string;
  readonly error?: string;
}

async function eventually<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms = 5_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('a scheduled catalog sync that fails keeps the last good data', () => {
  let source: SourceServer;
  let openrouter: Simulator;
  let gateway: SyncGateway<LogLine>;
  let app: App;
  let clients: Clients;
  let logs: LogLine[] = [];

  beforeAll(async () => {
    source = await startSourceServer();
    source.set(PATH, { body: modelsAt(2) });
    openrouter = await startSimulator({ latencyScale: 0 });
    const file = writeConfigFile(`access:
  api_keys:
    - { name: root, sha256: ${sha('root-secret')}, scopes: [admin] }
providers:
  - { name: openrouter, kind: openai, base_url: "${openrouter.baseURL}", api_key_env: OPENROUTER_API_KEY }
catalog:
  sync:
    openrouter: { url: "${source.url}${PATH}", interval: "* * * * * *" }
`);
    gateway = await startSyncGateway<LogLine>(file, { METRICS: 'on', METRICS_PORT: '0' });
    ({ app, clients, logs } = gateway);
  });
  afterAll(async () => {
    await gateway?.close();
    await openrouter?.close();
    await source?.close();
  });

  const mistral = async (): Promise<ModelInfo | undefined> =>
    (await callUnary(clients.models.listModels.bind(clients.models), { provider: '', availableOnly: false }, admin)).response.models.find(
      (m) => m.id === MISTRAL,
    );
  /** A new call's cost, and what it would cost at `perMillion` (input; output is three times it). */
  const chat = async (perMillion: number) => {
    const answer = (await callUnary(clients.chat.chat.bind(clients.chat), { model: MISTRAL, prompt: 'price me', messages: [] }, admin))
      .response;
    const usage = answer.usage ?? { promptTokens: 0, completionTokens: 0 };
    return { charged: answer.costUsd, expected: (usage.promptTokens * perMillion + usage.completionTokens * 3 * perMillion) / 1e6 };
  };
  const failedRuns = async () => {
    const text = await (await fetch(app.metricsServer?.url ?? '')).text();
    return Number(/llm_orchestrator_catalog_sync_runs_total\{source="openrouter",outcome="failed"\} (\d+)/.exec(text)?.[1] ?? 0);
  };

  it('a good scheduled run sets the price ListModels shows and a new call is charged', async () => {
    const model = await eventually('the first scheduled run', async () => {
      const m = await mistral();
      return m?.inputPricePerMillion === 2 ? m : undefined;
    });
    expect(model.provenance.find((p) => p.field === 'input_price_per_million')?.source).toBe(CatalogSource.CATALOG_SOURCE_OPENROUTER);
    const { charged, expected } = await chat(2);
    expect(expected).toBeGreaterThan(0);
    expect(charged).toBeCloseTo(expected, 12);
    expect(await failedRuns()).toBe(0);
  });

  it('when the source answers 500, then garbage, the scheduled runs fail and the old price stays in use, visibly', async () => {
    source.set(PATH, { status: 500, body: '{"error":{"message":"Internal Server Error"}}' });
    const failed = await eventually('a failed scheduled run in the log', () =>
      logs.find((l) => l.msg === 'catalog sync failed: the last good data stays in use' && l.source === 'openrouter'),
    );
    expect(failed.error).toMatch(/answered HTTP 500/);
    source.set(PATH, { body: '{"data":[{"id":"mistralai/mistral-large","pricing":{"prompt":"cheap"}}]}' });
    const malformed = await eventually('a scheduled run failing on the malformed body', () =>
      logs.find((l) => l.source === 'openrouter' && /unexpected shape at \$\.data\[0\]\.pricing/.test(l.error ?? '')),
    );
    expect(malformed.msg).toMatch(/catalog sync failed/);

    expect((await mistral())?.inputPricePerMillion).toBe(2);
    const { charged, expected } = await chat(2);
    expect(charged).toBeCloseTo(expected, 12);
    expect(await failedRuns()).toBeGreaterThanOrEqual(2);

    const [report] = (
      await callUnary(clients.models.syncCatalog.bind(clients.models), { source: CatalogSource.CATALOG_SOURCE_OPENROUTER }, admin)
    ).response.reports;
    expect(report).toMatchObject({ source: CatalogSource.CATALOG_SOURCE_OPENROUTER, ok: false });
    expect(report?.error).toMatch(/unexpected shape at \$\.data\[0\]\.pricing/);
    expect((await mistral())?.inputPricePerMillion).toBe(2);
  });
});
