import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SourceModel, SyncReport } from '../../src/catalog/sync/types.js';
import { CatalogSource, type ModelInfo, type RuntimeModelSpec } from '../../src/gen/orchestrator/v1/models.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { writeConfigFile } from '../helpers/config-file.js';
import { callUnary, unaryError } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { ScriptedRunner } from '../helpers/scripted-sync-runner.js';

const MISTRAL = 'mistralai/mistral-large';
const QWEN = 'qwen/qwen-2.5-72b';

function orModel(id: string, price: number): SourceModel {
  return {
    source: 'openrouter',
    externalId: id,
    contextWindow: 128_000,
    inputPricePerMillion: price,
    outputPricePerMillion: price * 3,
    raw: { id },
  };
}

function report(models: SourceModel[], matched: SyncReport['matched'] = []): SyncReport {
  const now = new Date();
  return {
    source: 'openrouter',
    startedAt: new Date(now.getTime() - 10),
    finishedAt: now,
    ok: true,
    models,
    matched,
    unmatched: models.map((m) => m.externalId).filter((id) => !matched.some((x) => x.externalId === id)),
  };
}

function spec(overrides: Partial<RuntimeModelSpec> = {}): RuntimeModelSpec {
  return {
    id: 'house',
    provider: 'openai',
    upstreamId: 'gpt-4o-mini',
    aliases: [],
    fallbacks: [],
    family: '',
    tier: 0,
    ...overrides,
  };
}

async function withOpenRouter(dbUrl: string, runner: ScriptedRunner, openrouter: Simulator): Promise<Harness> {
  const file = writeConfigFile(`providers:
  - { name: openrouter, kind: openai, base_url: "${openrouter.baseURL}", api_key_env: OPENROUTER_API_KEY }
`);
  return startHarness({
    env: { CONFIG_FILE: file, DATABASE_URL: dbUrl, CATALOG_POLL_MS: '200' },
    processEnv: { OPENROUTER_API_KEY: 'or-key' },
    startOptions: { catalogSync: runner },
  });
}

const list = async (h: Harness): Promise<ModelInfo[]> =>
  (await callUnary(h.clients.models.listModels.bind(h.clients.models), { provider: '', availableOnly: false })).response.models;
const find = async (h: Harness, id: string) => (await list(h)).find((m) => m.id === id);
const sync = (h: Harness) =>
  callUnary(h.clients.models.syncCatalog.bind(h.clients.models), { source: CatalogSource.CATALOG_SOURCE_OPENROUTER }).then(
    (r) => r.response.reports,
  );

/** An OpenRouter run whose config maps openai/chatgpt-4o-latest to null: the others are applied, that one stays out. */
async function leavesNullOverrideOut(h: Harness): Promise<void> {
  const [r] = await sync(h);
  expect(r?.ok).toBe(true);
  expect((await find(h, MISTRAL))?.inputPricePerMillion).toBe(2);
  expect(await find(h, 'openai/chatgpt-4o-latest')).toBeUndefined();
}

describe('runtime model aliases', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h?.close());

  it('takes a runtime alias written with spaces around it as the alias itself', async () => {
    await callUnary(h.clients.models.createModel.bind(h.clients.models), { model: spec({ id: 'spacey', aliases: [' sp '] }) });
    const answer = await callUnary(h.clients.chat.chat.bind(h.clients.chat), { model: 'sp', prompt: 'hi', messages: [] });
    expect(answer.response.model).toBe('spacey');
  });

  it('takes a fallback written with spaces around it as that model, as every lookup does', async () => {
    const created = await callUnary(h.clients.models.createModel.bind(h.clients.models), {
      model: spec({ id: 'spaced-fallback', fallbacks: [' gpt-4o-mini '] }),
    }).catch((e: grpc.ServiceError) => e);
    expect((created as grpc.ServiceError).details).toBeUndefined();
    expect(await find(h, 'spaced-fallback')).toMatchObject({ fallbacks: ['gpt-4o-mini'] });
  });

  it('sends an upstream id written with spaces around it upstream without them', async () => {
    await callUnary(h.clients.models.createModel.bind(h.clients.models), {
      model: spec({ id: 'spaced-upstream', upstreamId: ' gpt-4o-mini ' }),
    });
    await callUnary(h.clients.chat.chat.bind(h.clients.chat), { model: 'spaced-upstream', prompt: 'hi', messages: [] });
    expect(h.upstream.requests.at(-1)?.model).toBe('gpt-4o-mini');
  });
});

