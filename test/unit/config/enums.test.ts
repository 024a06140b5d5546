import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config/config.js';
import { ConfigFileError, loadConfigFile } from '../../../src/config/file.js';
import { ENV_NAMES, allowedValues } from '../../../src/config/schema-info.js';

const ENUM_SETTINGS = ENV_NAMES.flatMap((name) => {
  const values = allowedValues(name);
  return values ? [{ name, values }] : [];
});

describe('enum-like settings refuse values they do not know, at start-up', () => {
  it('finds the enum settings, so the checks below cover them', () => {
    expect(ENUM_SETTINGS.map((s) => s.name)).toEqual(
      expect.arrayContaining(['LOG_LEVEL', 'SIMULATOR', 'REDIS_FAILURE_POLICY', 'METRICS', 'LOG_ROTATE', 'HTTP_ENABLED', 'LEDGER_CONTENT']),
    );
  });

  it.each(ENUM_SETTINGS)('$name accepts each of its values and refuses any other, naming the variable', ({ name, values }) => {
    for (const value of values) expect(() => loadConfig({ [name]: value })).not.toThrow();
    let problems: readonly string[] = [];
    try {
      loadConfig({ [name]: 'bogus-value' });
    } catch (err) {
      if (err instanceof ConfigError) problems = err.problems;
    }
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^${name}: .*\\(got "bogus-value"\\)$`));
  });

  it('in the config file too: provider kind, max_tokens_field, model tier and routing profile names', () => {
    const dir = mkdtempSync(join(tmpdir(), 'llmo-enums-'));
    const path = join(dir, 'bad.yaml');
    writeFileSync(
      path,
      `providers:
  - { name: p, kind: openai-ish, base_url: "https://example.com/v1", max_tokens_field: max_toks }
models:
  - { id: m, provider: p, context_window: 1000, max_output_tokens: 100, input_price_per_million: 1, output_price_per_million: 1, family: f, tier: huge, quality: 0.5 }
routing:
  profiles: { fastest: { latency: 1 } }
`,
    );
    let problems: readonly string[] = [];
    try {
      loadConfigFile(path);
    } catch (err) {
      if (err instanceof ConfigFileError) problems = err.problems;
    }
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^providers\[0\]\.kind: /),
        expect.stringMatching(/^providers\[0\]\.max_tokens_field: /),
        expect.stringMatching(/^models\[0\]\.tier: /),
        expect.stringMatching(/^routing\.profiles: .*fastest/),
      ]),
    );
  });
});
