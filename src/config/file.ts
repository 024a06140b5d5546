import { readFileSync } from 'node:fs';
import { validateHeaderName, validateHeaderValue } from 'node:http';
import { isDeepStrictEqual } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { type ModelDefinition, outputPastWindow } from '../catalog/models.js';
import { type CatalogSyncConfig, catalogSectionSchema, catalogSyncOf } from './catalog-sync.js';
import { checkProviderUrl } from './ssrf.js';
import { timerMs } from './env-values.js';
import { proxyUrlSchema } from './upstream-env.js';

/**
 * The config file (CONFIG_FILE, YAML or JSON): providers, models and routing weights.
 * Field names are snake_case as in the file; the result is camelCase and frozen.
 */

const name = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9][a-z0-9._-]*$/i, 'letters, digits, dot, dash and underscore only');

const providerSchema = z
  .object({
    name,
    kind: z.enum(['openai', 'anthropic']),
    base_url: z.string().min(1),
    /** Name of the environment variable holding the key; omit for servers without keys (Ollama). */
    api_key_env: z
      .string()
      .regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name, e.g. OPENROUTER_API_KEY')
      .optional(),
    timeout_ms: timerMs(1).optional(),
    /** Overrides UPSTREAM_MAX_IN_FLIGHT / UPSTREAM_QUEUE_MAX for this provider. */
    max_in_flight: z.number().int().min(0).max(1_000_000).optional(),
    queue_max: z.number().int().min(0).max(1_000_000).optional(),
    headers: z.record(z.string(), z.string()).optional(),
    max_tokens_field: z.enum(['max_tokens', 'max_completion_tokens']).optional(),
    /** kind anthropic: the anthropic-version header (the SDK's default when unset). */
    anthropic_version: z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}$/, 'a date like 2023-06-01')
      .optional(),
    allow_link_local: z.boolean().default(false),
    /** This provider's forward proxy, over HTTPS_PROXY / HTTP_PROXY; `none`: reached directly. */
    proxy: z.union([z.literal('none'), proxyUrlSchema]).optional(),
  })
  .strict();

const modelSchema = z
  .object({
    id: name,
    provider: name,
    upstream_id: z.string().min(1).optional(),
    aliases: z.array(z.string().min(1)).default([]),
    context_window: z.number().int().positive(),
    max_output_tokens: z.number().int().positive(),
    supports_streaming: z.boolean().default(true),
    input_price_per_million: z.number().min(0),
    output_price_per_million: z.number().min(0),
    cached_input_price_per_million: z.number().min(0).optional(),
    /** Unset: writes cost the documented multiple of input_price_per_million (costOf). */
    cache_write_price_per_million: z.number().min(0).optional(),
    family: z.string().min(1),
    tier: z.enum(['small', 'medium', 'large']),
    fallbacks: z.array(z.string().min(1)).default([]),
    quality: z.number().min(0).max(1),
    typical_ttft_ms: z.number().positive().default(500),
    tokens_per_second: z.number().positive().default(60),
    /** What the model takes beyond text; unset: text only (requests using tools, images or a JSON Schema skip it). */
    capabilities: z
      .object({ tools: z.boolean().default(false), images: z.boolean().default(false), json_schema: z.boolean().default(false) })
      .strict()
      .optional(),
  })
  .strict();

/** One profile's weights (see ProfileWeights); keys left out keep their defaults. */
const weight = z.number().min(0);
const weightsSchema = z
  .object({ quality: weight, latency: weight, ttft: weight, cost: weight, reliability: weight, context: weight })
  .partial()
  .strict();

/** The profiles `routing.profiles` may tune, by their names in the engine and the HTTP API. */
const PROFILE_SHAPE = {
  quality: weightsSchema,
  balanced: weightsSchema,
  speed: weightsSchema,
  budget: weightsSchema,
  long_context: weightsSchema,
};

const limitsSchema = z
  .object({ requests_per_minute: z.number().int().positive().optional(), tokens_per_minute: z.number().int().positive().optional() })
  .strict();