describe('runtime models and OpenRouter-only models', () => {
  let openrouter: Simulator;
  let h: Harness;
  const runner = new ScriptedRunner();
  const dbUrl = `sqlite:${join(mkdtempSync(join(tmpdir(), 'llmo-catalog-runtime-')), 'ledger.db')}`;

  beforeAll(async () => {
    openrouter = await startSimulator({ latencyScale: 0 });
    h = await withOpenRouter(dbUrl, runner, openrouter);
  });
  afterAll(async () => {
    await h?.close();
    await openrouter?.close();
  });

  it('refuses a runtime fallback to an OpenRouter-only model (a sync may take it away), and applies the syncs after', async () => {
    runner.next(report([orModel(MISTRAL, 2), orModel(QWEN, 1)]));
    await sync(h);
    expect((await find(h, MISTRAL))?.inputPricePerMillion).toBe(2);
    const refused = await unaryError(h.clients.models.createModel.bind(h.clients.models), {
      model: spec({ id: 'house', fallbacks: [MISTRAL] }),
    });
    expect(refused.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(refused.decoded.badRequest?.fieldViolations[0]?.field).toBe('model.fallbacks[0]');
    await callUnary(h.clients.models.createModel.bind(h.clients.models), { model: spec({ id: 'house', fallbacks: ['gpt-4o-mini'] }) });
    // OpenRouter stops listing mistral, and changes qwen's price.
    runner.next(report([orModel(QWEN, 5)]));
    const [r] = await sync(h);
    expect(r?.ok).toBe(true);
    expect((await find(h, QWEN))?.inputPricePerMillion).toBe(5);
    expect(await find(h, MISTRAL)).toBeUndefined();
  });

  it('answers CreateModel after that with the model', async () => {
    const res = await callUnary(h.clients.models.createModel.bind(h.clients.models), { model: spec({ id: 'house2' }) }).catch(
      (err: grpc.ServiceError) => err,
    );
    expect((res as grpc.ServiceError).code, (res as grpc.ServiceError).details).toBeUndefined();
  });

  it('keeps runtime models over a restart', async () => {
    await h.close();
    h = await withOpenRouter(dbUrl, runner, openrouter);
    const ids = (await list(h)).map((m) => m.id);
    expect(ids).toContain('house');
  });
});

describe('a runtime model taking an OpenRouter-only name (the OpenRouter source reading a file: URL)', () => {
  let openrouter: Simulator;
  let h: Harness;
  const dir = mkdtempSync(join(tmpdir(), 'llmo-catalog-or-'));
  const orFile = join(dir, 'openrouter-models.json');
  writeFileSync(
    orFile,
    JSON.stringify({
      data: [
        { id: MISTRAL, context_length: 128000, pricing: { prompt: '0.000002', completion: '0.000006' }, supported_parameters: ['tools'] },
      ],
    }),
  );

  beforeAll(async () => {
    openrouter = await startSimulator({ latencyScale: 0 });
    const file = writeConfigFile(`providers:
  - { name: openrouter, kind: openai, base_url: "${openrouter.baseURL}", api_key_env: OPENROUTER_API_KEY }
catalog:
  sync:
    openrouter: { url: "${pathToFileURL(orFile).href}" }
`);
    h = await startHarness({ env: { CONFIG_FILE: file }, processEnv: { OPENROUTER_API_KEY: 'or-key' } });
  });
  afterAll(async () => {
    await h?.close();
    await openrouter?.close();
  });

  it('a runtime model created under an OpenRouter-only name keeps OpenRouter price and context for the fields it leaves out', async () => {
    await sync(h);
    expect((await find(h, MISTRAL))?.inputPricePerMillion).toBe(2);
    const created = (
      await callUnary(h.clients.models.createModel.bind(h.clients.models), {
        model: spec({ id: MISTRAL, provider: 'openrouter', upstreamId: MISTRAL, aliases: ['ml'] }),
      })
    ).response.model;
    // Documented: a runtime model that leaves its prices out gets OpenRouter's price.
    expect(created?.inputPricePerMillion).toBe(2);
    expect(created?.contextWindow).toBe(128_000);
    const answer = (await callUnary(h.clients.chat.chat.bind(h.clients.chat), { model: 'ml', prompt: 'price me', messages: [] })).response;
    expect(answer.costUsd).toBeGreaterThan(0);
  });

  it('after DeleteModel of that runtime model, the OpenRouter-only model is callable again', async () => {
    const [r] = await sync(h); // the real resolver now matches the name to the runtime model (exact)
    expect(r?.matched.map((m) => [m.externalId, m.catalogId])).toEqual([[MISTRAL, MISTRAL]]);
    await callUnary(h.clients.models.deleteModel.bind(h.clients.models), { id: MISTRAL });
    expect(await find(h, MISTRAL)).toMatchObject({ provider: 'openrouter', inputPricePerMillion: 2 });
    const answer = await callUnary(h.clients.chat.chat.bind(h.clients.chat), { model: MISTRAL, prompt: 'hi', messages: [] }).catch(
      (err: grpc.ServiceError) => err,
    );
    expect((answer as grpc.ServiceError).code, (answer as grpc.ServiceError).details).toBeUndefined();
  });
});

describe('OpenRouter overrides and an empty model list', () => {
  let openrouter: Simulator;
  let h: Harness;
  const dir = mkdtempSync(join(tmpdir(), 'llmo-catalog-empty-'));
  const orFile = join(dir, 'openrouter-models.json');

  beforeAll(async () => {
    writeFileSync(
      orFile,
      JSON.stringify({
        data: [
          { id: MISTRAL, context_length: 128000, pricing: { prompt: '0.000002', completion: '0.000006' } },
          { id: 'openai/chatgpt-4o-latest', context_length: 128000, pricing: { prompt: '0.000005', completion: '0.000015' } },
        ],
      }),
    );
    openrouter = await startSimulator({ latencyScale: 0 });
    const file = writeConfigFile(`providers:
  - { name: openrouter, kind: openai, base_url: "${openrouter.baseURL}", api_key_env: OPENROUTER_API_KEY }
catalog:
  sync:
    overrides:
      "openai/chatgpt-4o-latest": null
    openrouter: { url: "${pathToFileURL(orFile).href}" }
`);
    h = await startHarness({ env: { CONFIG_FILE: file }, processEnv: { OPENROUTER_API_KEY: 'or-key' } });
  });
  afterAll(async () => {
    await h?.close();
    await openrouter?.close();
  });

  it('leaves a name an override maps to null out of the catalog', () => leavesNullOverrideOut(h));

  it('fails a run that lists no model at all (an outage answering {"data":[]}) instead of wiping the OpenRouter models', async () => {
    writeFileSync(orFile, JSON.stringify({ data: [] }));
    const [r] = await sync(h);
    expect(r?.ok).toBe(false);
    expect((await find(h, MISTRAL))?.inputPricePerMillion).toBe(2);
  });
});

const LLAMA = 'meta-llama/Llama-3.1-8B-Instruct';
const QWEN_HF = 'Qwen/Qwen2.5-72B-Instruct';
const hubDoc = (id: string, ctx: number) => ({ id, tags: [], config: { max_position_embeddings: ctx } });
const HUB_DOCS = [hubDoc(LLAMA, 131072), hubDoc(QWEN_HF, 32768)];

/** The Hub's model documents as a `file:` source in both forms a config may name; `drop` takes one away. */
const hubForms: Record<string, (dir: string) => { url: string; drop: (id: string) => void }> = {
  'a folder of one document per model (the Hub answering 404/403 for one)': (dir) => {
    for (const doc of HUB_DOCS) {
      mkdirSync(join(dir, doc.id.split('/')[0] as string), { recursive: true });
      writeFileSync(join(dir, `${doc.id}.json`), JSON.stringify(doc));
    }
    return { url: pathToFileURL(dir).href, drop: (id) => rmSync(join(dir, `${id}.json`)) };
  },
  'one file of model documents that no longer holds one of them': (dir) => {
    const hubFile = join(dir, 'hub-models.json');
    writeFileSync(hubFile, JSON.stringify(HUB_DOCS));
    return { url: pathToFileURL(hubFile).href, drop: (id) => writeFileSync(hubFile, JSON.stringify(HUB_DOCS.filter((d) => d.id !== id))) };
  },
};

describe.each(Object.entries(hubForms))('a Hugging Face run from %s', (_, form) => {
  let h: Harness;
  const source = form(mkdtempSync(join(tmpdir(), 'llmo-catalog-hf-')));

  beforeAll(async () => {
    const file = writeConfigFile(`catalog:
  sync:
    huggingface:
      url: "${source.url}"
      models: [${LLAMA}, ${QWEN_HF}]
`);
    h = await startHarness({ env: { CONFIG_FILE: file } });
  });
  afterAll(async () => h?.close());

  it("keeps the skipped model's last good values", async () => {
    for (const id of [LLAMA, QWEN_HF])
      await callUnary(h.clients.models.createModel.bind(h.clients.models), { model: spec({ id, upstreamId: 'gpt-4o-mini' }) });
    const run = () =>
      callUnary(h.clients.models.syncCatalog.bind(h.clients.models), { source: CatalogSource.CATALOG_SOURCE_HUGGINGFACE }).then(
        (r) => r.response.reports[0],
      );
    expect((await run())?.ok).toBe(true);
    expect((await find(h, LLAMA))?.contextWindow).toBe(131072);
    source.drop(LLAMA);
    const r = await run();
    expect(r?.ok).toBe(true);
    expect((await find(h, LLAMA))?.contextWindow).toBe(131072);
  });
});

describe('runtime model ids', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h?.close());

  it('are found by DeleteModel in any case, as every lookup finds them', async () => {
    await callUnary(h.clients.models.createModel.bind(h.clients.models), { model: spec({ id: 'My-Model' }) });
    await callUnary(h.clients.chat.chat.bind(h.clients.chat), { model: 'my-model', prompt: 'hi', messages: [] });
    const res = await callUnary(h.clients.models.deleteModel.bind(h.clients.models), { id: 'my-model' }).catch((e: grpc.ServiceError) => e);
    expect((res as grpc.ServiceError).code, (res as grpc.ServiceError).details).toBeUndefined();
  });

  it('name a built-in model in any case: it cannot be changed at runtime, not "no runtime model"', async () => {
    for (const id of ['gpt-4o', 'GPT-4o']) {
      const update = await unaryError(h.clients.models.updateModel.bind(h.clients.models), { model: spec({ id }) });
      expect([update.code, update.details]).toEqual([grpc.status.INVALID_ARGUMENT, expect.stringMatching(/built-in or config-file model/)]);
      const remove = await unaryError(h.clients.models.deleteModel.bind(h.clients.models), { id });
      expect([remove.code, remove.details]).toEqual([grpc.status.INVALID_ARGUMENT, expect.stringMatching(/built-in or config-file model/)]);
      // DeleteModelRequest names the model in `id`.
      expect(remove.decoded.badRequest?.fieldViolations.map((v) => v.field)).toEqual(['id']);
    }
  });

  it('name an embedding model, which ListModels lists: it cannot be changed at runtime, not "no runtime model"', async () => {
    const update = await unaryError(h.clients.models.updateModel.bind(h.clients.models), { model: spec({ id: 'Text-Embedding-3-Small' }) });
    expect([update.code, update.details]).toEqual([
      grpc.status.INVALID_ARGUMENT,
      expect.stringMatching(/text-embedding-3-small" is an embedding model/),
    ]);
    const remove = await unaryError(h.clients.models.deleteModel.bind(h.clients.models), { id: 'text-embedding-3-small' });
    expect([remove.code, remove.details]).toEqual([grpc.status.INVALID_ARGUMENT, expect.stringMatching(/is an embedding model/)]);
    expect(remove.decoded.badRequest?.fieldViolations.map((v) => v.field)).toEqual(['id']);
  });
});

