import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigFileError, loadConfigFile } from '../../src/config/file.js';
import { checkProviderUrl, isLinkLocal } from '../../src/config/ssrf.js';

const dir = mkdtempSync(join(tmpdir(), 'llmo-config-'));
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function problemsOf(path: string): string[] {
  try {
    loadConfigFile(path);
  } catch (err) {
    if (err instanceof ConfigFileError) {
      expect(err.message.startsWith(`${path}:`)).toBe(true);
      return [...err.problems];
    }
    throw err;
  }
  throw new Error('expected the file to be refused');
}

describe('config file', () => {
  it('loads the documented example', () => {
    const config = loadConfigFile('config/example.yaml');
    expect(config.providers.map((p) => `${p.name}:${p.kind}`)).toEqual(['openai:openai', 'openrouter:openai', 'ollama:openai', 'anthropic:anthropic']);
    expect(config.providers[1]?.headers).toMatchObject({ 'X-Title': 'llm-orchestrator' });
    const llama = config.models.find((m) => m.id === 'llama3.1-8b');
    expect(llama).toMatchObject({ provider: 'ollama', upstreamId: 'llama3.1:8b', aliases: ['llama', 'llama3'], tier: 'small', quality: 0.55 });
    expect(config.routing.profiles.speed).toEqual({ latency: 0.7 });
  });

  it('reads JSON too', () => {
    const path = file('c.json', JSON.stringify({ providers: [{ name: 'local', kind: 'openai', base_url: 'http://127.0.0.1:8080/v1' }] }));
    expect(loadConfigFile(path).providers[0]).toMatchObject({ name: 'local', apiKeyEnv: undefined, allowLinkLocal: false });
  });

  it('names the file, the path and the problem for every mistake', () => {
    const path = file(
      'bad.yaml',
      [
        'providers:',
        '  - name: a',
        '    kind: gemini',
        '    base_url: http://x/v1',
        'models:',
        '  - id: m',
        '    provider: a',
        '    context_window: -5',
        '    max_output_tokens: 10',
        '    input_price_per_million: 1',
        '    output_price_per_million: 1',
        '    family: f',
        '    tier: huge',
        '    quality: 2',
        'colour: blue',
      ].join('\n'),
    );
    const problems = problemsOf(path);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^providers\[0\]\.kind: /),
        expect.stringMatching(/^models\[0\]\.context_window: /),
        expect.stringMatching(/^models\[0\]\.tier: /),
        expect.stringMatching(/^models\[0\]\.quality: /),
        expect.stringMatching(/colour/),
      ]),
    );
  });

  it('refuses a model that names an undeclared provider, and duplicate providers', () => {
    const path = file(
      'refs.yaml',
      `providers:
  - { name: a, kind: openai, base_url: "http://127.0.0.1:1/v1" }
  - { name: a, kind: openai, base_url: "http://127.0.0.1:2/v1" }
models:
  - { id: m, provider: olama, context_window: 10, max_output_tokens: 5, input_price_per_million: 0, output_price_per_million: 0, family: f, tier: small, quality: 0.5 }
include_builtin_models: false
`,
    );
    expect(problemsOf(path)).toEqual([
      'providers[1].name: "a" is declared twice',
      'models[0].provider: unknown provider "olama" (declared: a)',
    ]);
  });

  it('reports unreadable and unparsable files', () => {
    expect(problemsOf(join(dir, 'missing.yaml'))[0]).toMatch(/cannot read the file: ENOENT/);
    expect(problemsOf(file('broken.yaml', 'providers: [ {'))[0]).toMatch(/not valid YAML/);
  });
});

describe('provider URL guard (SSRF)', () => {
  const refuse = (url: string) => checkProviderUrl(url, { allowLinkLocal: false });

  it('allows http and https to ordinary hosts, loopback and private networks', () => {
    for (const url of ['https://api.openai.com/v1', 'http://localhost:11434/v1', 'http://10.0.0.5:8000/v1', 'http://[::1]:8080/v1']) {
      expect(refuse(url)).toBeUndefined();
    }
  });

  it('refuses other schemes, embedded credentials, link-local and metadata addresses', () => {
    expect(refuse('ftp://example.com/v1')).toMatch(/only http and https/);
    expect(refuse('file:///etc/passwd')).toMatch(/only http and https/);
    expect(refuse('https://user:pw@example.com/v1')).toMatch(/credentials/);
    expect(refuse('http://169.254.169.254/latest/meta-data')).toMatch(/link-local/);
    expect(refuse('http://metadata.google.internal/computeMetadata/v1')).toMatch(/metadata/);
    expect(refuse('http://[fe80::1]/v1')).toMatch(/link-local/);
    expect(refuse('http://[::ffff:169.254.169.254]/')).toMatch(/link-local/);
    expect(refuse('not a url')).toMatch(/not a URL/);
  });

  it('lets a provider opt in explicitly', () => {
    expect(checkProviderUrl('http://169.254.169.254/v1', { allowLinkLocal: true })).toBeUndefined();
  });

  it('applies the guard when a file is loaded', () => {
    const path = file('ssrf.yaml', 'providers:\n  - { name: evil, kind: openai, base_url: "http://169.254.169.254/v1" }\n');
    expect(problemsOf(path)).toEqual([expect.stringMatching(/^providers\[0\]\.base_url: 169\.254\.169\.254 is a link-local address/)]);
  });

  it('classifies addresses', () => {
    expect(isLinkLocal('169.254.1.1')).toBe(true);
    expect(isLinkLocal('fe80::abcd')).toBe(true);
    expect(isLinkLocal('127.0.0.1')).toBe(false);
    expect(isLinkLocal('example.com')).toBe(false);
  });
});
