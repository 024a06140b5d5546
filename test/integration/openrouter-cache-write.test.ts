import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CatalogSource, ModelTier } from '../../src/gen/orchestrator/v1/models.js';
import { sha } from '../helpers/access-file.js';
import { writeConfigFile } from '../helpers/config-file.js';
import { callUnary, collectStream, streamRequest, unaryError } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { type RecordingUpstream, startRecordingUpstream } from '../helpers/recording-upstream.js';

/**
 * Claude served by OpenRouter, which reports prompt tokens written to the prompt cache as
 * `prompt_tokens_details.cache_write_tokens` beside `cached_tokens`. The fixture lists
 * anthropic/claude-3.5-sonnet at $3 a million prompt tokens, $0.30 read from the cache
 * (input_cache_read), $3.75 written to it (input_cache_write) and $15 completion.
 */
const CLAUDE = 'anthropic/claude-3.5-sonnet';
const PROMPT = 400;
const CACHED = 100;
const WRITTEN = 250;
const COMPLETION = 5;
const costAt = (writePrice: number): number =>
  ((PROMPT - CACHED - WRITTEN) * 3 + CACHED * 0.3 + WRITTEN * writePrice + COMPLETION * 15) / 1e6;
const EXPECTED = costAt(3.75);
const USAGE = {
  prompt_tokens: PROMPT,
  completion_tokens: COMPLETION,
  total_tokens: PROMPT + COMPLETION,
  prompt_tokens_details: { cached_tokens: CACHED, cache_write_tokens: WRITTEN, audio_tokens: 0 },
  completion_tokens_details: { reasoning_tokens: 0 },
};
const SHOWN = {
  promptTokens: PROMPT,
  completionTokens: COMPLETION,
  totalTokens: PROMPT + COMPLETION,
  cachedTokens: CACHED,
  cacheWriteTokens: WRITTEN,
  reasoningTokens: 0,
};
const admin = { metadata: { authorization: 'Bearer root-secret' } };
const adminMetadata = (): grpc.Metadata => {
  const md = new grpc.Metadata();
  md.set('authorization', admin.metadata.authorization);
  return md;
};
const prompt = 'a long system prompt that the provider caches '.repeat(12);