describe('synced data without a database (DATABASE_URL=off)', () => {
  let openrouter: Simulator;
  let h: Harness;
  const dir = mkdtempSync(join(tmpdir(), 'llmo-catalog-nodb-'));
  const orFile = join(dir, 'openrouter-models.json');
  const hubDir = join(dir, 'hub');

  beforeAll(async () => {
    writeFileSync(
      orFile,
      JSON.stringify({
        data: [
          { id: MISTRAL, context_length: 128000, pricing: { prompt: '0.000002', completion: '0.000006' } },
          { id: 'openai/chatgpt-4o-latest', context_length: 128000, pricing: { prompt: '0.000005', completion: '0.000015' } },
        ],
      }),
    );
    for (const [id, ctx] of [
      [LLAMA, 131072],
      [QWEN_HF, 32768],
    ] as const) {
      mkdirSync(join(hubDir, id.split('/')[0] as string), { recursive: true });
      writeFileSync(join(hubDir, `${id}.json`), JSON.stringify({ id, tags: [], config: { max_position_embeddings: ctx } }));
    }
    openrouter = await startSimulator({ latencyScale: 0 });
    const file = writeConfigFile(`providers:
  - { name: openrouter, kind: openai, base_url: "${openrouter.baseURL}", api_key_env: OPENROUTER_API_KEY }
catalog:
  sync:
    overrides:
      "openai/chatgpt-4o-latest": null
      "${LLAMA}": gpt-4o-mini
      "${QWEN_HF}": gpt-4.1-mini
    openrouter: { url: "${pathToFileURL(orFile).href}" }
    huggingface:
      url: "${pathToFileURL(hubDir).href}"
      models: [${LLAMA}, ${QWEN_HF}]
`);
    h = await startHarness({ env: { CONFIG_FILE: file, DATABASE_URL: 'off' }, processEnv: { OPENROUTER_API_KEY: 'or-key' } });
  });
  afterAll(async () => {
    await h?.close();
    await openrouter?.close();
  });

  it('leaves a name an override maps to null out of the catalog', () => leavesNullOverrideOut(h));

  it("keeps a skipped Hub model's last good values", async () => {
    const run = () =>
      callUnary(h.clients.models.syncCatalog.bind(h.clients.models), { source: CatalogSource.CATALOG_SOURCE_HUGGINGFACE }).then(
        (r) => r.response.reports[0],
      );
    expect((await run())?.ok).toBe(true);
    expect((await find(h, 'gpt-4o-mini'))?.contextWindow).toBe(131072);
    rmSync(join(hubDir, `${LLAMA}.json`)); // the Hub answers 404/403 for it this time
    const r = await run();
    expect(r?.ok).toBe(true);
    expect((await find(h, 'gpt-4.1-mini'))?.contextWindow).toBe(32768);
    expect((await find(h, 'gpt-4o-mini'))?.contextWindow).toBe(131072);
  });

  it('keeps the last good values when a run fails, as with a database', async () => {
    const good = readFileSync(orFile, 'utf8');
    expect((await sync(h))[0]?.ok).toBe(true);
    writeFileSync(orFile, '{"data": "not a list"}');
    try {
      const [failed] = await sync(h);
      expect(failed?.ok).toBe(false);
      expect((await find(h, MISTRAL))?.inputPricePerMillion).toBe(2);
    } finally {
      writeFileSync(orFile, good);
    }
  });
});
