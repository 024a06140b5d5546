import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CatalogSource, type ModelInfo, type SyncReport } from '../../src/gen/orchestrator/v1/models.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { writeConfigFile } from '../helpers/config-file.js';
import { callUnary, type Clients } from '../helpers/grpc-client.js';
import { startSourceServer, type SourceServer } from '../helpers/source-server.js';
import { type SyncGateway, startSyncGateway } from '../helpers/sync-gateway.js';

/**
 * A source's answer is bounded before it is parsed: by size (`max_body_bytes`) and by time
 * (`timeout_ms`). A run refused by a bound fails with a reason naming the source and the bound,
 * is logged, and leaves the last good data in use.
 */
const PATH = '/api/v1/models';
const MODEL = 'acme/bounded';
const LIMIT = 2_000;

interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly source?: string;
  readonly error?: string;
}

function listing(perMillion: number): string {
  return JSON.stringify({
    data: [{ id: MODEL, context_length: 8000, pricing: { prompt: String(perMillion / 1e6), completion: String(perMillion / 1e6) } }],
  });
}

describe('a catalog source whose answer is over a bound', () => {
  let source: SourceServer;
  let openrouter: Simulator;
  let gateway: SyncGateway<LogLine>;
  let clients: Clients;
  let logs: LogLine[] = [];

  beforeAll(async () => {
    source = await startSourceServer();
    openrouter = await startSimulator({ latencyScale: 0 });
    const file = writeConfigFile(`providers:
  - { name: openrouter, kind: openai, base_url: "${openrouter.baseURL}", api_key_env: OPENROUTER_API_KEY }
catalog:
  sync:
    max_body_bytes: ${LIMIT}
    timeout_ms: 10000
    openrouter: { url: "${source.url}${PATH}" }
`);
    gateway = await startSyncGateway<LogLine>(file);
    ({ clients, logs } = gateway);
  });
  afterAll(async () => {
    await gateway?.close();
    await openrouter?.close();
    await source?.close();
  });

  const sync = async (): Promise<SyncReport | undefined> =>
    (await callUnary(clients.models.syncCatalog.bind(clients.models), { source: CatalogSource.CATALOG_SOURCE_OPENROUTER })).response
      .reports[0];
  const model = async (): Promise<ModelInfo | undefined> =>
    (await callUnary(clients.models.listModels.bind(clients.models), { provider: '', availableOnly: false })).response.models.find(
      (m) => m.id === MODEL,
    );
  const failures = () => logs.filter((l) => l.msg === 'catalog sync failed: the last good data stays in use');

  it('a good run sets the price', async () => {
    source.set(PATH, { body: listing(2) });
    expect(await sync()).toMatchObject({ ok: true, models: 1 });
    expect((await model())?.inputPricePerMillion).toBe(2);
  });

  it('refuses a Content-Length over the limit at once, without waiting for the body', async () => {
    // The header announces more than the limit; the few bytes sent are under it and the answer
    // never finishes, so only the header can refuse it before the 10 s time limit.
    source.set(PATH, { body: '{"data":[', headers: { 'content-length': String(LIMIT * 10) }, stall: true });
    const before = failures().length;
    const started = Date.now();
    const report = await sync();
    expect(Date.now() - started).toBeLessThan(3_000);
    const reason = `${source.url}${PATH}: the answer is over the limit of ${LIMIT} bytes`;
    expect(report).toMatchObject({ ok: false, error: reason });
    const logged = failures().slice(before);
    expect(logged).toEqual([expect.objectContaining({ level: 40, source: 'openrouter', error: reason })]);
    const kept = await model();
    expect(kept?.inputPricePerMillion).toBe(2);
    expect(kept?.provenance.find((p) => p.field === 'input_price_per_million')?.source).toBe(CatalogSource.CATALOG_SOURCE_OPENROUTER);
  });
});
