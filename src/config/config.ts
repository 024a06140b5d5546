import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { COMPAT_ALIASES, withCompatAliases } from './compat.js';
import { crossSettingProblems, type MetricsConfig, metricsConfig } from './cross-checks.js';
import { bindHost, emptyAsUndefined, milliseconds, number, text } from './env-values.js';

export { COMPAT_ALIASES, type CompatAlias } from './compat.js';
import { HTTP_ENV, httpConfig, type HttpConfig } from './http-env.js';
import { OTEL_ENV, tracingConfig, type TracingConfig } from './otel-env.js';
import { egressProxy, type EgressProxy, UPSTREAM_ENV, withLowerCaseProxyNames } from './upstream-env.js';
import { RUNTIME_ENV } from './runtime-env.js';
import { GRPC_ENV, grpcConfig, type GrpcConfig } from './grpc-env.js';
export type { HttpConfig } from './http-env.js';
import { ledgerConfig, ledgerEnv, type LedgerConfig } from './ledger-env.js';
import { maskUrlPassword } from '../domain/url-password.js';

/**
 * Every setting and every default lives here. Environment variables use the names other
 * orchestrators and the OpenAI tooling already use where one exists (OPENAI_API_KEY,
 * DEFAULT_MODEL, DEFAULT_TIMEOUT, LOG_LEVEL, ...). Each setting's description for
 * docs/configuration.md lives beside it in descriptions.ts.
 */

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Python's logging level names, as Python services' `.env` files write them (LOG_LEVEL=WARNING). */
const PYTHON_LOG_LEVELS: Readonly<Record<string, string>> = { warning: 'warn', critical: 'fatal' };