const apiKeySchema = z
  .object({
    name,
    /** Hex SHA-256 of the key: `printf '%s' "$KEY" | sha256sum`. The key itself is never stored. */
    sha256: z.string().regex(/^[0-9a-f]{64}$/i, '64 hex characters: the SHA-256 of the key'),
    /** Patterns over canonical model ids (ListModels `id`; requests may use aliases, resolved before the check); `*` matches any characters ("gpt-4o*"). Default: all. */
    allowed_models: z.array(z.string().min(1)).default(['*']),
    limits: limitsSchema.default({}),
    budgets: z
      .object({ usd_per_day: z.number().positive().optional(), usd_per_month: z.number().positive().optional() })
      .strict()
      .default({}),
    /** `admin`: reads every key's usage (UsageService), not only its own. */
    scopes: z.array(z.enum(['admin'])).default([]),
  })
  .strict();

/** Exported for the test that keeps config/example.yaml documenting every key. */
export const fileSchema = z
  .object({
    /** API keys; with none, the service is open. Limits under `global` apply to all callers together. */
    access: z
      .object({ api_keys: z.array(apiKeySchema).default([]), global: limitsSchema.default({}) })
      .strict()
      .default({ api_keys: [], global: {} }),
    providers: z.array(providerSchema).default([]),
    models: z.array(modelSchema).default([]),
    /** Keep the built-in OpenAI catalog (served by the provider named "openai" when there is one). */
    include_builtin_models: z.boolean().default(true),
    routing: z
      .object({
        profiles: z
          .strictObject(PROFILE_SHAPE, {
            // The CLI took long-context once; say what the file calls it rather than only that a key is unknown.
            error: (issue) =>
              issue.code === 'unrecognized_keys'
                ? `unknown profile ${issue.keys.map((k) => `"${k}"`).join(', ')}: the profiles are ${Object.keys(PROFILE_SHAPE).join(', ')}`
                : undefined,
          })
          .partial()
          .default({}),
        fallback_depth: z.number().int().min(1).max(8).default(3),
      })
      .strict()
      .default({ profiles: {}, fallback_depth: 3 }),
    /** Outside catalog sources (catalog-sync.ts). */
    catalog: catalogSectionSchema.optional(),
  })
  .strict();

export interface ProviderSpec {
  readonly name: string;
  readonly kind: 'openai' | 'anthropic';
  readonly baseURL: string;
  readonly apiKeyEnv: string | undefined;
  readonly timeoutMs: number | undefined;
  readonly maxInFlight?: number | undefined;
  readonly queueMax?: number | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly maxTokensField: 'max_tokens' | 'max_completion_tokens' | undefined;
  readonly anthropicVersion?: string | undefined;
  readonly allowLinkLocal: boolean;
  /** A proxy URL or `none`; unset: the environment's (HTTPS_PROXY / HTTP_PROXY / NO_PROXY). */
  readonly proxy?: string | undefined;
}

export interface RateLimitSpec {
  readonly requestsPerMinute: number | undefined;
  readonly tokensPerMinute: number | undefined;
}

export interface ApiKeySpec {
  readonly name: string;
  readonly sha256: string;
  readonly allowedModels: readonly string[];
  readonly limits: RateLimitSpec;
  readonly budgets: { readonly usdPerDay: number | undefined; readonly usdPerMonth: number | undefined };
  readonly scopes?: readonly 'admin'[] | undefined;
}

/** The routing profiles a file may tune: the engine's profile names (the schema refuses any other). */
export type RoutingProfileKey = 'quality' | 'balanced' | 'speed' | 'budget' | 'long_context';

/** A profile's weights as the file gives them; keys left out keep the engine's defaults. */
export type ProfileWeightsOverride = Partial<Record<keyof z.infer<typeof weightsSchema>, number>>;

export interface FileConfig {
  readonly access: { readonly apiKeys: readonly ApiKeySpec[]; readonly global: RateLimitSpec };
  readonly providers: readonly ProviderSpec[];
  readonly models: readonly ModelDefinition[];
  readonly includeBuiltinModels: boolean;
  readonly routing: {
    readonly profiles: Partial<Record<RoutingProfileKey, ProfileWeightsOverride>>;
    readonly fallbackDepth: number;
  };
  /** `catalog.sync`: every default filled in. */
  readonly catalogSync?: CatalogSyncConfig;
}

