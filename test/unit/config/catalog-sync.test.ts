import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigFileError, loadConfigFile } from '../../../src/config/file.js';

const dir = mkdtempSync(join(tmpdir(), 'llmo-sync-config-'));
function file(text: string): string {
  const path = join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(path, text);
  return path;
}

describe('catalog.sync in the config file', () => {
  it('is off when absent: no source runs, SyncCatalog is refused', () => {
    expect(loadConfigFile(file('providers: []\n')).catalogSync).toBeUndefined();
  });

  it('an empty section is all defaults: every schedule off, OpenRouter and the Hub at their public addresses', () => {
    expect(loadConfigFile(file('catalog:\n  sync: {}\n')).catalogSync).toEqual({
      timeoutMs: 30_000,
      maxBodyBytes: 32 * 1024 * 1024,
      fuzzyThreshold: 0.85,
      overrides: {},
      retry: { maxAttempts: 4, initialBackoffMs: 60_000, maxBackoffMs: 1_800_000 },
      openrouter: { url: 'https://openrouter.ai/api/v1/models', interval: undefined },
      arena: undefined,
      huggingface: { url: 'https://huggingface.co/api/models', interval: undefined, models: [], tokenEnv: undefined },
    });
  });

  it('reads intervals, file: URLs, overrides and the Hub list', () => {
    const config = loadConfigFile(
      file(
        [
          'catalog:',
          '  sync:',
          '    overrides: { "openai/gpt-4o:extended": gpt-4o, "x-ai/grok-3": null }',
          '    openrouter: { url: "file:///srv/openrouter.json", interval: 6h }',
          '    arena: { url: "http://mirror.internal/arena.csv", interval: "0 4 * * 1", reference_score: 1250 }',
          '    huggingface: { interval: 1d, models: [meta-llama/Llama-3.1-8B-Instruct], token_env: HF_TOKEN }',
        ].join('\n'),
      ),
    ).catalogSync;
    expect(config?.openrouter).toEqual({ url: 'file:///srv/openrouter.json', interval: { kind: 'every', ms: 6 * 3_600_000 } });
    expect(config?.arena).toMatchObject({ interval: { kind: 'cron', pattern: '0 4 * * 1' }, referenceScore: 1250, format: 'auto' });
    expect(config?.huggingface).toMatchObject({ interval: { kind: 'every', ms: 86_400_000 }, tokenEnv: 'HF_TOKEN' });
    expect(config?.overrides).toEqual({ 'openai/gpt-4o:extended': 'gpt-4o', 'x-ai/grok-3': null });
  });

  it('names the path and the problem for a bad interval, URL or Hub id', () => {
    const path = file(
      [
        'catalog:',
        '  sync:',
        '    openrouter: { interval: 10s }',
        '    arena: { url: "ftp://example.com/a.csv", interval: "sometimes" }',
        '    huggingface: { url: "http://169.254.169.254/latest", models: [llama] }',
      ].join('\n'),
    );
    let problems: readonly string[] = [];
    try {
      loadConfigFile(path);
    } catch (err) {
      if (err instanceof ConfigFileError) problems = err.problems;
    }
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^catalog\.sync\.openrouter\.interval: at least 1m/),
        expect.stringMatching(/^catalog\.sync\.arena\.url: only http, https and file/),
        expect.stringMatching(/^catalog\.sync\.arena\.interval: "sometimes" is neither off/),
        expect.stringMatching(/^catalog\.sync\.huggingface\.url: .*link-local/),
        expect.stringMatching(/^catalog\.sync\.huggingface\.models\[0\]: a Hub id/),
      ]),
    );
  });
});