export const envSchema = z.object({
  HOST: z.preprocess(emptyAsUndefined, bindHost().default('0.0.0.0')),
  /** Processes serving the port (node:cluster); `auto`: one per CPU, up to the maximum (a larger machine is no mistake). */
  WORKERS: z.preprocess(
    (v) => (typeof v === 'string' && v.trim().toLowerCase() === 'auto' ? Math.min(availableParallelism(), 64) : (emptyAsUndefined(v) ?? 1)),
    z.coerce.number().int().min(1).max(64),
  ),
  PORT: number(z.number().int().min(0).max(65535), 50051),
  LOG_LEVEL: z.preprocess((v) => {
    if (typeof v !== 'string') return v;
    const level = v.trim().toLowerCase();
    return PYTHON_LOG_LEVELS[level] ?? (level || undefined);
  }, z.enum(LOG_LEVELS).default('info')),
  /**
   * Where this gateway runs (development, test, local, staging, production, ...): a field on
   * every log line and a span resource attribute. Anything but development, dev, test, testing
   * or local counts as a real deployment: it refuses to serve simulated answers by default.
   */
  ENVIRONMENT: z.preprocess(
    (v) => (typeof v === 'string' ? v.trim().toLowerCase() || undefined : v),
    z
      .string()
      .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'a name such as development, test, local, staging or production')
      .optional(),
  ),
  OPENAI_API_KEY: text(),
  OPENAI_BASE_URL: z.preprocess(emptyAsUndefined, z.url({ protocol: /^https?$/ }).default('https://api.openai.com/v1')),
  OPENAI_ORGANIZATION: text(),
  SIMULATOR: z.preprocess(
    (v) => (typeof v === 'string' ? v.trim().toLowerCase() || undefined : v),
    z.enum(['auto', 'on', 'off']).default('auto'),
  ),
  SIMULATOR_LATENCY_SCALE: number(z.number().min(0).max(100), 1),
  SIMULATOR_PORT: number(z.number().int().min(0).max(65535), 0),
  DEFAULT_MODEL: z.preprocess(emptyAsUndefined, z.string().trim().default('gpt-4o')),
  DEFAULT_TEMPERATURE: number(z.number().min(0).max(2), 0.7),
  DEFAULT_MAX_TOKENS: number(z.number().int().min(1), 500),
  /** Seconds; the deadline given to calls that arrive without one. */
  // A millisecond at least: it is kept in whole milliseconds, and less rounded to 0, a deadline
  // every call without one would have passed on arrival.
  DEFAULT_TIMEOUT: number(z.number().min(0.001).max(3600), 30),
  FALLBACK_DEFAULT_MESSAGE: z.preprocess(
    emptyAsUndefined,
    z.string().default("I'm sorry, I can't answer right now. Please try again in a moment."),
  ),
  MAX_CONTENT_CHARS: number(z.number().int().min(1), 50_000),
  /** Largest image sent as bytes in a message part (5 MiB: what Anthropic takes per image). */
  IMAGE_MAX_BYTES: number(z.number().int().min(1), 5 * 1024 * 1024),
  /** Calls per model per request, the first included; 1 disables retries. */
  RETRY_MAX_ATTEMPTS: number(z.number().int().min(1).max(10), 3),
  RETRY_INITIAL_BACKOFF_MS: milliseconds(0, 250),
  RETRY_MAX_BACKOFF_MS: milliseconds(0, 4_000),
  /** gRFC A6 retry throttling: tokens start at the maximum; retries stop below half of it. */
  RETRY_BUDGET_MAX_TOKENS: number(z.number().min(1).max(1000), 10),
  RETRY_BUDGET_TOKEN_RATIO: number(z.number().min(0.001).max(1), 0.1),
  BREAKER_CONSECUTIVE_FAILURES: number(z.number().int().min(1), 5),
  /** Failure rate (0..1) over the sampling window that opens the breaker; 0 or 1 disables the rule. */
  BREAKER_FAILURE_RATE: number(z.number().min(0).max(1), 0.5),
  BREAKER_SAMPLING_WINDOW_MS: milliseconds(1_000, 30_000),
  /** Requests per second a model must see before the failure rate can open its breaker. */
  // cockatiel replaces a minimum of 0 with its own default, so 0 is refused rather than surprising.
  BREAKER_MIN_RPS: number(z.number().positive(), 2),
  BREAKER_HALF_OPEN_AFTER_MS: milliseconds(1, 10_000),
  /** Per upstream call; 0 means bounded by the call's deadline only. */
  ATTEMPT_TIMEOUT_MS: milliseconds(0, 0),
  STREAM_FIRST_TOKEN_TIMEOUT_MS: milliseconds(0, 30_000),
  STREAM_INTER_TOKEN_TIMEOUT_MS: milliseconds(0, 30_000),
  SHUTDOWN_GRACE_MS: milliseconds(0, 10_000),
  /** After SIGTERM, keep accepting calls this long while health says NOT_SERVING, so load balancers move away first. */
  DRAIN_DELAY_MS: milliseconds(0, 0),
  ...GRPC_ENV,
  /** YAML or JSON file declaring providers, models and routing weights. */
  CONFIG_FILE: text(),
  BATCH_MAX_ITEMS: number(z.number().int().min(1).max(10_000), 100),
  BATCH_DEFAULT_CONCURRENCY: number(z.number().int().min(1), 4),
  BATCH_MAX_CONCURRENCY: number(z.number().int().min(1), 16),
  /** Batch items running at once over all batches; interactive calls never wait for these slots. */
  BATCH_GLOBAL_CONCURRENCY: number(z.number().int().min(1), 32),
  /** Shared state for several replicas (rate limits, budgets, response cache). */
  REDIS_URL: z.preprocess(
    emptyAsUndefined,
    z
      .url({ protocol: /^rediss?$/ })
      // The client would send any other path to SELECT, which Redis refuses, and use database 0 instead.
      .refine(
        // A URL that does not parse is z.url's to report, once.
        (url) => !URL.canParse(url) || /^\/?\d*$/.test(new URL(url).pathname),
        'the database after the host is a number (redis://host:6379/2), or left out for 0',
      )
      .optional(),
  ),
  /** When Redis is unreachable: local (each replica enforces limits and budgets alone) or closed (refuse calls). */
  REDIS_FAILURE_POLICY: z.preprocess(
    (v) => (typeof v === 'string' ? v.trim().toLowerCase() || undefined : v),
    z.enum(['local', 'closed']).default('local'),
  ),
  /** A global rate limit: this many requests from all callers together per RATE_LIMIT_WINDOW seconds. */
  RATE_LIMIT_REQUESTS: z.preprocess(emptyAsUndefined, z.coerce.number().int().min(1).optional()),
  RATE_LIMIT_WINDOW: number(z.number().int().min(1).max(86_400), 60),
  CACHE_TTL_SECONDS: number(z.number().int().min(0), 300),
  /** How long an expired answer is kept for offline fallback (allow_stale). */
  CACHE_STALE_TTL_SECONDS: number(z.number().int().min(0), 86_400),
  // lru-cache reserves room for every entry up front (about 40 bytes each, before any answer).
  CACHE_MAX_ENTRIES: number(z.number().int().min(1).max(1_000_000), 10_000),
  CACHE_MAX_BYTES: number(z.number().int().min(1_048_576).max(Number.MAX_SAFE_INTEGER), 64 * 1024 * 1024),
  /** on: when every upstream attempt of a call fails, serve an expired cached answer (marked stale) unless the request refuses it. */
  CACHE_OFFLINE_FALLBACK: z.preprocess(
    (v) => (typeof v === 'string' ? v.trim().toLowerCase() || undefined : v),
    z.enum(['on', 'off']).default('off'),
  ),
  /** Largest upstream response body read whole (a non-streamed answer, an error body); larger fails the attempt. */
  UPSTREAM_MAX_BODY_BYTES: number(z.number().int().min(1_024), 4 * 1024 * 1024),
  /** Largest single server-sent event of a streamed upstream answer; larger fails the attempt. */
  UPSTREAM_MAX_EVENT_BYTES: number(z.number().int().min(1_024), 1024 * 1024),
  /** Largest request message accepted; bigger ones get RESOURCE_EXHAUSTED. */
  MAX_MESSAGE_BYTES: number(z.number().int().min(1_024), 4 * 1024 * 1024),
  TLS_CERT_FILE: text(),
  TLS_KEY_FILE: text(),
  /** With TLS: require client certificates signed by this CA (mTLS). */
  TLS_CLIENT_CA_FILE: text(),
  /** Log file with daily rotation (logs/app.log -> logs/app-YYYY-MM-DD.log); unset: stdout only. */
  LOG_FILE: text(),
  LOG_ROTATE: z.preprocess(
    (v) => (typeof v === 'string' ? v.trim().toLowerCase() || undefined : v),
    z.enum(['daily', 'off']).default('daily'),
  ),
  /** Rotated log files older than this are deleted; 0 keeps them all. */
  // A century at most, as LEDGER_RETENTION_DAYS: further back, the cut-off day is a year of fewer
  // than four digits (or NaN), which sorts after every rolled file's date and so deleted them all.
  LOG_RETENTION_DAYS: number(z.number().int().min(0).max(36_500), 14),
  /** Prometheus /metrics on its own port (0: a free one). */
  METRICS: z.preprocess((v) => (typeof v === 'string' ? v.trim().toLowerCase() || undefined : v), z.enum(['on', 'off']).default('on')),
  /** Unset: HOST, so a gateway kept on loopback does not publish its metrics on every interface. */
  METRICS_HOST: z.preprocess(emptyAsUndefined, bindHost().optional()),
  METRICS_PORT: number(z.number().int().min(0).max(65535), 9464),
  ...OTEL_ENV,
  ...HTTP_ENV,
  ...UPSTREAM_ENV,
  ...RUNTIME_ENV,
  ...ledgerEnv(),
  CATALOG_POLL_MS: number(z.number().int().min(100).max(600_000), 3_000),
});

