import type { Logger } from 'pino';
import type { ApiKeySpec, FileConfig, RateLimitSpec } from '../config/file.js';
import { simulatorRuns, type ResolvedConfig } from '../config/resolve.js';

/**
 * Settings that would be wrong with several workers, one line each. Limits and budgets held in
 * memory would be enforced by every worker on its own (a caller would get WORKERS times the
 * allowance), so they need Redis; a log file would be rotated by every worker at once, and so
 * would a SQLite ledger file be migrated, written and pruned by every worker.
 */
export function clusterProblems(config: ResolvedConfig, file: FileConfig | undefined): string[] {
  if (config.workers <= 1) return [];
  const problems: string[] = [];
  const needsSharedState =
    config.globalRequestWindow !== undefined ||
    (file !== undefined && (limited(file.access.global) || file.access.apiKeys.some(keyLimited)));
  const unshared = unsharedLimits(config);
  if (needsSharedState && unshared !== undefined) problems.push(`WORKERS: ${unshared}`);
  if (config.logFile !== undefined) {
    problems.push(`LOG_FILE: ${config.workers} workers would each write and rotate the same file; with WORKERS > 1 log to stdout`);
  }
  const ledger = config.ledger.target;
  if (ledger.kind === 'sqlite' && ledger.file !== ':memory:') {
    problems.push(
      `DATABASE_URL: ${config.workers} workers would each open the SQLite ledger ${ledger.file}; with WORKERS > 1 use a PostgreSQL DATABASE_URL they share, or DATABASE_URL=off`,
    );
  } else if (ledger.kind === 'sqlite') {
    // Each worker's own database: GetUsage and ListCalls would answer from whichever worker took the call.
    problems.push(
      `DATABASE_URL: ${config.workers} workers would each keep a ledger of their own calls in memory; with WORKERS > 1 use a PostgreSQL DATABASE_URL they share, or DATABASE_URL=off`,
    );
  }
  // Each worker starts its own simulator (its faults and traffic its own): one port cannot serve them all.
  if (config.simulator.port !== 0 && simulatorRuns(config)) {
    problems.push(
      `SIMULATOR_PORT: ${config.workers} workers would each start a simulator on port ${config.simulator.port}; with WORKERS > 1 leave it unset (0): each worker logs its own`,
    );
  }
  return problems;
}

function limited(spec: RateLimitSpec): boolean {
  return spec.requestsPerMinute !== undefined || spec.tokensPerMinute !== undefined;
}

function keyLimited(key: ApiKeySpec): boolean {
  return limited(key.limits) || key.budgets.usdPerDay !== undefined || key.budgets.usdPerMonth !== undefined;
}

/**
 * Runtime keys the database already holds with limits or budgets (given them when one process,
 * or workers with Redis, served it): refused at start-up as the config file's are.
 */
export function storedKeyProblems(config: Pick<ResolvedConfig, 'workers' | 'redis'>, keys: readonly ApiKeySpec[]): string[] {
  const unshared = unsharedLimits(config);
  if (unshared === undefined) return [];
  return keys
    .filter(keyLimited)
    .map((k) => `WORKERS: runtime API key ${k.name} has limits or budgets: ${unshared}, or remove them (UpdateApiKey) first`);
}

/**
 * Why these workers cannot enforce per-key limits and budgets (several, and no Redis for them to
 * share), or undefined when they can: each would count only its own calls, so a key would get
 * WORKERS times its allowance. Checked at start-up and when a runtime key is given any.
 */
export function unsharedLimits(config: Pick<ResolvedConfig, 'workers' | 'redis'>): string | undefined {
  if (config.workers <= 1 || config.redis.url !== undefined) return undefined;
  return `${config.workers} workers would each enforce the rate limits and budgets on their own; set REDIS_URL so they share them, or WORKERS=1`;
}

/**
 * Start-up and this process's UpdateApiKey refuse a runtime key with limits or budgets these
 * workers cannot share, but another replica (one process, or workers with Redis) may give a key
 * some: the periodic read then brings them here, and each worker enforces them on its own.
 * Refusing them would leave the key with no limits at all, so they apply, with one warning per
 * key (again only after the key lost them and got new ones). A listener for the key store.
 */
export function unsharedKeyWarner(
  config: Pick<ResolvedConfig, 'workers' | 'redis'>,
  log: Logger,
): (keys: readonly { readonly spec: ApiKeySpec; readonly source: string }[]) => void {
  const unshared = unsharedLimits(config);
  const warned = new Set<string>();
  return (keys) => {
    if (unshared === undefined) return;
    const limitedNow = new Set(keys.filter((k) => k.source === 'runtime' && keyLimited(k.spec)).map((k) => k.spec.name));
    for (const name of warned) if (!limitedNow.has(name)) warned.delete(name);
    for (const name of limitedNow) {
      if (warned.has(name)) continue;
      warned.add(name);
      log.warn(
        { keyName: name },
        `runtime API key ${name} was given limits or budgets by another replica: each of the ${config.workers} workers enforces them on its own (up to ${config.workers} times them in all); set REDIS_URL so they share them, or WORKERS=1`,
      );
    }
  };
}
