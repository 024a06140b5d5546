import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CatalogSource, type ModelInfo } from '../../src/gen/orchestrator/v1/models.js';
import { sha } from '../helpers/access-file.js';
import { writeConfigFile } from '../helpers/config-file.js';
import { callUnary } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { type RecordingUpstream, startRecordingUpstream } from '../helpers/recording-upstream.js';

/**
 * A model priced from OpenRouter's models API, served by OpenRouter, answering with prompt tokens
 * read from its prompt cache: the fixture lists anthropic/claude-3.5-sonnet at $3 a million prompt
 * tokens, $0.30 cached (input_cache_read) and $15 completion.
 */
const CLAUDE = 'anthropic/claude-3.5-sonnet';
const PROMPT = 400;
const CACHED = 300;
const COMPLETION = 5;
const EXPECTED = ((PROMPT - CACHED) * 3 + CACHED * 0.3 + COMPLETION * 15) / 1e6;
const admin = { metadata: { authorization: 'Bearer root-secret' } };

describe("OpenRouter's cached-prompt price in a synced model's cost", () => {
  let openrouter: RecordingUpstream;
  let h: Harness | undefined;
  let configFile: string;
  const database = `sqlite:${join(mkdtempSync(join(tmpdir(), 'catalog-cached-')), 'ledger.db')}`;

  beforeAll(async () => {
    openrouter = await startRecordingUpstream((_body, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: 'c',
          object: 'chat.completion',
          created: 1,
          model: CLAUDE,
          choices: [{ index: 0, message: { role: 'assistant', content: 'from the cache' }, logprobs: null, finish_reason: 'stop' }],
          usage: {
            prompt_tokens: PROMPT,
            completion_tokens: COMPLETION,
            total_tokens: PROMPT + COMPLETION,
            prompt_tokens_details: { cached_tokens: CACHED },
          },
        }),
      );
    });
    const fixture = pathToFileURL(resolve('test/fixtures/catalog-sync/openrouter-models.json')).href;
    configFile = writeConfigFile(`access:
  api_keys:
    - { name: root, sha256: ${sha('root-secret')}, scopes: [admin] }
providers:
  - { name: openrouter, kind: openai, base_url: "${openrouter.baseURL}", api_key_env: OPENROUTER_API_KEY }
catalog:
  sync:
    openrouter: { url: "${fixture}" }
`);
  });
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });
  afterAll(async () => openrouter?.close());

  const start = async (databaseUrl: string) => {
    h = await startHarness({ env: { CONFIG_FILE: configFile, DATABASE_URL: databaseUrl }, processEnv: { OPENROUTER_API_KEY: 'or-key' } });
    return h;
  };
  const sync = async (harness: Harness) =>
    (
      await callUnary(
        harness.clients.models.syncCatalog.bind(harness.clients.models),
        { source: CatalogSource.CATALOG_SOURCE_OPENROUTER },
        admin,
      )
    ).response.reports;
  const claude = async (harness: Harness): Promise<ModelInfo | undefined> =>
    (
      await callUnary(harness.clients.models.listModels.bind(harness.clients.models), { provider: '', availableOnly: false }, admin)
    ).response.models.find((m) => m.id === CLAUDE);
  const chat = async (harness: Harness) =>
    (
      await callUnary(
        harness.clients.chat.chat.bind(harness.clients.chat),
        { model: CLAUDE, prompt: 'a long system prompt that the provider caches '.repeat(12), messages: [] },
        admin,
      )
    ).response;

  it('charges cached prompt tokens at input_cache_read, and keeps that price over a restart', async () => {
    const first = await start(database);
    expect((await sync(first))[0]?.ok).toBe(true);
    const listed = await claude(first);
    expect(listed).toMatchObject({ provider: 'openrouter', inputPricePerMillion: 3, cachedInputPricePerMillion: 0.3 });
    expect(listed?.provenance.find((p) => p.field === 'cached_input_price_per_million')?.source).toBe(
      CatalogSource.CATALOG_SOURCE_OPENROUTER,
    );
    const answer = await chat(first);
    expect(answer.usage).toMatchObject({ promptTokens: PROMPT, cachedTokens: CACHED, completionTokens: COMPLETION });
    expect(answer.costUsd).toBeCloseTo(EXPECTED, 12);
    await first.close();
    h = undefined;

    // No run after the restart: the price comes from the rows the database kept.
    const second = await start(database);
    expect((await claude(second))?.cachedInputPricePerMillion).toBe(0.3);
    expect((await chat(second)).costUsd).toBeCloseTo(EXPECTED, 12);
  });

  it('charges them so without a database too', async () => {
    const harness = await start('off');
    await sync(harness);
    expect((await chat(harness)).costUsd).toBeCloseTo(EXPECTED, 12);
  });
});
