import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILTIN_MODELS } from '../../../../src/catalog/models.js';
import { createCatalogSync } from '../../../../src/catalog/sync/index.js';
import { createSyncRunner } from '../../../../src/catalog/sync/runner.js';
import type { CatalogSource, SyncReport } from '../../../../src/catalog/sync/types.js';
import { parseCatalogSync } from '../../../../src/config/catalog-sync.js';
import { type SourceServer, fixture, startSourceServer } from '../../../helpers/source-server.js';

let server: SourceServer;
beforeAll(async () => {
  server = await startSourceServer();
});
afterAll(() => server.close());

const known = () => BUILTIN_MODELS;

describe('catalog sync runner', () => {
  it('reports what a source returned, what matched with which rule, and what did not', async () => {
    server.set('/models', { body: fixture('openrouter-models.json') });
    const config = parseCatalogSync({
      sync: { openrouter: { url: `${server.url}/models` }, overrides: { 'openrouter/auto': null } },
    });
    const { runner, sources } = createCatalogSync(config, { known, onReport: () => {} });
    expect(sources).toEqual(['openrouter']);
    const report = await runner.run('openrouter');
    expect(report).toMatchObject({ source: 'openrouter', ok: true });
    expect(report.error).toBeUndefined();
    expect(report.models).toHaveLength(7);
    expect(report.matched).toEqual(
      expect.arrayContaining([
        { externalId: 'openai/gpt-4o', catalogId: 'gpt-4o', rule: 'normalised', confidence: 1 },
        { externalId: 'openai/gpt-4o-mini', catalogId: 'gpt-4o-mini', rule: 'normalised', confidence: 1 },
      ]),
    );
    expect(report.matched).toHaveLength(2);
    expect(report.superseded?.map((m) => m.externalId)).toEqual(['openai/gpt-4o-2024-05-13']);
    expect(report.ignored).toEqual(['openrouter/auto']);
    expect(report.unmatched).toEqual([
      'anthropic/claude-3.5-sonnet',
      'meta-llama/llama-3.3-70b-instruct',
      'meta-llama/llama-3.3-70b-instruct:free',
    ]);
    expect(report.finishedAt.getTime()).toBeGreaterThanOrEqual(report.startedAt.getTime());
  });

  it('turns every failure into a report with the reason, never a throw', async () => {
    server.set('/limited', { status: 429, headers: { 'retry-after': '90' } });
    const config = parseCatalogSync({ sync: { openrouter: { url: `${server.url}/limited` } } });
    const { runner } = createCatalogSync(config, { known, onReport: () => {} });
    const limited = await runner.run('openrouter');
    expect(limited).toMatchObject({ ok: false, retryAfterMs: 90_000, models: [], matched: [], unmatched: [] });
    expect(limited.error).toMatch(/429 Too Many Requests \(Retry-After 90 s\)/);
    // A source the config file does not set up.
    expect(await runner.run('arena')).toMatchObject({ ok: false, error: 'catalog source arena is not configured' });
    // A source that throws something that is not a SyncError.
    const broken: CatalogSource = {
      name: 'huggingface',
      load: async () => {
        throw new TypeError('cannot read properties of undefined');
      },
    };
    const report = await createSyncRunner({ sources: [broken], known }).run('huggingface');
    expect(report).toMatchObject({ ok: false, error: 'TypeError: cannot read properties of undefined' });
  });

  it('keeps the first of a name a source lists more than once, counts it once and warns once', async () => {
    const entry = (id: string, prompt: string) => `{"id":"${id}","pricing":{"prompt":"${prompt}","completion":"0.00001"}}`;
    server.set('/twice', {
      body: `{"data":[${entry('openai/gpt-4o', '0.0000025')},${entry('vendor/other', '0.000001')},${entry('openai/gpt-4o', '0.000005')},${entry('openai/gpt-4o', '0.000009')}]}`,
    });
    const config = parseCatalogSync({ sync: { openrouter: { url: `${server.url}/twice` } } });
    const { runner } = createCatalogSync(config, { known, onReport: () => {} });
    const report = await runner.run('openrouter');
    expect(report.ok).toBe(true);
    expect(report.models.map((m) => [m.externalId, m.inputPricePerMillion])).toEqual([
      ['openai/gpt-4o', 2.5],
      ['vendor/other', 1],
    ]);
    expect(report.warnings).toEqual(['openai/gpt-4o is listed 3 times: the first entry is used']);
  });

  it('hands every report of a run on demand to onReport', async () => {
    server.set('/models', { body: fixture('openrouter-models-changed.json') });
    const reports: SyncReport[] = [];
    const config = parseCatalogSync({ sync: { openrouter: { url: `${server.url}/models` } } });
    const { scheduler } = createCatalogSync(config, { known, onReport: (r) => void reports.push(r) });
    const report = await scheduler.runNow('openrouter');
    expect(reports).toEqual([report]);
    expect(report?.matched.map((m) => m.catalogId).sort()).toEqual(['gpt-4.1', 'gpt-4o', 'gpt-4o-mini']);
    expect(report?.models.find((m) => m.externalId === 'openai/gpt-4o')?.inputPricePerMillion).toBe(2);
  });

  it('reads the Hub token of token_env trimmed, a blank one as no token', async () => {
    server.set('/hub/meta-llama/Llama-3.1-8B-Instruct', { body: fixture('hf/meta-llama/Llama-3.1-8B-Instruct.json') });
    const config = parseCatalogSync({
      sync: { huggingface: { url: `${server.url}/hub`, models: ['meta-llama/Llama-3.1-8B-Instruct'], token_env: 'HUB_TOKEN' } },
    });
    const authorizationWith = async (token: string) => {
      const { runner } = createCatalogSync(config, { known, onReport: () => {}, env: { HUB_TOKEN: token } });
      const from = server.requests.length;
      expect(await runner.run('huggingface')).toMatchObject({ ok: true });
      return server.requests.slice(from).map((r) => r.headers.authorization);
    };
    // A Secret mounted from a file ends with a newline.
    expect(await authorizationWith(' hf_test\n')).toEqual(['Bearer hf_test']);
    expect(await authorizationWith('  ')).toEqual([undefined]);
  });
});
