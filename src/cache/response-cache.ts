import type { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import type { Answer, AnswerCache, CachedAnswer } from '../engine/index.js';

interface Entry {
  readonly answer: Answer;
  readonly storedAt: number;
}

export interface CacheOptions {
  readonly ttlMs: number;
  /** Entries are kept this long past storage for offline fallback; at least ttlMs. */
  readonly staleTtlMs: number;
  readonly maxEntries: number;
  readonly redis: Redis | undefined;
}

/**
 * Exact-match answers: lru-cache in memory by default, Redis (shared by replicas) when
 * configured. Entries outlive their TTL until the stale TTL, so an answer can still be served,
 * marked stale, when every upstream fails and the caller allowed it.
 */
export class ResponseCache implements AnswerCache {
  private readonly memory: LRUCache<string, Entry>;

  constructor(private readonly options: CacheOptions) {
    this.memory = new LRUCache<string, Entry>({ max: options.maxEntries, ttl: Math.max(options.staleTtlMs, options.ttlMs, 1) });
  }

  async get(key: string): Promise<CachedAnswer | undefined> {
    const entry = await this.read(key);
    if (!entry) return undefined;
    return { answer: entry.answer, storedAt: entry.storedAt, stale: Date.now() - entry.storedAt >= this.options.ttlMs };
  }

  async set(key: string, answer: Answer): Promise<void> {
    const entry: Entry = { answer, storedAt: Date.now() };
    const redis = this.options.redis;
    if (redis) {
      // A cache that cannot be written is only a missed optimisation.
      await redis
        .set(`llmo:cache:${key}`, JSON.stringify(entry), 'PX', Math.max(this.options.staleTtlMs, this.options.ttlMs, 1))
        .catch(() => undefined);
      return;
    }
    this.memory.set(key, entry);
  }

  private async read(key: string): Promise<Entry | undefined> {
    const redis = this.options.redis;
    if (!redis) return this.memory.get(key);
    const raw = await redis.get(`llmo:cache:${key}`).catch(() => null);
    return raw === null ? undefined : (JSON.parse(raw) as Entry);
  }
}
