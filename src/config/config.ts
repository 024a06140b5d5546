import { existsSync } from 'node:fs';
import { z } from 'zod';

/**
 * Every setting and every default lives here. Environment variables keep the seeds' names
 * where the seeds had them (OPENAI_API_KEY, DEFAULT_MODEL, DEFAULT_TIMEOUT, LOG_LEVEL, ...).
 */

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const emptyAsUndefined = (value: unknown): unknown =>
  typeof value === 'string' && value.trim() === '' ? undefined : value;

/** A number from a string; empty or unset means `fallback`. */
const number = (schema: z.ZodNumber, fallback: number) =>
  z.preprocess((v) => emptyAsUndefined(v) ?? fallback, z.coerce.number().pipe(schema));
const text = () => z.preprocess(emptyAsUndefined, z.string().trim().optional());

const envSchema = z.object({
  HOST: z.preprocess(emptyAsUndefined, z.string().default('0.0.0.0')),
  PORT: number(z.number().int().min(0).max(65535), 50051),
  LOG_LEVEL: z.preprocess(
    (v) => (typeof v === 'string' ? v.trim().toLowerCase() || undefined : v),
    z.enum(LOG_LEVELS).default('info'),
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
  DEFAULT_TIMEOUT: number(z.number().positive().max(3600), 30),
  FALLBACK_DEFAULT_MESSAGE: z.preprocess(
    emptyAsUndefined,
    z.string().default("I'm sorry, I can't answer right now. Please try again in a moment."),
  ),
  MAX_CONTENT_CHARS: number(z.number().int().min(1), 50_000),
  SHUTDOWN_GRACE_MS: number(z.number().int().min(0), 10_000),
});

export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Config {
  readonly host: string;
  readonly port: number;
  readonly logLevel: LogLevel;
  readonly openai: {
    readonly apiKey: string | undefined;
    readonly baseURL: string;
    readonly organization: string | undefined;
  };
  readonly simulator: {
    /** Serve the embedded simulator for models whose provider has no key. */
    readonly enabled: boolean;
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
  readonly limits: {
    readonly maxContentChars: number;
    readonly maxModelsPerCall: number;
  };
  readonly shutdownGraceMs: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses the environment once; throws ConfigError listing every problem, one per line. */
export function loadConfig(env: Readonly<Record<string, string | undefined>> = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const name = issue.path.join('.');
        const value = env[name];
        return `${name}: ${issue.message}${value === undefined ? '' : ` (got ${JSON.stringify(value)})`}`;
      }),
    );
  }
  const e = parsed.data;
  const simulatorEnabled = e.SIMULATOR === 'on' || (e.SIMULATOR === 'auto' && e.OPENAI_API_KEY === undefined);
  return deepFreeze({
    host: e.HOST,
    port: e.PORT,
    logLevel: e.LOG_LEVEL,
    openai: { apiKey: e.OPENAI_API_KEY, baseURL: e.OPENAI_BASE_URL, organization: e.OPENAI_ORGANIZATION },
    simulator: { enabled: simulatorEnabled, latencyScale: e.SIMULATOR_LATENCY_SCALE, port: e.SIMULATOR_PORT },
    defaults: {
      model: e.DEFAULT_MODEL,
      temperature: e.DEFAULT_TEMPERATURE,
      maxTokens: e.DEFAULT_MAX_TOKENS,
      timeoutMs: Math.round(e.DEFAULT_TIMEOUT * 1000),
      fallbackMessage: e.FALLBACK_DEFAULT_MESSAGE,
    },
    limits: { maxContentChars: e.MAX_CONTENT_CHARS, maxModelsPerCall: 8 },
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
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