export class ConfigFileError extends Error {
  constructor(
    readonly file: string,
    readonly problems: readonly string[],
  ) {
    super(`${file}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigFileError';
  }
}

/** Reads, parses and validates the file; every problem is reported as `path: message`. */
export function loadConfigFile(path: string): FileConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigFileError(path, [`cannot read the file: ${(err as NodeJS.ErrnoException).code ?? String(err)}`]);
  }
  const json = /\.json$/i.test(path);
  let raw: unknown;
  try {
    // JSON.parse keeps the syntax JSON (no comments or other YAML in a .json file) but takes the last
    // of a repeated key; JSON being YAML 1.2, the YAML parser then refuses the repetition as in YAML.
    raw = json ? JSON.parse(text) : parseYaml(text);
    if (json) parseYaml(text, { schema: 'json' });
  } catch (err) {
    // V8 quotes the text around a JSON fault, and YAML shows the lines after `line n, column m:`:
    // either may be the end of a header's token.
    const message = (err as Error).message
      .replace(/, (?:\.\.\.)?"[\s\S]*"(?:\.\.\.)? is not valid JSON$/, '')
      .split('\n')[0]
      ?.replace(/:$/, '');
    throw new ConfigFileError(path, [`not valid ${json ? 'JSON' : 'YAML'}: ${message}`]);
  }
  const parsed = fileSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    throw new ConfigFileError(
      path,
      parsed.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`),
    );
  }
  const file = parsed.data;
  const problems: string[] = [];
  const providerNames = new Set<string>();
  file.providers.forEach((p, i) => {
    if (providerNames.has(p.name)) problems.push(`providers[${i}].name: "${p.name}" is declared twice`);
    providerNames.add(p.name);
    const bad = checkProviderUrl(p.base_url, { allowLinkLocal: p.allow_link_local });
    if (bad) problems.push(`providers[${i}].base_url: ${bad}`);
    // Refused by the HTTP client only when a call is made, where it looked like an unreachable upstream.
    for (const [header, value] of Object.entries(p.headers ?? {})) {
      if (!isValid(() => validateHeaderName(header))) problems.push(`providers[${i}].headers: "${header}" is not a valid HTTP header name`);
      else if (!isValid(() => validateHeaderValue(header, value))) {
        problems.push(
          `providers[${i}].headers: the value of "${header}" is not a valid HTTP header value (no line breaks or control characters)`,
        );
      }
    }
    // The Anthropic SDK appends /v1/messages itself.
    if (p.kind === 'anthropic' && /\/v1\/?$/.test(p.base_url)) {
      problems.push(`providers[${i}].base_url: for kind anthropic, leave out the trailing /v1 (e.g. https://api.anthropic.com)`);
    }
  });
  // `openai` is also the OPENAI_* shorthand's provider: the file's own models may name it, built-in catalog or not.
  const known = new Set([...providerNames, 'openai']);
  file.models.forEach((m, i) => {
    if (!known.has(m.provider))
      problems.push(`models[${i}].provider: unknown provider "${m.provider}" (declared: ${[...providerNames].join(', ') || 'none'})`);
    const pastWindow = outputPastWindow({ id: m.id, contextWindow: m.context_window, maxOutputTokens: m.max_output_tokens });
    if (pastWindow) problems.push(`models[${i}].max_output_tokens: ${pastWindow}`);
  });
  const keyNames = new Set<string>();
  // A presented key matches the first entry with its digest: a second entry would never apply.
  const keyDigests = new Map<string, number>();
  file.access.api_keys.forEach((k, i) => {
    if (keyNames.has(k.name)) problems.push(`access.api_keys[${i}].name: "${k.name}" is declared twice`);
    keyNames.add(k.name);
    const first = keyDigests.get(k.sha256.toLowerCase());
    if (first !== undefined) {
      problems.push(`access.api_keys[${i}].sha256: the same key as access.api_keys[${first}] (${file.access.api_keys[first]?.name})`);
    } else keyDigests.set(k.sha256.toLowerCase(), i);
  });
  if (problems.length > 0) throw new ConfigFileError(path, problems);
  return {
    access: {
      apiKeys: file.access.api_keys.map((k) => ({
        name: k.name,
        sha256: k.sha256.toLowerCase(),
        allowedModels: k.allowed_models,
        limits: limitsOf(k.limits),
        budgets: { usdPerDay: k.budgets.usd_per_day, usdPerMonth: k.budgets.usd_per_month },
        scopes: k.scopes,
      })),
      global: limitsOf(file.access.global),
    },
    providers: file.providers.map((p) => ({
      name: p.name,
      kind: p.kind,
      baseURL: p.base_url,
      apiKeyEnv: p.api_key_env,
      timeoutMs: p.timeout_ms,
      maxInFlight: p.max_in_flight,
      queueMax: p.queue_max,
      headers: p.headers ?? {},
      maxTokensField: p.max_tokens_field,
      anthropicVersion: p.anthropic_version,
      allowLinkLocal: p.allow_link_local,
      proxy: p.proxy,
    })),
    models: file.models.map((m) => ({
      id: m.id,
      provider: m.provider,
      ...(m.upstream_id ? { upstreamId: m.upstream_id } : {}),
      aliases: m.aliases,
      contextWindow: m.context_window,
      maxOutputTokens: m.max_output_tokens,
      supportsStreaming: m.supports_streaming,
      inputPricePerMillion: m.input_price_per_million,
      outputPricePerMillion: m.output_price_per_million,
      cachedInputPricePerMillion: m.cached_input_price_per_million ?? m.input_price_per_million,
      ...(m.cache_write_price_per_million === undefined ? {} : { cacheWritePricePerMillion: m.cache_write_price_per_million }),
      family: m.family,
      tier: m.tier,
      fallbacks: m.fallbacks,
      quality: m.quality,
      typicalTtftMs: m.typical_ttft_ms,
      tokensPerSecond: m.tokens_per_second,
      ...(m.capabilities
        ? { capabilities: { tools: m.capabilities.tools, images: m.capabilities.images, jsonSchema: m.capabilities.json_schema } }
        : {}),
    })),
    includeBuiltinModels: file.include_builtin_models,
    routing: { profiles: file.routing.profiles, fallbackDepth: file.routing.fallback_depth },
    // Sources run only where the file names them: SyncCatalog without them is refused, not sent to the internet.
    ...(file.catalog?.sync ? { catalogSync: catalogSyncOf(file.catalog) } : {}),
  };
}