export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Config extends GrpcConfig {
  readonly host: string;
  readonly port: number;
  /** Worker processes sharing the port (WORKERS); 1: this process serves. */
  readonly workers: number;
  readonly logLevel: LogLevel;
  /** ENVIRONMENT, when set. */
  readonly environment: string | undefined;
  /** Undefined: logs go to stdout only. */
  readonly logFile: { readonly path: string; readonly rotate: 'daily' | 'off'; readonly retentionDays: number } | undefined;
  readonly metrics: MetricsConfig;
  /** V8_PRETENURING=on: V8's allocation-site pretenuring stays on (runtime-env.ts says why it is off). */
  readonly v8Pretenuring: boolean;
  readonly tracing: TracingConfig;
  readonly openai: {
    readonly apiKey: string | undefined;
    readonly baseURL: string;
    readonly organization: string | undefined;
  };
  readonly simulator: {
    /** Serve the embedded simulator (auto: only when no real provider is configured). */
    readonly enabled: boolean;
    /** SIMULATOR=on: serve it even next to real providers, for models they do not cover. */
    readonly forced: boolean;
    readonly latencyScale: number;
    readonly port: number;
  };
  readonly defaults: {
    readonly model: string;
    readonly temperature: number;
    /** Capped at each model's own output limit. */
    readonly maxTokens: number;
    readonly timeoutMs: number;
    readonly fallbackMessage: string;
  };
  readonly resilience: ResilienceConfig;
  readonly limits: {
    readonly maxContentChars: number;
    readonly maxModelsPerCall: number;
    readonly maxImageBytes: number;
  };
  readonly shutdownGraceMs: number;
  readonly drainDelayMs: number;
  /** Path of the providers/models/routing file, when set. */
  readonly configFile: string | undefined;
  readonly redis: { readonly url: string | undefined; readonly failurePolicy: 'local' | 'closed' };
  /** RATE_LIMIT_REQUESTS per RATE_LIMIT_WINDOW seconds, all callers together; undefined: none. */
  readonly globalRequestWindow: { readonly requests: number; readonly windowSeconds: number } | undefined;
  readonly cache: {
    readonly ttlSeconds: number;
    readonly staleTtlSeconds: number;
    readonly maxEntries: number;
    readonly maxBytes: number;
    readonly offlineFallback: boolean;
  };
  readonly maxMessageBytes: number;
  /** Size limits on what upstreams send (UPSTREAM_MAX_BODY_BYTES, UPSTREAM_MAX_EVENT_BYTES); the forward proxy, if any. */
  readonly upstream: { readonly maxBodyBytes: number; readonly maxEventBytes: number; readonly proxy?: EgressProxy | undefined };
  readonly tls: { readonly certFile: string; readonly keyFile: string; readonly clientCaFile: string | undefined } | undefined;
  readonly http: HttpConfig;
  readonly ledger: LedgerConfig;
  /** How often each replica looks in the database for runtime-model and synced-catalog changes. */
  readonly catalogPollMs: number;
  readonly batch: {
    readonly maxItems: number;
    readonly defaultConcurrency: number;
    readonly maxConcurrency: number;
    readonly globalConcurrency: number;
  };
}

