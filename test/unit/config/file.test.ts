import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigFileError, fileSchema, loadConfigFile } from '../../../src/config/file.js';
import { DEFAULT_PROFILE_WEIGHTS } from '../../../src/engine/index.js';
import { checkProviderUrl, checkResolvedHost, isLinkLocal, isMetadataAddress, type HostLookup } from '../../../src/config/ssrf.js';

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
    expect(config.providers.map((p) => `${p.name}:${p.kind}`)).toEqual([
      'openai:openai',
      'openrouter:openai',
      'ollama:openai',
      'anthropic:anthropic',
    ]);
    expect(config.providers[1]?.headers).toMatchObject({ 'X-Title': 'llm-orchestrator' });
    const llama = config.models.find((m) => m.id === 'llama3.1-8b');
    expect(llama).toMatchObject({
      provider: 'ollama',
      upstreamId: 'llama3.1:8b',
      aliases: ['llama', 'llama3'],
      tier: 'small',
      quality: 0.55,
    });
    expect(config.providers.find((p) => p.kind === 'anthropic')).toMatchObject({
      baseURL: 'https://api.anthropic.com',
      anthropicVersion: '2023-06-01',
    });
    // The example lists every profile with the defaults, so it documents what leaving one out means.
    expect(config.routing.profiles).toEqual(DEFAULT_PROFILE_WEIGHTS);
  });

  it('documents every key of the schema in the example', () => {
    const example = readFileSync('config/example.yaml', 'utf8');
    const keys = schemaKeys(fileSchema);
    expect(keys).toEqual(
      expect.arrayContaining(['providers[].anthropic_version', 'routing.profiles.long_context', 'routing.profiles.speed.ttft']),
    );
    // A key counts as documented when it appears as `key:` (set, or in a comment, for optional ones).
    const documented = (path: string) => new RegExp(`(^|[\\s{,#-])${path.slice(path.lastIndexOf('.') + 1)}:`, 'm').test(example);
    expect(keys.filter((path) => !documented(path))).toEqual([]);
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

  it('refuses a routing profile it does not know by naming the profiles it does, long_context among them', () => {
    const path = file('profiles.yaml', 'routing:\n  profiles:\n    long-context: { context: 0.5 }\n');
    expect(problemsOf(path)).toEqual([
      'routing.profiles: unknown profile "long-context": the profiles are quality, balanced, speed, budget, long_context',
    ]);
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

  it('refuses a model whose maximum output is larger than its context window, naming the model and both fields', () => {
    const path = file(
      'window.yaml',
      `providers:
  - { name: a, kind: openai, base_url: "http://127.0.0.1:1/v1" }
models:
  - { id: small-window, provider: a, context_window: 8000, max_output_tokens: 16000, input_price_per_million: 0, output_price_per_million: 0, family: f, tier: small, quality: 0.5 }
  - { id: even, provider: a, context_window: 8000, max_output_tokens: 8000, input_price_per_million: 0, output_price_per_million: 0, family: f, tier: small, quality: 0.5 }
include_builtin_models: false
`,
    );
    expect(problemsOf(path)).toEqual([
      'models[0].max_output_tokens: model "small-window": max_output_tokens (16000) exceeds context_window (8000)',
    ]);
  });

  it('refuses two API keys with the same digest, which would leave the second one never matched', () => {
    const digest = 'd48fce52832c460238fb82e9f6c57be593ad27ea6ddb5e15d74d1fb4245a76cd';
    const path = file(
      'same-key.yaml',
      `access:
  api_keys:
    - { name: alice, sha256: ${digest} }
    - { name: alice-admin, sha256: ${digest.toUpperCase()}, scopes: [admin] }
`,
    );
    expect(problemsOf(path)).toEqual(['access.api_keys[1].sha256: the same key as access.api_keys[0] (alice)']);
  });

  it('refuses provider headers no HTTP request can carry, which would fail every call as unreachable', () => {
    const path = file(
      'headers.yaml',
      `providers:
  - name: a
    kind: openai
    base_url: "http://127.0.0.1:1/v1"
    headers: { "X-Title": "my app", "Bad Name": "x", "X-Two-Lines": "a\\nb" }
`,
    );
    expect(problemsOf(path)).toEqual([
      'providers[0].headers: "Bad Name" is not a valid HTTP header name',
      'providers[0].headers: the value of "X-Two-Lines" is not a valid HTTP header value (no line breaks or control characters)',
    ]);
  });

  // Node fires a longer timer after 1 ms: every call to the provider failed UPSTREAM_TIMEOUT at once.
  it('refuses a timeout_ms longer than a timer waits, naming the limit', () => {
    const path = file(
      'timeouts.yaml',
      `providers:
  - { name: a, kind: openai, base_url: "http://127.0.0.1:1/v1", timeout_ms: 2592000000 }
  - { name: b, kind: openai, base_url: "http://127.0.0.1:2/v1", timeout_ms: 2147483647 }
catalog:
  sync:
    timeout_ms: 3000000000
`,
    );
    expect(problemsOf(path)).toEqual([
      'providers[0].timeout_ms: at most 2147483647 ms (about 24.8 days, the longest a timer waits)',
      'catalog.sync.timeout_ms: at most 2147483647 ms (about 24.8 days, the longest a timer waits)',
    ]);
  });

  it("hands each provider's timeout_ms to its calls, and leaves it unset where the file does", () => {
    const path = file(
      'provider-timeout.yaml',
      `providers:
  - { name: slow, kind: openai, base_url: "http://127.0.0.1:1/v1", timeout_ms: 1500 }
  - { name: plain, kind: anthropic, base_url: "http://127.0.0.1:2" }
`,
    );
    expect(loadConfigFile(path).providers.map((p) => [p.name, p.timeoutMs])).toEqual([
      ['slow', 1500],
      ['plain', undefined],
    ]);
  });

  it('prices cached prompt tokens at the input price when a model gives no cached price, and at its own when it does', () => {
    const model = (id: string, extra: string) =>
      `  - { id: ${id}, provider: openai, context_window: 1000, max_output_tokens: 100, input_price_per_million: 2.5, output_price_per_million: 10, family: f, tier: small, quality: 0.5${extra} }`;
    const path = file(
      'cached-price.yaml',
      `models:\n${model('plain', '')}\n${model('cached', ', cached_input_price_per_million: 1.25')}\n`,
    );
    expect(loadConfigFile(path).models.map((m) => [m.id, m.cachedInputPricePerMillion])).toEqual([
      ['plain', 2.5],
      ['cached', 1.25],
    ]);
  });

  it("takes a cache_write_price_per_million as the model's write price, none when left out, and refuses a negative one", () => {
    const model = (id: string, extra: string) =>
      `  - { id: ${id}, provider: openai, context_window: 1000, max_output_tokens: 100, input_price_per_million: 2, output_price_per_million: 10, family: f, tier: small, quality: 0.5${extra} }`;
    const path = file('write-price.yaml', `models:\n${model('plain', '')}\n${model('written', ', cache_write_price_per_million: 4')}\n`);
    expect(loadConfigFile(path).models.map((m) => [m.id, m.cacheWritePricePerMillion])).toEqual([
      ['plain', undefined],
      ['written', 4],
    ]);
    expect(loadConfigFile(path).models[0]).not.toHaveProperty('cacheWritePricePerMillion');
    const negative = file('write-price-negative.yaml', `models:\n${model('bad', ', cache_write_price_per_million: -1')}\n`);
    expect(problemsOf(negative)).toEqual([expect.stringMatching(/^models\[0\]\.cache_write_price_per_million: /)]);
  });

  it('takes a routing.fallback_depth from 1 to 8, as documented, and refuses 0 and 9', () => {
    const depth = (n: number) => file(`depth-${n}.yaml`, `routing: { fallback_depth: ${n} }\n`);
    expect([1, 8].map((n) => loadConfigFile(depth(n)).routing.fallbackDepth)).toEqual([1, 8]);
    expect(problemsOf(depth(9))).toEqual([expect.stringMatching(/^routing\.fallback_depth: .*8/)]);
    expect(problemsOf(depth(0))).toEqual([expect.stringMatching(/^routing\.fallback_depth: .*1/)]);
  });

  it('reports unreadable and unparsable files', () => {
    expect(problemsOf(join(dir, 'missing.yaml'))[0]).toMatch(/cannot read the file: ENOENT/);
    expect(problemsOf(file('broken.yaml', 'providers: [ {'))[0]).toMatch(/not valid YAML/);
  });

  // V8 quotes the text around the fault ('..."123456"}},]}" is not valid JSON'): the end of a header's token here.
  it('says why JSON does not parse without quoting the file, whose headers may hold a token', () => {
    const json = '{"providers": [{"name": "p", "headers": {"Authorization": "Bearer sk-live-abcdef123456"}},]}';
    expect(problemsOf(file('broken.json', json))).toEqual(["not valid JSON: Unexpected token ']'"]);
    expect(problemsOf(file('broken-lines.json', '{"token":\n tok-abcdef123456}'))).toEqual(["not valid JSON: Unexpected token 'o'"]);
    expect(problemsOf(file('broken2.json', '{"headers": {"X-Token": "tok-abcdef123456"} x}'))).toEqual([
      "not valid JSON: Expected ',' or '}' after property value in JSON at position 44",
    ]);
  });

  // JSON.parse keeps a repeated key's last value: the corrected spelling of a key and its first try, say.
  it('refuses a key written twice in JSON as in YAML, by line and column, without quoting the file', () => {
    const json =
      '{"providers": [{"name": "p", "kind": "openai", "base_url": "http://127.0.0.1:8080/v1",\n  "headers": {"Authorization": "Bearer sk-old-abcdef", "Authorization": "Bearer sk-live-abcdef123456"}}]}';
    expect(problemsOf(file('twice.json', json))).toEqual(['not valid JSON: Map keys must be unique at line 2, column 56']);
    const yaml =
      'providers:\n  - name: p\n    headers: { Authorization: Bearer sk-old-abcdef, Authorization: Bearer sk-live-abcdef123456 }\n';
    expect(problemsOf(file('twice.yaml', yaml))).toEqual(['not valid YAML: Map keys must be unique at line 3, column 53']);
  });

  it('keeps a .json file to JSON: YAML-only syntax is refused there', () => {
    expect(problemsOf(file('yaml-in.json', 'include_builtin_models: false\n'))[0]).toMatch(/^not valid JSON: /);
    expect(problemsOf(file('comment.json', '{"include_builtin_models": false # off\n}'))[0]).toMatch(/^not valid JSON: /);
    expect(problemsOf(file('empty.json', ''))[0]).toMatch(/^not valid JSON: /);
  });
});

/** Every key path of a zod object schema ("providers[].base_url"), through optionals, defaults and arrays. */
function schemaKeys(schema: z.ZodType, prefix = ''): string[] {
  if (schema instanceof z.ZodOptional || schema instanceof z.ZodDefault) return schemaKeys(schema.unwrap() as z.ZodType, prefix);
  if (schema instanceof z.ZodArray) return schemaKeys(schema.element as z.ZodType, `${prefix}[]`);
  if (!(schema instanceof z.ZodObject)) return [];
  return Object.entries(schema.shape as Record<string, z.ZodType>).flatMap(([key, value]) => {
    const path = prefix ? `${prefix}.${key}` : key;
    return [path, ...schemaKeys(value, path)];
  });
}

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

  it('ignores the trailing dot of a fully qualified host name', () => {
    expect(refuse('http://metadata.google.internal./computeMetadata/v1')).toMatch(
      /^metadata\.google\.internal is a cloud metadata endpoint/,
    );
    expect(refuse('http://METADATA.goog../')).toMatch(/metadata\.goog is a cloud metadata endpoint/);
  });

  it('refuses the Alibaba Cloud metadata address, not the rest of 100.64.0.0/10', () => {
    expect(refuse('http://100.100.100.200/latest/meta-data')).toMatch(/100\.100\.100\.200 is a cloud metadata address/);
    expect(refuse('http://[::ffff:100.100.100.200]/')).toMatch(/cloud metadata address/);
    expect(refuse('http://[fd00:ec2:0::254]/')).toMatch(/cloud metadata address/);
    expect(refuse('http://100.101.102.103:8080/v1')).toBeUndefined();
    expect(isMetadataAddress('100.100.100.200')).toBe(true);
    expect(isMetadataAddress('100.100.100.201')).toBe(false);
  });

  it('lets a provider opt in explicitly', () => {
    expect(checkProviderUrl('http://169.254.169.254/v1', { allowLinkLocal: true })).toBeUndefined();
  });

  it('applies the guard when a file is loaded', () => {
    const path = file('ssrf.yaml', 'providers:\n  - { name: evil, kind: openai, base_url: "http://169.254.169.254/v1" }\n');
    expect(problemsOf(path)).toEqual([expect.stringMatching(/^providers\[0\]\.base_url: 169\.254\.169\.254 is a link-local address/)]);
  });

  it('names a base URL it cannot read without the password in it', () => {
    const path = file('broken-url.yaml', 'providers:\n  - { name: p, kind: openai, base_url: "http://admin:s3cret@my host/v1" }\n');
    const problems = problemsOf(path);
    expect(problems).toEqual([expect.stringMatching(/^providers\[0\]\.base_url: .* is not a URL/)]);
    expect(problems.join('\n')).not.toContain('s3cret');
  });

  it('classifies addresses', () => {
    expect(isLinkLocal('169.254.1.1')).toBe(true);
    expect(isLinkLocal('fe80::abcd')).toBe(true);
    expect(isLinkLocal('127.0.0.1')).toBe(false);
    expect(isLinkLocal('example.com')).toBe(false);
  });
});

