import { ConfigError, loadConfig, type Config } from './config.js';
import { simulatorPortProblems } from './cross-checks.js';
import { secretFromEnv } from './env-values.js';
import { ConfigFileError, loadConfigFile, type FileConfig, type ProviderSpec } from './file.js';
import { checkProviderUrl } from './ssrf.js';
import { readTlsFiles, type TlsFiles } from './tls-files.js';

type Env = Readonly<Record<string, string | undefined>>;

/** A provider to register: its spec, and its key read from the variable the spec names. */
export interface ResolvedProvider {
  readonly spec: ProviderSpec;
  /** `none` for providers without keys (no api_key_env); undefined: the named variable is unset. */
  readonly apiKey: string | undefined;
  /** Where it was declared, so a problem found later (DNS) names the right setting. */
  readonly source: { readonly file: string; readonly index: number } | 'OPENAI_BASE_URL';
}

/**
 * The environment and CONFIG_FILE as one frozen value: what app.ts wires and nothing else
 * re-reads. The file and the TLS files are read here, once.
 */
export interface ResolvedConfig extends Config {
  /** The parsed CONFIG_FILE; undefined when none is set. */
  readonly file: FileConfig | undefined;
  /** The file's providers in file order, then the OPENAI_* shorthand unless the file names "openai". */
  readonly providers: readonly ResolvedProvider[];
  /** TLS_CERT_FILE, TLS_KEY_FILE and TLS_CLIENT_CA_FILE as read and checked here; undefined without TLS. */
  readonly tlsFiles: TlsFiles | undefined;
}

/** Reads the environment and the config file once; throws ConfigError or ConfigFileError. */
export function resolveConfig(env: Env = process.env): ResolvedConfig {
  return completeConfig(loadConfig(env), env);
}

/**
 * Adds the file and the providers to settings already parsed from the environment. `env` is
 * where providers' key variables are read (a test may keep them apart from the settings).
 */
export function completeConfig(config: Config, env: Env = process.env): ResolvedConfig {
  if (isResolved(config)) return config;
  const tlsFiles = readTlsFiles(config.tls);
  const file = config.configFile ? loadConfigFile(config.configFile) : undefined;
  const resolved = Object.freeze({ ...config, file, providers: Object.freeze(providersOf(config, file, env)), tlsFiles });
  const portProblems = simulatorRuns(resolved) ? simulatorPortProblems(resolved) : [];
  if (portProblems.length > 0) throw new ConfigError(portProblems);
  return resolved;
}

/**
 * The embedded simulator runs when SIMULATOR=on, or (auto) when no provider has its key; a
 * provider with one is registered, or start-up fails on its URL.
 */
export function simulatorRuns(config: ResolvedConfig): boolean {
  return config.simulator.enabled && (config.simulator.forced || config.providers.every((p) => !p.apiKey));
}

export function isResolved(config: Config): config is ResolvedConfig {
  return 'providers' in config && 'file' in config;
}

/**
 * Every configuration problem as the lines printed before exit code 2, or undefined when `err`
 * is not a configuration problem.
 */
export function configProblems(err: unknown): readonly string[] | undefined {
  if (err instanceof ConfigFileError) return err.problems.map((p) => `${err.file}: ${p}`);
  if (err instanceof ConfigError) return err.problems;
  return undefined;
}

/** A configuration problem found after start-up began (a base URL resolving to a refused address). */
export function providerProblem(provider: ResolvedProvider, problem: string): Error {
  return provider.source === 'OPENAI_BASE_URL'
    ? new ConfigError([`OPENAI_BASE_URL: ${problem}`])
    : new ConfigFileError(provider.source.file, [`providers[${provider.source.index}].base_url: ${problem}`]);
}

function providersOf(config: Config, file: FileConfig | undefined, env: Env): ResolvedProvider[] {
  const fromFile = (file?.providers ?? []).map(
    (spec, index): ResolvedProvider => ({
      spec,
      apiKey: keyOf(spec, config, env),
      source: { file: config.configFile ?? '', index },
    }),
  );
  if (config.openai.apiKey === undefined || fromFile.some((p) => p.spec.name === 'openai')) return fromFile;
  const bad = checkProviderUrl(config.openai.baseURL, { allowLinkLocal: false });
  if (bad) throw new ConfigError([`OPENAI_BASE_URL: ${bad}`]);
  const shorthand: ProviderSpec = {
    name: 'openai',
    kind: 'openai',
    baseURL: config.openai.baseURL,
    apiKeyEnv: 'OPENAI_API_KEY',
    timeoutMs: undefined,
    headers: config.openai.organization ? { 'OpenAI-Organization': config.openai.organization } : {},
    maxTokensField: undefined,
    allowLinkLocal: false,
  };
  // The OPENAI_* shorthand's key was parsed with the settings.
  return [...fromFile, { spec: shorthand, apiKey: config.openai.apiKey, source: 'OPENAI_BASE_URL' }];
}

function keyOf(spec: ProviderSpec, config: Config, env: Env): string | undefined {
  if (spec.apiKeyEnv === undefined) return 'none';
  // OPENAI_API_KEY was parsed with the settings (it may come from .env or a test's settings).
  if (spec.apiKeyEnv === 'OPENAI_API_KEY' && config.openai.apiKey) return config.openai.apiKey;
  return secretFromEnv(env, spec.apiKeyEnv);
}
