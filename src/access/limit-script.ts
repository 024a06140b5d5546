import type { Redis } from 'ioredis';

/** One limit a call takes from, in Redis: its counter (rate-limiter-flexible's key), points, limit, window. */
export interface SharedTake {
  readonly counter: string;
  readonly points: number;
  readonly limit: number;
  readonly windowSeconds: number;
}

/**
 * Atomically, for every limit a call takes from, in order: start its window if none runs (as
 * rate-limiter-flexible does), and take the points from all of them only when each has room. A
 * refusal takes nothing: a `consume` refused one by one would count until given back, a round trip
 * later, and a call counted meanwhile on any replica would be refused for points no call holds.
 * KEYS: the counters. ARGV: per counter, points, limit, window seconds.
 * Returns {0, 0} when taken, or {the refusing limit's place (from 1), its window's ms left}.
 */
const TAKE_SCRIPT = `
for i = 1, #KEYS do
  local seconds = ARGV[3 * i]
  redis.call('SET', KEYS[i], 0, 'EX', seconds, 'NX')
  local ttl = redis.call('PTTL', KEYS[i])
  if ttl == -1 then
    redis.call('EXPIRE', KEYS[i], seconds)
    ttl = 1000 * tonumber(seconds)
  end
  if tonumber(redis.call('GET', KEYS[i])) + tonumber(ARGV[3 * i - 2]) > tonumber(ARGV[3 * i - 1]) then
    return {i, ttl}
  end
end
for i = 1, #KEYS do
  redis.call('INCRBY', KEYS[i], ARGV[3 * i - 2])
end
return {0, 0}
`;

/** Undefined when every limit took its points; else which refused (its index in `takes`) and when its window ends. */
export async function takeShared(
  redis: Redis,
  takes: readonly SharedTake[],
): Promise<{ readonly refusedAt: number; readonly msLeft: number } | undefined> {
  const args = takes.flatMap((t) => [String(t.points), String(t.limit), String(t.windowSeconds)]);
  const answer: unknown = await redis.eval(TAKE_SCRIPT, takes.length, ...takes.map((t) => t.counter), ...args);
  if (!Array.isArray(answer) || typeof answer[0] !== 'number' || typeof answer[1] !== 'number') {
    throw new Error(`unexpected answer from the rate limit script: ${JSON.stringify(answer)}`);
  }
  const [place, msLeft] = answer as [number, number];
  return place === 0 ? undefined : { refusedAt: place - 1, msLeft };
}
