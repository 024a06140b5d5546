import type { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import { unlessAborted } from '../domain/abort.js';
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
  /** What the in-memory entries may hold together, by `entryBytes`. */
  readonly maxBytes: number;
  readonly redis: Redis | undefined;
}

/** An entry's weight: its texts at two bytes a character (V8's widest strings), plus its records. */
function entryBytes(entry: Entry): number {
  const answer = entry.answer;
  // A refusal is text the entry holds as well: a refused answer's content is often empty.
  let chars = answer.content.length + (answer.refusal?.length ?? 0);
  for (const call of answer.toolCalls ?? []) chars += call.name.length + call.arguments.length + call.id.length;
  return 2 * chars + ENTRY_OVERHEAD_BYTES + ATTEMPT_BYTES * answer.attempts.length;
}

/** Rough heap of an answer's fixed fields and of one attempt record: enough to bound many small answers too. */
const ENTRY_OVERHEAD_BYTES = 512;
const ATTEMPT_BYTES = 256;

/**
 * Exact-match answers: lru-cache in memory by default, Redis (shared by replicas) when
 * configured. Entries outlive their TTL until the stale TTL, so an answer can still be served,
 * marked stale, when every upstream fails and the caller allowed it.
 */
export class ResponseCache implements AnswerCache {
  private readonly memory: LRUCache<string, Entry>;

  constructor(private readonly options: CacheOptions) {
    this.memory = new LRUCache<string, Entry>({
      max: options.maxEntries,
      // A count alone would let a few thousand large answers (an Embed of 256 inputs stores
      // megabytes of vectors as text) grow the heap without bound.
      maxSize: options.maxBytes,
      sizeCalculation: entryBytes,
      ttl: Math.max(options.staleTtlMs, options.ttlMs, 1),
    });
  }

  async get(key: string, signal: AbortSignal): Promise<CachedAnswer | undefined> {
    const entry = await this.read(key, signal);
    if (!entry) return undefined;
    const now = Date.now();
    // Stored by a replica whose clock is ahead of this one's: stored now, not in the future (an age below zero).
    const storedAt = Math.min(entry.storedAt, now);
    return { answer: entry.answer, storedAt, stale: now - storedAt >= this.options.ttlMs };
  }

  async set(key: string, answer: Answer): Promise<void> {
    const entry: Entry = { answer, storedAt: Date.now() };
    const redis = this.options.redis;
    if (redis) {
      // A cache that cannot be written is only a missed optimisation, and the answer is ready: it
      // does not wait for Redis to confirm (a Redis that hangs would hold it up to the command
      // timeout, past the call's deadline). One connection runs its commands in order, so this
      // replica's next lookup still finds it.
      void redis
        .set(`llmo:cache:${key}`, JSON.stringify(entry), 'PX', Math.max(this.options.staleTtlMs, this.options.ttlMs, 1))
        .catch(() => undefined);
      return;
    }
    this.memory.set(key, entry);
  }

  private async read(key: string, signal: AbortSignal): Promise<Entry | undefined> {
    const redis = this.options.redis;
    if (!redis) return this.memory.get(key);
    const raw = await unlessAborted(
      redis.get(`llmo:cache:${key}`).catch(() => null),
      signal,
      null,
    );
    return raw === null ? undefined : entryOf(raw);
  }
}

/**
 * A Redis value as an entry, or undefined (a miss) when it is not one: a cache key is shared by
 * every replica and anything with access to the Redis, and a value this version cannot read
 * (written by another, or by hand) must not fail the call that looked it up.
 */
function entryOf(raw: string): Entry | undefined {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { answer, storedAt } = value as { answer?: unknown; storedAt?: unknown };
  if (typeof storedAt !== 'number' || !Number.isFinite(storedAt)) return undefined;
  if (typeof answer !== 'object' || answer === null || typeof (answer as { content?: unknown }).content !== 'string') return undefined;
  return { answer: answer as Answer, storedAt };
}
