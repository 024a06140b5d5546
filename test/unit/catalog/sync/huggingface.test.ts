import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SyncError } from '../../../../src/catalog/sync/errors.js';
import { createHuggingFaceSource, normaliseHubModel } from '../../../../src/catalog/sync/huggingface.js';
import type { SourceModel } from '../../../../src/catalog/sync/types.js';
import { startForwardProxy } from '../../../helpers/forward-proxy.js';
import { FIXTURES, type SourceServer, fixture, startSourceServer } from '../../../helpers/source-server.js';

let server: SourceServer;
beforeAll(async () => {
  server = await startSourceServer();
  server.set('/api/models/meta-llama/Llama-3.1-8B-Instruct', { body: fixture('hf/meta-llama/Llama-3.1-8B-Instruct.json') });
  server.set('/api/models/Qwen/Qwen2.5-VL-7B-Instruct', { body: fixture('hf/Qwen/Qwen2.5-VL-7B-Instruct.json') });
});
afterAll(() => server.close());

const signal = () => new AbortController().signal;
const byId = (models: readonly SourceModel[], id: string) => models.find((m) => m.externalId === id);
const MODELS = ['meta-llama/Llama-3.1-8B-Instruct', 'Qwen/Qwen2.5-VL-7B-Instruct'];

describe('Hugging Face Hub source', () => {
  it('reads each configured model: context window, license, capabilities from tags', async () => {
    const models = await createHuggingFaceSource({ url: `${server.url}/api/models`, models: MODELS, token: 'hf_test' }).load(signal());
    expect(byId(models, 'meta-llama/Llama-3.1-8B-Instruct')).toMatchObject({
      source: 'huggingface',
      contextWindow: 131_072,
      license: 'llama3.1',
      capabilities: { tools: false, images: false },
    });
    expect(byId(models, 'Qwen/Qwen2.5-VL-7B-Instruct')).toMatchObject({
      contextWindow: 128_000,
      license: 'apache-2.0',
      capabilities: { images: true },
    });
    // The Hub cannot tell whether the serving engine has a JSON Schema mode.
    expect(byId(models, 'Qwen/Qwen2.5-VL-7B-Instruct')?.capabilities).not.toHaveProperty('jsonSchema');
    expect(server.requests.find((r) => r.path.startsWith('/api/models/meta-llama'))?.headers.authorization).toBe('Bearer hf_test');
  });

  it("takes the window from max_position_embeddings first and the tokenizer's model_max_length last", () => {
    const window = (config: Record<string, number>) => normaliseHubModel({ id: 'org/model', tags: [], config }).contextWindow;
    expect(window({ model_max_length: 1_000_000, seq_length: 4_096, max_position_embeddings: 32_768 })).toBe(32_768);
    expect(window({ model_max_length: 1_000_000, seq_length: 4_096 })).toBe(4_096);
    expect(window({ model_max_length: 1_000_000 })).toBe(1_000_000);
  });

  it('reads the window of a multimodal or GGUF model, the license from a tag, and tools from any tool tag', () => {
    const vision = normaliseHubModel({
      id: 'org/vision',
      tags: ['license:gemma'],
      config: { text_config: { max_position_embeddings: 131_072 } },
    });
    expect(vision).toMatchObject({ contextWindow: 131_072, license: 'gemma' });
    const gguf = normaliseHubModel({ id: 'org/model-GGUF', tags: ['gguf'], gguf: { context_length: 8_192 } });
    expect(gguf.contextWindow).toBe(8_192);
    for (const tag of ['function-calling', 'tool-use', 'tool-calling']) {
      expect(normaliseHubModel({ id: 'org/model', tags: [tag] }).capabilities).toEqual({ tools: true, images: false });
    }
  });

  it('reads every model of a run through the same connections to a forward proxy, not one per model', async () => {
    const proxy = await startForwardProxy({ hosts: { 'hub.invalid': '127.0.0.1' } });
    const ids = [...MODELS, 'meta-llama/Llama-3.1-8B-Instruct-copy', 'Qwen/Qwen2.5-VL-7B-Instruct-copy'];
    server.set('/api/models/meta-llama/Llama-3.1-8B-Instruct-copy', { body: fixture('hf/meta-llama/Llama-3.1-8B-Instruct.json') });
    server.set('/api/models/Qwen/Qwen2.5-VL-7B-Instruct-copy', { body: fixture('hf/Qwen/Qwen2.5-VL-7B-Instruct.json') });
    try {
      const url = `http://hub.invalid:${new URL(server.url).port}/api/models`;
      const models = await createHuggingFaceSource({
        url,
        models: ids,
        proxy: { httpProxy: proxy.url, httpsProxy: proxy.url, noProxy: '' },
      }).load(signal());
      expect(models).toHaveLength(ids.length);
      expect(proxy.seen.map((s) => s.target)).toEqual(ids.map((id) => `${url}/${id}`));
      // undici's pool to the proxy may open a second connection while the first is handed back.
      expect(proxy.connections()).toBeLessThanOrEqual(2);
    } finally {
      await proxy.close();
    }
  });

  it('skips a configured model that is gone, with a warning, and keeps the others', async () => {
    const warnings: string[] = [];
    const models = await createHuggingFaceSource({ url: `${server.url}/api/models`, models: [...MODELS, 'someone/removed-model'] }).load(
      signal(),
      {
        warn: (m) => warnings.push(m),
      },
    );
    expect(models.map((m) => m.externalId)).toEqual(MODELS);
    expect(warnings).toEqual([expect.stringMatching(/someone\/removed-model skipped: .*HTTP 404/)]);
  });

  it('fails the run on a malformed document, a timeout or a 429', async () => {
    server.set('/broken/org/model', { body: JSON.stringify({ id: 'org/model', config: { max_position_embeddings: 'long' } }) });
    const malformed = await createHuggingFaceSource({ url: `${server.url}/broken`, models: ['org/model'] })
      .load(signal())
      .catch((e: unknown) => e);
    expect(malformed).toBeInstanceOf(SyncError);
    expect((malformed as SyncError).message).toMatch(
      /Hugging Face model org\/model: unexpected shape at \$\.config\.max_position_embeddings/,
    );
    server.set('/slow/org/model', { hang: true });
    const slow = await createHuggingFaceSource({ url: `${server.url}/slow`, models: ['org/model'], timeoutMs: 150 })
      .load(signal())
      .catch((e: unknown) => e);
    expect(slow).toMatchObject({ kind: 'timeout' });
    server.set('/busy/org/model', { status: 429, headers: { 'retry-after': '60' } });
    const busy = await createHuggingFaceSource({ url: `${server.url}/busy`, models: ['org/model', ...MODELS] })
      .load(signal())
      .catch((e: unknown) => e);
    expect(busy).toMatchObject({ kind: 'rate_limited', retryAfterMs: 60_000 });
  });

  it('bounds the whole run by timeout_ms, not each model document by it', async () => {
    // Each document answers well within the limit; together they take twice as long.
    const ids = ['org/one', 'org/two', 'org/three', 'org/four'];
    for (const id of ids) server.set(`/sluggish/${id}`, { delayMs: 150, body: JSON.stringify({ id }) });
    const started = Date.now();
    const err = await createHuggingFaceSource({ url: `${server.url}/sluggish`, models: ids, timeoutMs: 300 })
      .load(signal())
      .catch((e: unknown) => e);
    const took = Date.now() - started;
    expect(err).toBeInstanceOf(SyncError);
    expect(err).toMatchObject({ kind: 'timeout' });
    expect((err as SyncError).message).toMatch(/did not answer within 300 ms/);
    expect(took).toBeLessThan(550);
    // One model alone still fits.
    const [one] = await createHuggingFaceSource({ url: `${server.url}/sluggish`, models: ['org/one'], timeoutMs: 300 }).load(signal());
    expect(one?.externalId).toBe('org/one');
  });

  it('reads file: URLs: a folder laid out as <org>/<name>.json, or one file holding them all', async () => {
    const dir = pathToFileURL(resolve(FIXTURES, 'hf')).href;
    const fromDir = await createHuggingFaceSource({ url: dir, models: MODELS }).load(signal());
    expect(fromDir.map((m) => m.contextWindow)).toEqual([131_072, 128_000]);
    const file = pathToFileURL(resolve(FIXTURES, 'hf-models.json')).href;
    const fromFile = await createHuggingFaceSource({ url: file, models: ['qwen/qwen2.5-vl-7b-instruct'] }).load(signal());
    expect(fromFile.map((m) => m.externalId)).toEqual(['Qwen/Qwen2.5-VL-7B-Instruct']);
  });
});
