import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { RateLimitSpec } from '../config/file.js';
import { type OrchestratorError, rateLimited, sharedStateUnavailable } from '../domain/errors.js';
import { extend } from '../domain/extend.js';
import { takeShared } from './limit-script.js';

/** Every limit counts per minute, in fixed windows. */
const WINDOW_S = 60;

/** Requests for all callers together over a window of any length (RATE_LIMIT_REQUESTS / RATE_LIMIT_WINDOW). */
export interface WindowLimitSpec {
  readonly requests: number;
  readonly windowSeconds: number;
}

export interface LimiterStore {
  /** Shared state; undefined: this process only. */
  readonly redis: Redis | undefined;
  /** With Redis down: 'local' keeps enforcing per replica (an in-memory insurance limiter), 'closed' refuses. */
  readonly failurePolicy: 'local' | 'closed';
}

interface Limiter {
  readonly limiter: RateLimiterAbstract;
  /** This process's counts: `limiter` itself without Redis, its insurance with Redis. */
  readonly memory: RateLimiterMemory;
  readonly subject: string;
  readonly what: string;
}

/**
 * Requests and tokens per minute, per key and for all callers together, with
 * rate-limiter-flexible: its memory store in one process, its Redis store across replicas
 * (atomic, so a limit holds exactly however many replicas share it).
 */
export class RateLimits {
  /** Its counts live in Redis: a check waits on a command (up to its timeout), not only on this process. */
  get shared(): boolean {
    return this.store.redis !== undefined;
  }