describe("prompt-cache writes OpenRouter reports, in a synced model's usage and cost", () => {
  let openrouter: RecordingUpstream;
  let h: Harness | undefined;
  const fixture = resolve('test/fixtures/catalog-sync/openrouter-models.json');
  const dir = mkdtempSync(join(tmpdir(), 'openrouter-cache-write-'));
  const configFor = (models: string): string =>
    writeConfigFile(`access:
  api_keys:
    - { name: root, sha256: ${sha('root-secret')}, scopes: [admin] }
providers:
  - { name: openrouter, kind: openai, base_url: "${openrouter.baseURL}", api_key_env: OPENROUTER_API_KEY }
catalog:
  sync:
    openrouter: { url: "${pathToFileURL(models).href}" }
`);
  const start = async (configFile: string, databaseUrl: string): Promise<Harness> => {
    h = await startHarness({ env: { CONFIG_FILE: configFile, DATABASE_URL: databaseUrl }, processEnv: { OPENROUTER_API_KEY: 'or-key' } });
    return h;
  };
  const sync = async (harness: Harness) => {
    const { response } = await callUnary(
      harness.clients.models.syncCatalog.bind(harness.clients.models),
      { source: CatalogSource.CATALOG_SOURCE_OPENROUTER },
      admin,
    );
    expect(response.reports[0]?.ok).toBe(true);
  };
  const chat = async (harness: Harness) =>
    (await callUnary(harness.clients.chat.chat.bind(harness.clients.chat), { model: CLAUDE, prompt, messages: [] }, admin)).response;

  beforeAll(async () => {
    openrouter = await startRecordingUpstream((body, res) => {
      const head = { id: 'c', created: 1, model: CLAUDE };
      if (body.stream !== true) {
        res.writeHead(200, { 'content-type': 'application/json' });
        const message = { role: 'assistant', content: 'written to the cache' };
        res.end(
          JSON.stringify({ ...head, object: 'chat.completion', choices: [{ index: 0, message, finish_reason: 'stop' }], usage: USAGE }),
        );
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const chunk = (fields: object) => `data: ${JSON.stringify({ ...head, object: 'chat.completion.chunk', ...fields })}\n\n`;
      res.end(
        chunk({ choices: [{ index: 0, delta: { role: 'assistant', content: 'written to the cache' }, finish_reason: null }] }) +
          chunk({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }) +
          chunk({ choices: [], usage: USAGE }) +
          'data: [DONE]\n\n',
      );
    });
  });
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });
  afterAll(async () => openrouter?.close());

  it('shows the writes in the usage of Chat and StreamChat, and charges them at the cache-write price', async () => {
    const harness = await start(configFor(fixture), 'off');
    await sync(harness);
    const response = await chat(harness);
    expect(response.usage).toEqual(SHOWN);
    expect(response.costUsd).toBeCloseTo(EXPECTED, 12);

    const streamed = await collectStream(harness.clients.chat.streamChat(streamRequest({ model: CLAUDE, prompt }), adminMetadata()));
    expect(streamed.error).toBeUndefined();
    const completed = streamed.messages.at(-1)?.event;
    if (completed?.$case !== 'completed') throw new Error('no completed event');
    expect(completed.completed.usage).toEqual(SHOWN);
    expect(completed.completed.costUsd).toBeCloseTo(EXPECTED, 12);
  });

  it('lists the write price in ListModels and GET /v1/models; a model without one shows none', async () => {
    const harness = await start(configFor(fixture), 'off');
    await sync(harness);
    const { response } = await callUnary(
      harness.clients.models.listModels.bind(harness.clients.models),
      { provider: '', availableOnly: false },
      admin,
    );
    const claude = response.models.find((m) => m.id === CLAUDE);
    expect(claude).toMatchObject({ inputPricePerMillion: 3, cachedInputPricePerMillion: 0.3, cacheWritePricePerMillion: 3.75 });
    expect(claude?.provenance.find((p) => p.field === 'cache_write_price_per_million')?.source).toBe(
      CatalogSource.CATALOG_SOURCE_OPENROUTER,
    );
    // gpt-4o keeps its built-in prices, which name no write price.
    expect(response.models.find((m) => m.id === 'gpt-4o')?.cacheWritePricePerMillion).toBeUndefined();

    const res = await fetch(`${harness.app.http?.url}/v1/models`, { headers: { authorization: admin.metadata.authorization } });
    type Listed = { id: string; x_orchestrator: Record<string, unknown> };
    const listed = ((await res.json()) as { data: Listed[] }).data;
    expect(listed.find((m) => m.id === CLAUDE)?.x_orchestrator).toMatchObject({
      cached_input_price_per_million: 0.3,
      cache_write_price_per_million: 3.75,
    });
    expect(listed.find((m) => m.id === 'gpt-4o')?.x_orchestrator['cache_write_price_per_million']).toBeNull();
  });

  it('charges writes at the price OpenRouter lists, whatever it is, and keeps that price over a restart', async () => {
    // The same list with Claude's writes at $6 a million (twice the prompt price), not 1.25 times it.
    const listed = JSON.parse(readFileSync(fixture, 'utf8')) as { data: { id: string; pricing: Record<string, string> }[] };
    const claude = listed.data.find((m) => m.id === CLAUDE);
    if (!claude) throw new Error('the fixture lists Claude');
    claude.pricing.input_cache_write = '0.000006';
    const models = join(dir, 'models.json');
    writeFileSync(models, JSON.stringify(listed));
    const configFile = configFor(models);
    const database = `sqlite:${join(dir, 'ledger.db')}`;

    const first = await start(configFile, database);
    await sync(first);
    expect((await chat(first)).costUsd).toBeCloseTo(costAt(6), 12);
    await first.close();
    h = undefined;

    // No run after the restart: the price comes from the rows the database kept.
    expect((await chat(await start(configFile, database))).costUsd).toBeCloseTo(costAt(6), 12);
  });

  it("charges writes at a runtime model's cache_write_price_per_million, kept over a restart; UpdateModel without one drops it", async () => {
    const configFile = configFor(fixture);
    const database = `sqlite:${join(dir, 'runtime.db')}`;
    const spec = {
      id: 'house-claude',
      provider: 'openrouter',
      upstreamId: CLAUDE,
      aliases: [],
      inputPricePerMillion: 3,
      cachedInputPricePerMillion: 0.3,
      outputPricePerMillion: 15,
      fallbacks: [],
      family: '',
      tier: ModelTier.MODEL_TIER_UNSPECIFIED,
    };
    const ask = async (harness: Harness) =>
      (await callUnary(harness.clients.chat.chat.bind(harness.clients.chat), { model: 'house-claude', prompt, messages: [] }, admin))
        .response;
    const listed = async (harness: Harness) =>
      (
        await callUnary(harness.clients.models.listModels.bind(harness.clients.models), { provider: '', availableOnly: false }, admin)
      ).response.models.find((m) => m.id === 'house-claude');

    const first = await start(configFile, database);
    const { response: created } = await callUnary(
      first.clients.models.createModel.bind(first.clients.models),
      { model: { ...spec, cacheWritePricePerMillion: 5 } },
      admin,
    );
    expect(created.model?.cacheWritePricePerMillion).toBe(5);
    expect(created.model?.provenance.find((p) => p.field === 'cache_write_price_per_million')?.source).toBe(
      CatalogSource.CATALOG_SOURCE_RUNTIME,
    );
    expect((await ask(first)).costUsd).toBeCloseTo(costAt(5), 12);
    await first.close();
    h = undefined;

    const second = await start(configFile, database);
    expect((await listed(second))?.cacheWritePricePerMillion).toBe(5);
    expect((await ask(second)).costUsd).toBeCloseTo(costAt(5), 12);

    const { response: updated } = await callUnary(second.clients.models.updateModel.bind(second.clients.models), { model: spec }, admin);
    expect(updated.model?.cacheWritePricePerMillion).toBeUndefined();
    // 1.25 times the $3 prompt price.
    expect((await ask(second)).costUsd).toBeCloseTo(costAt(3.75), 12);

    const { response: history } = await callUnary(
      second.clients.models.listModelHistory.bind(second.clients.models),
      { model: 'house-claude', field: 'cache_write_price_per_million', limit: 10 },
      admin,
    );
    expect(history.changes.map((c) => [c.oldValue, c.newValue])).toEqual(expect.arrayContaining([['5', '']]));
  });

  it('refuses a negative runtime cache_write_price_per_million naming the field', async () => {
    const harness = await start(configFor(fixture), 'sqlite::memory:');
    const err = await unaryError(
      harness.clients.models.createModel.bind(harness.clients.models),
      {
        model: {
          id: 'bad-write',
          provider: 'openrouter',
          upstreamId: '',
          aliases: [],
          fallbacks: [],
          family: '',
          tier: 0,
          cacheWritePricePerMillion: -1,
        },
      },
      admin,
    );
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.decoded.badRequest?.fieldViolations.map((v) => v.field)).toEqual(['model.cache_write_price_per_million']);
  });
});