/** The sections read at start-up only, by their names in the file: SIGHUP applies `access` alone. */
const START_UP_SECTIONS: readonly (readonly [string, (file: FileConfig) => unknown])[] = [
  ['providers', (f) => f.providers],
  ['models', (f) => f.models],
  ['include_builtin_models', (f) => f.includeBuiltinModels],
  ['routing', (f) => f.routing],
  ['catalog', (f) => f.catalogSync],
];

/**
 * The sections, other than `access`, whose content differs between two readings of the file. Key
 * order does not count: the keys of `headers` or `catalog.sync.overrides` written in another order
 * change nothing.
 */
export function changedStartUpSections(before: FileConfig | undefined, after: FileConfig): string[] {
  return START_UP_SECTIONS.filter(([, of]) => !isDeepStrictEqual(before && of(before), of(after))).map(([name]) => name);
}

function isValid(check: () => void): boolean {
  try {
    check();
    return true;
  } catch {
    return false;
  }
}

function limitsOf(limits: z.infer<typeof limitsSchema>): RateLimitSpec {
  return { requestsPerMinute: limits.requests_per_minute, tokensPerMinute: limits.tokens_per_minute };
}

function formatPath(path: readonly PropertyKey[]): string {
  return (
    path.reduce<string>((out, key) => (typeof key === 'number' ? `${out}[${key}]` : out ? `${out}.${String(key)}` : String(key)), '') ||
    '(top level)'
  );
}
