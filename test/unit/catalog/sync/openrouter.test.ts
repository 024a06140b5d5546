import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SyncError } from '../../../../src/catalog/sync/errors.js';
import { createOpenRouterSource, normaliseOpenRouterModel } from '../../../../src/catalog/sync/openrouter.js';
import type { SourceModel } from '../../../../src/catalog/sync/types.js';
import { FIXTURES, type SourceServer, fixture, startSourceServer } from '../../../helpers/source-server.js';

let server: SourceServer;
beforeAll(async () => {
  server = await startSourceServer();
});
afterAll(() => server.close());

const signal = () => new AbortController().signal;
const byId = (models: readonly SourceModel[], id: string) => models.find((m) => m.externalId === id);

async function failure(promise: Promise<unknown>): Promise<SyncError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SyncError);
  return err as SyncError;
}

describe('OpenRouter source', () => {
  it('turns the models API into prices per million, limits and capabilities', async () => {
    server.set('/api/v1/models', { body: fixture('openrouter-models.json') });
    const models = await createOpenRouterSource({ url: `${server.url}/api/v1/models` }).load(signal());
    expect(models).toHaveLength(7);
    expect(byId(models, 'openai/gpt-4o')).toMatchObject({
      source: 'openrouter',
      contextWindow: 128_000,
      maxOutputTokens: 16_384,
      inputPricePerMillion: 2.5,
      outputPricePerMillion: 10,
      capabilities: { tools: true, images: true, jsonSchema: true },
    });
    expect(byId(models, 'openai/gpt-4o-mini')).toMatchObject({ inputPricePerMillion: 0.15, outputPricePerMillion: 0.6 });
    // Tools but no structured outputs: JSON Schema mode is not claimed.
    expect(byId(models, 'anthropic/claude-3.5-sonnet')?.capabilities).toEqual({ tools: true, images: true, jsonSchema: false });
    expect(byId(models, 'meta-llama/llama-3.3-70b-instruct')?.capabilities).toEqual({ tools: true, images: false, jsonSchema: false });
    expect(byId(models, 'meta-llama/llama-3.3-70b-instruct:free')).toMatchObject({ inputPricePerMillion: 0, outputPricePerMillion: 0 });
    expect(byId(models, 'meta-llama/llama-3.3-70b-instruct:free')?.maxOutputTokens).toBeUndefined();
    // The auto router's "-1" means the price depends on the model it picks: no price at all.
    expect(byId(models, 'openrouter/auto')?.inputPricePerMillion).toBeUndefined();
    expect(byId(models, 'openai/gpt-4o')?.raw).toMatchObject({ pricing: { prompt: '0.0000025' } });
  });

  it('takes input_cache_read as the cached-prompt price, and lists none where OpenRouter lists none', async () => {
    server.set('/cached', { body: fixture('openrouter-models.json') });
    const models = await createOpenRouterSource({ url: `${server.url}/cached` }).load(signal());
    // Anthropic's reads are a tenth of its prompt price, OpenAI's (gpt-4o) half of it.
    expect(byId(models, 'anthropic/claude-3.5-sonnet')).toMatchObject({ inputPricePerMillion: 3, cachedInputPricePerMillion: 0.3 });
    expect(byId(models, 'openai/gpt-4o')).toMatchObject({ inputPricePerMillion: 2.5, cachedInputPricePerMillion: 1.25 });
    expect(byId(models, 'openai/gpt-4o-mini')).not.toHaveProperty('cachedInputPricePerMillion');
    expect(byId(models, 'openrouter/auto')).not.toHaveProperty('cachedInputPricePerMillion');
    const varies = normaliseOpenRouterModel({ id: 'a/auto', pricing: { prompt: '-1', completion: '-1', input_cache_read: '-1' } });
    expect(varies).not.toHaveProperty('cachedInputPricePerMillion');
    const numeric = normaliseOpenRouterModel({
      id: 'a/b',
      pricing: { prompt: 0.000002, completion: 0.000004, input_cache_read: 0.0000005 },
    });
    expect(numeric.cachedInputPricePerMillion).toBe(0.5);
  });

  it('holds input_cache_read to the bounds of the other prices, naming its path', async () => {
    for (const [cached, reason] of [
      ['"-0.0000003"', 'a price from 0 US dollars per token, or -1 (varies)'],
      ['"1e300"', 'a price up to 1000 US dollars per token'],
      ['"cheap"', 'a decimal number'],
    ] as const) {
      server.set('/cached-bad', {
        body: `{"data":[{"id":"a/b","pricing":{"prompt":"0.000003","completion":"0.000015","input_cache_read":${cached}}}]}`,
      });
      const err = await failure(createOpenRouterSource({ url: `${server.url}/cached-bad` }).load(signal()));
      expect(err.message).toMatch(`OpenRouter models: unexpected shape at $.data[0].pricing.input_cache_read: ${reason}`);
    }
  });

  it('takes input_cache_write as the cache-write price, and lists none where OpenRouter lists none', async () => {
    server.set('/cache-write', { body: fixture('openrouter-models.json') });
    const models = await createOpenRouterSource({ url: `${server.url}/cache-write` }).load(signal());
    expect(byId(models, 'anthropic/claude-3.5-sonnet')).toMatchObject({ inputPricePerMillion: 3, cacheWritePricePerMillion: 3.75 });
    expect(byId(models, 'openai/gpt-4o')).not.toHaveProperty('cacheWritePricePerMillion');
    expect(byId(models, 'openrouter/auto')).not.toHaveProperty('cacheWritePricePerMillion');
    const varies = normaliseOpenRouterModel({ id: 'a/auto', pricing: { prompt: '-1', completion: '-1', input_cache_write: '-1' } });
    expect(varies).not.toHaveProperty('cacheWritePricePerMillion');
    const numeric = normaliseOpenRouterModel({
      id: 'a/b',
      pricing: { prompt: 0.000002, completion: 0.000004, input_cache_write: 0.0000025 },
    });
    expect(numeric.cacheWritePricePerMillion).toBe(2.5);
    const nulled = normaliseOpenRouterModel({
      id: 'a/c',
      pricing: { prompt: '0.000002', completion: '0.000004', input_cache_write: null },
    });
    expect(nulled).not.toHaveProperty('cacheWritePricePerMillion');
  });

  it('holds input_cache_write to the bounds of the other prices, naming its path', async () => {
    for (const [written, reason] of [
      ['"-0.0000003"', 'a price from 0 US dollars per token, or -1 (varies)'],
      ['"1e300"', 'a price up to 1000 US dollars per token'],
      ['"dear"', 'a decimal number'],
    ] as const) {
      server.set('/cache-write-bad', {
        body: `{"data":[{"id":"a/b","pricing":{"prompt":"0.000003","completion":"0.000015","input_cache_write":${written}}}]}`,
      });
      const err = await failure(createOpenRouterSource({ url: `${server.url}/cache-write-bad` }).load(signal()));
      expect(err.message).toMatch(`OpenRouter models: unexpected shape at $.data[0].pricing.input_cache_write: ${reason}`);
    }
  });

  it("takes the model's context_length as its window, and top_provider's only when the model gives none", () => {
    const both = normaliseOpenRouterModel({ id: 'vendor/both', context_length: 128_000, top_provider: { context_length: 32_000 } });
    const providerOnly = normaliseOpenRouterModel({ id: 'vendor/provider-only', top_provider: { context_length: 32_000 } });
    expect(both.contextWindow).toBe(128_000);
    expect(providerOnly.contextWindow).toBe(32_000);
  });

  it('sees a changed price, a new model and a removed one on the next load', async () => {
    const source = createOpenRouterSource({ url: `${server.url}/changing` });
    server.set('/changing', { body: fixture('openrouter-models.json') });
    const before = await source.load(signal());
    server.set('/changing', { body: fixture('openrouter-models-changed.json') });
    const after = await source.load(signal());
    expect(byId(before, 'openai/gpt-4o')).toMatchObject({ inputPricePerMillion: 2.5, outputPricePerMillion: 10 });
    expect(byId(after, 'openai/gpt-4o')).toMatchObject({ inputPricePerMillion: 2, outputPricePerMillion: 8 });
    expect(byId(before, 'openai/gpt-4.1')).toBeUndefined();
    expect(byId(after, 'openai/gpt-4.1')).toMatchObject({ contextWindow: 1_047_576, maxOutputTokens: 32_768 });
    expect(byId(before, 'anthropic/claude-3.5-sonnet')).toBeDefined();
    expect(byId(after, 'anthropic/claude-3.5-sonnet')).toBeUndefined();
  });

  it('refuses a body of another shape, naming the path of the first problem', async () => {
    server.set('/shape', { body: JSON.stringify({ data: [{ id: 'a/b', pricing: { prompt: 'cheap', completion: '0' } }] }) });
    const err = await failure(createOpenRouterSource({ url: `${server.url}/shape` }).load(signal()));
    expect(err.kind).toBe('malformed');
    expect(err.message).toMatch(/OpenRouter models: unexpected shape at \$\.data\[0\]\.pricing\.prompt/);
    server.set('/html', { body: '<html>maintenance</html>', headers: { 'content-type': 'text/html' } });
    expect((await failure(createOpenRouterSource({ url: `${server.url}/html` }).load(signal()))).message).toMatch(/not valid JSON/);
    server.set('/nodata', { body: '{"models":[]}' });
    expect((await failure(createOpenRouterSource({ url: `${server.url}/nodata` }).load(signal()))).message).toMatch(/at \$\.data: /);
  });

  it('refuses a price beyond any real one rather than storing it as no price (free)', async () => {
    // "1e300" per token is Infinity per million, "1e400" Infinity already: both were kept as no price.
    for (const [pricing, field] of [
      ['"prompt":"1e300","completion":"0.000001"', 'prompt'],
      ['"prompt":"0.000001","completion":"1e400"', 'completion'],
      ['"prompt":"1001","completion":"0.000001"', 'prompt'],
    ] as const) {
      server.set('/absurd', { body: `{"data":[{"id":"a/b","pricing":{${pricing}}}]}` });
      const err = await failure(createOpenRouterSource({ url: `${server.url}/absurd` }).load(signal()));
      expect(err.message).toBe(
        `OpenRouter models: unexpected shape at $.data[0].pricing.${field}: a price up to 1000 US dollars per token`,
      );
    }
    // The most a model costs today is far below the bound, and the auto router's "-1" is still no price.
    server.set('/dear', {
      body: '{"data":[{"id":"a/b","pricing":{"prompt":"0.00015","completion":"1000"}},{"id":"a/auto","pricing":{"prompt":"-1","completion":"-1"}}]}',
    });
    const [dear, auto] = await createOpenRouterSource({ url: `${server.url}/dear` }).load(signal());
    expect(dear).toMatchObject({ inputPricePerMillion: 150, outputPricePerMillion: 1e9 });
    expect(auto?.inputPricePerMillion).toBeUndefined();
  });

  it('reads only -1 as "varies": any other negative price fails the run, naming its path', async () => {
    // A negative price was read as no price, so a model only OpenRouter lists was charged nothing.
    for (const [pricing, field] of [
      ['"prompt":"-0.000003","completion":"0.000001"', 'prompt'],
      ['"prompt":"0.000001","completion":-2', 'completion'],
      ['"prompt":"-1.5","completion":"0.000001"', 'prompt'],
    ] as const) {
      server.set('/negative', { body: `{"data":[{"id":"a/b","pricing":{${pricing}}}]}` });
      const err = await failure(createOpenRouterSource({ url: `${server.url}/negative` }).load(signal()));
      expect(err.message).toBe(
        `OpenRouter models: unexpected shape at $.data[0].pricing.${field}: a price from 0 US dollars per token, or -1 (varies)`,
      );
    }
    server.set('/varies', { body: '{"data":[{"id":"a/auto","pricing":{"prompt":-1,"completion":"-1.0"}}]}' });
    const [auto] = await createOpenRouterSource({ url: `${server.url}/varies` }).load(signal());
    expect(auto).not.toHaveProperty('inputPricePerMillion');
    expect(auto).not.toHaveProperty('outputPricePerMillion');
  });

  it('gives up on a source that does not answer in time', async () => {
    server.set('/hang', { hang: true });
    const started = Date.now();
    const err = await failure(createOpenRouterSource({ url: `${server.url}/hang`, timeoutMs: 150 }).load(signal()));
    expect(err.kind).toBe('timeout');
    expect(err.message).toMatch(/did not answer within 150 ms/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('surfaces a 429 with its Retry-After, and other statuses by number', async () => {
    server.set('/limited', { status: 429, headers: { 'retry-after': '120' }, body: '{"error":{"message":"Rate limit exceeded"}}' });
    const err = await failure(createOpenRouterSource({ url: `${server.url}/limited` }).load(signal()));
    expect(err).toMatchObject({ kind: 'rate_limited', retryAfterMs: 120_000 });
    expect(err.message).toMatch(/429.*Retry-After 120 s/);
    server.set('/down', { status: 503, body: 'upstream unavailable' });
    expect(await failure(createOpenRouterSource({ url: `${server.url}/down` }).load(signal()))).toMatchObject({
      kind: 'http',
      message: expect.stringMatching(/HTTP 503/),
    });
  });

  it('refuses an answer over the size limit', async () => {
    server.set('/big', { body: fixture('openrouter-models.json') });
    const err = await failure(createOpenRouterSource({ url: `${server.url}/big`, maxBytes: 1_000 }).load(signal()));
    expect(err).toMatchObject({ kind: 'too_large' });
  });

  it('reads a file: URL, for installations without outside network', async () => {
    const url = pathToFileURL(resolve(FIXTURES, 'openrouter-models.json')).href;
    const models = await createOpenRouterSource({ url }).load(signal());
    expect(byId(models, 'openai/gpt-4o')?.inputPricePerMillion).toBe(2.5);
    const missing = await failure(createOpenRouterSource({ url: `${url}.missing` }).load(signal()));
    expect(missing.message).toMatch(/cannot read .*ENOENT/);
  });

  it('reads a document saved with a UTF-8 byte order mark, over HTTP and from a file', async () => {
    const body = `\uFEFF${fixture('openrouter-models.json')}`;
    server.set('/bom', { body });
    expect(byId(await createOpenRouterSource({ url: `${server.url}/bom` }).load(signal()), 'openai/gpt-4o')?.inputPricePerMillion).toBe(
      2.5,
    );
    const file = join(mkdtempSync(join(tmpdir(), 'catalog-bom-')), 'openrouter-models.json');
    writeFileSync(file, body);
    const fromFile = await createOpenRouterSource({ url: pathToFileURL(file).href }).load(signal());
    expect(byId(fromFile, 'openai/gpt-4o')?.inputPricePerMillion).toBe(2.5);
  });

  it('holds a file: URL to the same size limit', async () => {
    const url = pathToFileURL(resolve(FIXTURES, 'openrouter-models.json')).href;
    const err = await failure(createOpenRouterSource({ url, maxBytes: 1_000 }).load(signal()));
    expect(err).toMatchObject({ kind: 'too_large', message: expect.stringMatching(/over the limit of 1000 bytes/) });
  });
});