  private perKey = new Map<string, { rpm?: Limiter; tpm?: Limiter; spec: string }>();
  private global: { rpm?: Limiter; tpm?: Limiter; spec: string };
  private readonly globalWindow: Limiter | undefined;
  /**
   * In memory, admissions take their turn one after another: rate-limiter-flexible counts a refused
   * `consume` until it is given back, a few microtasks later, and a call admitted in between (a
   * Batch starts its items together) would be refused for points no call holds.
   */
  private turn: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: LimiterStore,
    global: RateLimitSpec,
    keys: readonly { readonly name: string; readonly spec: { readonly limits: RateLimitSpec } }[],
    window?: WindowLimitSpec,
  ) {
    this.global = extend(this.pair('global', global), { spec: specOf(global) });
    this.globalWindow = window
      ? this.limiter(
          'global',
          `rw${window.windowSeconds}`,
          window.requests,
          `${window.requests} requests per ${window.windowSeconds} s`,
          window.windowSeconds,
        )
      : undefined;
    this.setKeys(keys);
  }

  /** The config file's `access.global` after SIGHUP: an unchanged limit keeps its limiter and what it counted. */
  setGlobal(global: RateLimitSpec): void {
    const spec = specOf(global);
    if (spec !== this.global.spec) this.global = extend(this.pair('global', global, this.global), { spec });
  }

  /**
   * The keys' limits after a change (a key created, updated or revoked at runtime, SIGHUP): a
   * key whose limits stayed the same keeps its limiter and what it counted.
   */
  setKeys(keys: readonly { readonly name: string; readonly spec: { readonly limits: RateLimitSpec } }[]): void {
    const next = new Map<string, { rpm?: Limiter; tpm?: Limiter; spec: string }>();
    for (const key of keys) {
      const spec = specOf(key.spec.limits);
      const kept = this.perKey.get(key.name);
      next.set(key.name, kept?.spec === spec ? kept : extend(this.pair(`key:${key.name}`, key.spec.limits, kept), { spec }));
    }
    this.perKey = next;
  }

  /**
   * Takes one request and the estimated tokens from every limit that applies, or none: in Redis
   * all at once; in memory one by one, a refused call giving back what it took
   * (rate-limiter-flexible counts a rejected `consume` too), so a refusal never shrinks what the
   * caller has left. RESOURCE_EXHAUSTED past a limit.
   */
  admit(keyName: string | undefined, estimatedTokens: number): Promise<void> | undefined {
    const mine = keyName === undefined ? undefined : this.perKey.get(keyName);
    const wants: [Limiter, number][] = [];
    for (const entry of [mine?.rpm, this.global.rpm, this.globalWindow]) if (entry) wants.push([entry, 1]);
    for (const entry of [mine?.tpm, this.global.tpm]) if (entry) wants.push([entry, Math.max(1, estimatedTokens)]);
    // No limit applies (an open service without global limits): nothing to wait for.
    if (wants.length === 0) return undefined;
    // More than a whole window holds is refused before anything is taken, without a time to retry at.
    const tooLarge = wants.find(([entry, points]) => points > entry.limiter.points);
    if (tooLarge) {
      const [entry, points] = tooLarge;
      return Promise.reject(rateLimited({ what: entry.what, subject: entry.subject, estimatedTokens: points }));
    }
    const key = keyName ?? 'anonymous';
    if (this.store.redis) return this.takeInRedis(this.store.redis, wants, key);
    return this.inTurn(wants, key);
  }

  private inTurn(wants: readonly [Limiter, number][], key: string): Promise<void> {
    const taking = this.turn.then(() => this.takeAll(wants, key));
    this.turn = taking.catch(() => undefined);
    return taking;
  }

  /**
   * In Redis, from every limit at once or from none (limit-script.ts). With Redis unreachable or
   * refusing: this process's counts under the `local` policy, else a refusal.
   */
  private async takeInRedis(redis: Redis, wants: readonly [Limiter, number][], key: string): Promise<void> {
    let refused: Awaited<ReturnType<typeof takeShared>>;
    try {
      refused = await takeShared(
        redis,
        wants.map(([entry, points]) => ({
          counter: entry.limiter.getKey(this.keyOf(entry, key)),
          points,
          limit: entry.limiter.points,
          windowSeconds: entry.limiter.duration,
        })),
      );
    } catch (err) {
      if (this.store.failurePolicy === 'closed') throw sharedStateUnavailable(err);
      return this.inTurn(wants, key);
    }
    const entry = refused && wants[refused.refusedAt]?.[0];
    if (refused && entry) throw this.limitReached(entry, refused.msLeft);
  }

  /** In this process's memory, one limit after another. */
  private async takeAll(wants: readonly [Limiter, number][], key: string): Promise<void> {
    // Each with when the window that took it ends (a refused one counts too, until given back).
    const taken: [RateLimiterMemory, number, number][] = [];
    let refusal: unknown;
    for (const [entry, points] of wants) {
      try {
        const res = await entry.memory.consume(this.keyOf(entry, key), points);
        taken.push([entry.memory, points, Date.now() + res.msBeforeNext]);
      } catch (rejection) {
        const counted = rejection instanceof RateLimiterRes;
        taken.push([entry.memory, points, counted ? Date.now() + rejection.msBeforeNext : Number.POSITIVE_INFINITY]);
        refusal = counted ? this.limitReached(entry, rejection.msBeforeNext) : sharedStateUnavailable(rejection);
        break;
      }
    }
    if (refusal === undefined) return;
    await Promise.all(
      taken.map(([memory, points, endsAt], i) => giveBack(memory, this.keyOf(wants[i]![0], key), points, endsAt).catch(() => undefined)),
    );
    throw refusal;
  }

  /**
   * After the call: charge (or refund) the difference between actual and estimated tokens. A
   * refund goes back only to the window that took the estimate: a call admitted in one minute
   * and ended in the next gives nothing to the new one, which never held its tokens.
   */
  settleTokens(keyName: string | undefined, difference: number, admittedAt: number): Promise<void> | undefined {
    if (difference === 0) return undefined;
    const mine = keyName === undefined ? undefined : this.perKey.get(keyName);
    let settling: Promise<unknown>[] | undefined;
    for (const entry of [mine?.tpm, this.global.tpm]) {
      if (!entry) continue;
      const key = keyName ?? 'anonymous';
      const id = this.keyOf(entry, key);
      // Read before the reward, so the window's start computed from it is never later than the
      // limiter's own: a refund to the window that took the estimate is never undone by a clock tick.
      const asked = Date.now();
      const op =
        difference > 0
          ? entry.limiter.penalty(id, difference)
          : entry.limiter.reward(id, -difference).then((res) => {
              const windowStart = asked + res.msBeforeNext - WINDOW_S * 1000;
              return windowStart > admittedAt ? entry.limiter.penalty(id, -difference) : res;
            });
      // Accounting after the fact must not fail the call that already succeeded.
      settling ??= [];
      settling.push(op.catch(() => undefined));
    }
    return settling && Promise.all(settling).then(() => undefined);
  }

  private limitReached(entry: Limiter, msLeft: number): OrchestratorError {
    // The memory store dates its windows by the wall clock but ends them on a timer: after the
    // clock is set back its time left runs past the window, which still ends within it.
    const retryAfterMs = Math.min(msLeft, entry.limiter.duration * 1000);
    return rateLimited({ what: entry.what, subject: entry.subject, retryAfterMs });
  }

  private keyOf(entry: Limiter, keyName: string): string {
    return entry.subject === 'global' ? 'all' : keyName;
  }

  /**
   * Each limit on its own: one left as it was keeps its limiter and what it counted when the other
   * changes, so raising a key's tokens per minute does not hand it a fresh minute of requests.
   */
  private pair(subject: string, spec: RateLimitSpec, kept?: { rpm?: Limiter; tpm?: Limiter }): { rpm?: Limiter; tpm?: Limiter } {
    const rpm = spec.requestsPerMinute;
    const tpm = spec.tokensPerMinute;
    return extend(
      rpm ? { rpm: kept?.rpm?.limiter.points === rpm ? kept.rpm : this.limiter(subject, 'rpm', rpm, `${rpm} requests per minute`) } : {},
      tpm ? { tpm: kept?.tpm?.limiter.points === tpm ? kept.tpm : this.limiter(subject, 'tpm', tpm, `${tpm} tokens per minute`) } : {},
    );
  }

  private limiter(subject: string, unit: string, points: number, what: string, duration = WINDOW_S): Limiter {
    const keyPrefix = `llmo:rl:${unit}:${subject}`;
    const memory = new RateLimiterMemory({ points, duration, keyPrefix });
    const limiter = this.store.redis
      ? new RateLimiterRedis({
          storeClient: this.store.redis,
          points,
          duration,
          keyPrefix,
          ...(this.store.failurePolicy === 'local' ? { insuranceLimiter: memory } : {}),
        })
      : memory;
    return { limiter, memory, subject, what };
  }
}

/**
 * Gives points back to the window that took them, which ends at `endsAt`. One that ended
 * meanwhile (a refusal at the end of a minute, given back once the next has begun) leaves nothing
 * to give back to: the window begun since never held them, and a refund would lift it above its
 * limit, so it is taken back. Windows are a whole window apart: half of one tells them apart.
 */
function giveBack(limiter: RateLimiterAbstract, id: string, points: number, endsAt: number): Promise<unknown> {
  const asked = Date.now();
  return limiter.reward(id, points).then((res) => {
    const later = asked + res.msBeforeNext - endsAt;
    return later > limiter.duration * 500 ? limiter.penalty(id, points) : res;
  });
}

/** What tells one set of limits from another: the same text, the same limiters. */
function specOf(limits: RateLimitSpec): string {
  return JSON.stringify([limits.requestsPerMinute, limits.tokensPerMinute]);
}

export { sharedStateUnavailable as sharedStateDown } from '../domain/errors.js';