export type { ResilienceConfig } from './resilience.js';
import type { ResilienceConfig } from './resilience.js';

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Environments where simulated answers are fine without SIMULATOR=on. */
const NON_PRODUCTION_ENVIRONMENTS: ReadonlySet<string> = new Set(['development', 'dev', 'test', 'testing', 'local']);

/** ENVIRONMENT names a real deployment (production, staging, ...): simulated answers need SIMULATOR=on there. */
export function isDeployedEnvironment(environment: string | undefined): boolean {
  return environment !== undefined && !NON_PRODUCTION_ENVIRONMENTS.has(environment);
}

/**
 * A value as a configuration error may show it: a secret's not at all, a URL's password masked
 * (REDIS_URL and DATABASE_URL carry theirs; an error goes to the terminal and the logs).
 */
function shownValue(name: string, value: string): string {
  // Secrets are named for what they are (OPENAI_API_KEY); DEFAULT_MAX_TOKENS or KEYS_REFRESH_MS only mention one.
  if (/(KEY|SECRET|TOKEN|PASSWORD)$/i.test(name)) return '(hidden)';
  return maskUrlPassword(value);
}

/** Parses the environment once; throws ConfigError listing every problem, one per line. */
export function loadConfig(given: Readonly<Record<string, string | undefined>> = process.env): Config {
  const { env, problems: aliasProblems } = withCompatAliases(withLowerCaseProxyNames(given));
  const parsed = envSchema.safeParse(env);
  if (!parsed.success || aliasProblems.length > 0) {
    throw new ConfigError([
      ...aliasProblems,
      ...(parsed.error?.issues ?? []).map((issue) => {
        const ours = issue.path.join('.');
        // Name what the user wrote: the alias when the value came through one.
        const alias = COMPAT_ALIASES.find((a) => a.ours === ours && emptyAsUndefined(given[a.alias]) !== undefined);
        const name = alias ? `${alias.alias} (${alias.means}; our name: ${ours})` : ours;
        const value = alias ? given[alias.alias] : env[ours];
        return `${name}: ${issue.message}${value === undefined ? '' : ` (got ${JSON.stringify(shownValue(ours, value))})`}`;
      }),
    ]);
  }
  const e = parsed.data;
  const problems = crossSettingProblems(e, env);
  if (problems.length > 0) throw new ConfigError(problems);
  const simulatorEnabled = e.SIMULATOR !== 'off';
  return deepFreeze({
    host: e.HOST,
    port: e.PORT,
    workers: e.WORKERS,
    logLevel: e.LOG_LEVEL,
    environment: e.ENVIRONMENT,
    logFile: e.LOG_FILE ? { path: e.LOG_FILE, rotate: e.LOG_ROTATE, retentionDays: e.LOG_RETENTION_DAYS } : undefined,
    metrics: metricsConfig(e),
    v8Pretenuring: e.V8_PRETENURING === 'on',
    tracing: tracingConfig(e),
    openai: { apiKey: e.OPENAI_API_KEY, baseURL: e.OPENAI_BASE_URL, organization: e.OPENAI_ORGANIZATION },
    simulator: { enabled: simulatorEnabled, forced: e.SIMULATOR === 'on', latencyScale: e.SIMULATOR_LATENCY_SCALE, port: e.SIMULATOR_PORT },
    defaults: {
      model: e.DEFAULT_MODEL,
      temperature: e.DEFAULT_TEMPERATURE,
      maxTokens: e.DEFAULT_MAX_TOKENS,
      timeoutMs: Math.round(e.DEFAULT_TIMEOUT * 1000),
      fallbackMessage: e.FALLBACK_DEFAULT_MESSAGE,
    },
    resilience: {
      inFlight: { maxInFlight: e.UPSTREAM_MAX_IN_FLIGHT, queueMax: e.UPSTREAM_QUEUE_MAX },
      retry: {
        maxAttempts: e.RETRY_MAX_ATTEMPTS,
        initialBackoffMs: e.RETRY_INITIAL_BACKOFF_MS,
        maxBackoffMs: e.RETRY_MAX_BACKOFF_MS,
        budgetMaxTokens: e.RETRY_BUDGET_MAX_TOKENS,
        budgetTokenRatio: e.RETRY_BUDGET_TOKEN_RATIO,
      },
      breaker: {
        consecutiveFailures: e.BREAKER_CONSECUTIVE_FAILURES,
        failureRate: e.BREAKER_FAILURE_RATE,
        samplingWindowMs: e.BREAKER_SAMPLING_WINDOW_MS,
        minRps: e.BREAKER_MIN_RPS,
        halfOpenAfterMs: e.BREAKER_HALF_OPEN_AFTER_MS,
      },
      attemptTimeoutMs: e.ATTEMPT_TIMEOUT_MS,
      firstTokenTimeoutMs: e.STREAM_FIRST_TOKEN_TIMEOUT_MS,
      interTokenTimeoutMs: e.STREAM_INTER_TOKEN_TIMEOUT_MS,
    },
    limits: { maxContentChars: e.MAX_CONTENT_CHARS, maxModelsPerCall: 8, maxImageBytes: e.IMAGE_MAX_BYTES },
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    drainDelayMs: e.DRAIN_DELAY_MS,
    ...grpcConfig(e),
    configFile: e.CONFIG_FILE,
    redis: { url: e.REDIS_URL, failurePolicy: e.REDIS_FAILURE_POLICY },
    globalRequestWindow:
      e.RATE_LIMIT_REQUESTS === undefined ? undefined : { requests: e.RATE_LIMIT_REQUESTS, windowSeconds: e.RATE_LIMIT_WINDOW },
    cache: {
      ttlSeconds: e.CACHE_TTL_SECONDS,
      staleTtlSeconds: e.CACHE_STALE_TTL_SECONDS,
      maxEntries: e.CACHE_MAX_ENTRIES,
      maxBytes: e.CACHE_MAX_BYTES,
      offlineFallback: e.CACHE_OFFLINE_FALLBACK === 'on',
    },
    maxMessageBytes: e.MAX_MESSAGE_BYTES,
    upstream: { maxBodyBytes: e.UPSTREAM_MAX_BODY_BYTES, maxEventBytes: e.UPSTREAM_MAX_EVENT_BYTES, proxy: egressProxy(e) },
    tls:
      e.TLS_CERT_FILE && e.TLS_KEY_FILE
        ? { certFile: e.TLS_CERT_FILE, keyFile: e.TLS_KEY_FILE, clientCaFile: e.TLS_CLIENT_CA_FILE }
        : undefined,
    http: httpConfig(e, e.HOST),
    ledger: ledgerConfig(e),
    catalogPollMs: e.CATALOG_POLL_MS,
    batch: {
      maxItems: e.BATCH_MAX_ITEMS,
      defaultConcurrency: e.BATCH_DEFAULT_CONCURRENCY,
      maxConcurrency: e.BATCH_MAX_CONCURRENCY,
      globalConcurrency: e.BATCH_GLOBAL_CONCURRENCY,
    },
  });
}

/** Reads `.env` from the working directory into process.env (existing variables win). */
export function loadDotEnv(path = '.env'): boolean {
  if (!existsSync(path)) return false;
  process.loadEnvFile(path);
  return true;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