describe('provider host resolution guard (SSRF, DNS half)', () => {
  const lookups: string[] = [];
  const resolvesTo =
    (...addresses: string[]): HostLookup =>
    async (host) => {
      lookups.push(host);
      return addresses.map((address) => ({ address }));
    };
  const check = (url: string, lookup: HostLookup, allowLinkLocal = false) => checkResolvedHost(url, { allowLinkLocal, lookup });

  it('refuses a host when any of its addresses is link-local or a metadata address', async () => {
    expect(await check('https://llm.internal.example/v1', resolvesTo('10.0.0.7', '169.254.169.254'))).toBe(
      'llm.internal.example resolves to link-local address 169.254.169.254 (set allow_link_local to permit)',
    );
    expect(await check('https://llm.example/v1', resolvesTo('100.100.100.200'))).toMatch(
      /resolves to cloud metadata address 100\.100\.100\.200/,
    );
    expect(await check('https://llm.example/v1', resolvesTo('fe80::1'))).toMatch(/link-local address fe80::1/);
    // With an interface zone, as some resolvers give link-local IPv6 answers.
    expect(await check('https://llm.example/v1', resolvesTo('fe80::1%eth0'))).toMatch(/link-local address fe80::1%eth0/);
  });

  it('accepts ordinary, loopback and private addresses', async () => {
    expect(await check('https://api.openai.com/v1', resolvesTo('104.18.6.192', '2606:4700::6812:6c0'))).toBeUndefined();
    expect(await check('http://ollama.lan:11434/v1', resolvesTo('192.168.1.20'))).toBeUndefined();
    expect(await check('http://localhost:11434/v1', resolvesTo('127.0.0.1', '::1'))).toBeUndefined();
  });

  it('looks up the host without its trailing dot, never IP literals, and not at all when allowed', async () => {
    lookups.length = 0;
    expect(await check('http://Metadata.Example.', resolvesTo('169.254.169.254'))).toMatch(/^metadata\.example resolves to link-local/);
    expect(await check('http://10.1.2.3/v1', resolvesTo('169.254.169.254'))).toBeUndefined();
    expect(await check('http://evil.example/v1', resolvesTo('169.254.169.254'), true)).toBeUndefined();
    expect(lookups).toEqual(['metadata.example']);
  });

  it('lets a failed lookup reach the caller', async () => {
    const failing: HostLookup = async () => {
      throw Object.assign(new Error('getaddrinfo ENOTFOUND nowhere.invalid'), { code: 'ENOTFOUND' });
    };
    await expect(check('http://nowhere.invalid/v1', failing)).rejects.toThrow(/ENOTFOUND/);
  });
});
