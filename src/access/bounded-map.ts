/**
 * Entries a bounded map keeps in memory (budget keys, key name × day or month; write ids; hold
 * ids); beyond it the least recently changed go first.
 */
export const MAX_TRACKED = 100_000;

/**
 * Sets `key` as the map's most recent entry (a Map iterates in insertion order) and, beyond
 * MAX_TRACKED entries, drops the least recent, which it returns. A plain Map rather than an LRU
 * cache: no memory until used, and reading an entry does not make it recent.
 */
export function setBounded<K, V>(map: Map<K, V>, key: K, value: V): readonly [K, V] | undefined {
  map.delete(key);
  map.set(key, value);
  if (map.size <= MAX_TRACKED) return undefined;
  const oldest = map.entries().next().value as [K, V];
  map.delete(oldest[0]);
  return oldest;
}

/** Adds to a bounded map of amounts; an amount that comes to nothing leaves it. */
export function addTo(map: Map<string, number>, key: string, usd: number): void {
  const total = (map.get(key) ?? 0) + usd;
  if (total > 1e-12) setBounded(map, key, total);
  else map.delete(key);
}
