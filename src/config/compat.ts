import { emptyAsUndefined } from './env-values.js';

/**
 * Names other orchestrators use for settings we name differently, kept so their `.env` files
 * work unchanged: each is read when ours is unset, and setting both is an error rather than a
 * silent choice.
 */
export interface CompatAlias {
  readonly alias: string;
  readonly ours: string;
  readonly convert: (value: string) => string;
  readonly means: string;
  /** A problem with the value in the alias's own terms, checked before converting. */
  readonly check?: (value: string) => string | undefined;
}

export const COMPAT_ALIASES: readonly CompatAlias[] = [
  // They count retries after the first call; we count calls.
  {
    alias: 'MAX_RETRIES',
    ours: 'RETRY_MAX_ATTEMPTS',
    convert: (v) => String(Number(v) + 1),
    means: 'retries after the first call',
    check: (v) => (/^\s*\d+\s*$/.test(v) && Number(v) <= 9 ? undefined : 'must be a whole number from 0 to 9'),
  },
  { alias: 'REQUEST_TIMEOUT', ours: 'DEFAULT_TIMEOUT', convert: (v) => v, means: 'seconds' },
  { alias: 'MAX_CONCURRENT_REQUESTS', ours: 'BATCH_GLOBAL_CONCURRENCY', convert: (v) => v, means: 'batch items running at once' },
];

/** The environment with the compatibility names mapped to ours; problems name the variable the user set. */
export function withCompatAliases(env: Readonly<Record<string, string | undefined>>): {
  env: Record<string, string | undefined>;
  problems: string[];
} {
  const out: Record<string, string | undefined> = { ...env };
  const problems: string[] = [];
  for (const { alias, ours, convert, check } of COMPAT_ALIASES) {
    const given = emptyAsUndefined(env[alias]);
    if (typeof given !== 'string') continue;
    if (emptyAsUndefined(env[ours]) !== undefined) {
      problems.push(`${alias}: set either ${alias} or ${ours}, not both (${alias} is another name for ${ours})`);
      continue;
    }
    const problem = check?.(given);
    if (problem) {
      problems.push(`${alias}: ${problem} (got ${JSON.stringify(given)})`);
      continue;
    }
    out[ours] = convert(given);
  }
  return { env: out, problems };
}
