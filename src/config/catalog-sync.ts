import { z } from 'zod';
import { type SyncInterval, parseInterval } from '../catalog/sync/interval.js';
import { checkProviderUrl } from './ssrf.js';
import { timerMs } from './env-values.js';
import type { EgressProxy } from './upstream-env.js';

/**
 * The config file's `catalog.sync` section: where the outside catalog sources live, how often
 * each is read (off by default: many installations have no outside network), and name overrides.
 */

const url = z
  .string()
  .min(1)
  .superRefine((value, ctx) => {
    if (/^file:/i.test(value)) return;
    const bad = checkProviderUrl(value, { allowLinkLocal: false });
    if (bad) ctx.addIssue({ code: 'custom', message: `${bad.replace(/only http and https/, 'only http, https and file')}` });
  });

const interval = z
  .string()
  .default('off')
  .transform((value, ctx): SyncInterval | undefined => {
    const parsed = parseInterval(value);
    if (typeof parsed === 'string') {
      ctx.addIssue({ code: 'custom', message: parsed });
      return z.NEVER;
    }
    return parsed;
  });

const envName = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name, e.g. HF_TOKEN');

const syncSchema = z
  .object({
    /** Per document fetched, connect to last byte. */
    timeout_ms: timerMs(1).default(30_000),
    max_body_bytes: z
      .number()
      .int()
      .positive()
      .default(32 * 1024 * 1024),
    /** Least Levenshtein similarity for a fuzzy name match (0..1). */
    fuzzy_threshold: z.number().min(0.5).max(1).default(0.85),
    /** External name (as the source spells it) -> catalog id, or null to ignore that name. */
    overrides: z.record(z.string().min(1), z.string().min(1).nullable()).default({}),
    retry: z
      .object({
        max_attempts: z.number().int().min(1).max(10).default(4),
        initial_backoff_ms: z.number().int().positive().default(60_000),
        max_backoff_ms: z.number().int().positive().default(1_800_000),
      })
      .strict()
      .optional(),
    openrouter: z
      .object({ url: url.default('https://openrouter.ai/api/v1/models'), interval })
      .strict()
      .optional(),
    arena: z
      .object({
        /** No default: the leaderboard has no stable public address; point it at the CSV or JSON export you use. */
        url: url.optional(),
        interval,
        format: z.enum(['auto', 'csv', 'json']).default('auto'),
        reference_score: z.number().positive().optional(),
        min_votes: z.number().int().min(0).default(0),
      })
      .strict()
      .optional(),
    huggingface: z
      .object({
        url: url.default('https://huggingface.co/api/models'),
        interval,
        models: z.array(z.string().regex(/^[\w.-]+\/[\w.-]+$/, 'a Hub id like meta-llama/Llama-3.1-8B-Instruct')).default([]),
        token_env: envName.optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

export const catalogSectionSchema = z.object({ sync: syncSchema.optional() }).strict();

export interface CatalogSyncConfig {
  readonly timeoutMs: number;
  /** HTTPS_PROXY / HTTP_PROXY / NO_PROXY (from the environment, not the file). */
  readonly proxy?: EgressProxy | undefined;
  readonly maxBodyBytes: number;
  readonly fuzzyThreshold: number;
  readonly overrides: Readonly<Record<string, string | null>>;
  readonly retry: { readonly maxAttempts: number; readonly initialBackoffMs: number; readonly maxBackoffMs: number };
  /**
   * Absent when the section names other sources only: its default is a public address, which an
   * install that set up, say, a local Arena file must not be sent to (SyncCatalog runs every source).
   */
  readonly openrouter: { readonly url: string; readonly interval: SyncInterval | undefined } | undefined;
  /** Absent without a URL: the Arena source is then not configured. */
  readonly arena:
    | {
        readonly url: string;
        readonly interval: SyncInterval | undefined;
        readonly format: 'auto' | 'csv' | 'json';
        readonly referenceScore: number | undefined;
        readonly minVotes: number;
      }
    | undefined;
  readonly huggingface: {
    readonly url: string;
    readonly interval: SyncInterval | undefined;
    readonly models: readonly string[];
    readonly tokenEnv: string | undefined;
  };
}

/** The section with every default filled in (an absent section is all defaults: every schedule off). */
export function catalogSyncOf(section: z.infer<typeof catalogSectionSchema> | undefined): CatalogSyncConfig {
  const s = section?.sync ?? syncSchema.parse({});
  const retry = s.retry ?? { max_attempts: 4, initial_backoff_ms: 60_000, max_backoff_ms: 1_800_000 };
  // `sync: {}` names no source: OpenRouter at its public address, as documented.
  const namesNone = s.openrouter === undefined && s.arena === undefined && s.huggingface === undefined;
  const openrouter = s.openrouter ?? (namesNone ? { url: 'https://openrouter.ai/api/v1/models', interval: undefined } : undefined);
  const hub = s.huggingface ?? { url: 'https://huggingface.co/api/models', interval: undefined, models: [], token_env: undefined };
  return {
    timeoutMs: s.timeout_ms,
    maxBodyBytes: s.max_body_bytes,
    fuzzyThreshold: s.fuzzy_threshold,
    overrides: s.overrides,
    retry: { maxAttempts: retry.max_attempts, initialBackoffMs: retry.initial_backoff_ms, maxBackoffMs: retry.max_backoff_ms },
    openrouter: openrouter ? { url: openrouter.url, interval: openrouter.interval } : undefined,
    arena: s.arena?.url
      ? {
          url: s.arena.url,
          interval: s.arena.interval,
          format: s.arena.format,
          referenceScore: s.arena.reference_score,
          minVotes: s.arena.min_votes,
        }
      : undefined,
    huggingface: { url: hub.url, interval: hub.interval, models: hub.models, tokenEnv: hub.token_env },
  };
}

/** The section from raw config values (`{ sync: {...} }`), as the file would give it; throws a ZodError. */
export function parseCatalogSync(raw: unknown): CatalogSyncConfig {
  return catalogSyncOf(catalogSectionSchema.parse(raw ?? {}));
}
