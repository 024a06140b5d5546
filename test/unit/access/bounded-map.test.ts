import { describe, expect, it } from 'vitest';
import { addTo, MAX_TRACKED, setBounded } from '../../../src/access/bounded-map.js';

describe('bounded maps', () => {
  it('drop the least recently changed entry beyond the bound, and say which', () => {
    const map = new Map<number, string>();
    for (let i = 0; i < MAX_TRACKED; i++) expect(setBounded(map, i, `v${i}`)).toBeUndefined();
    // Changed again: now the most recent, so 1 is the oldest.
    expect(setBounded(map, 0, 'again')).toBeUndefined();
    expect(setBounded(map, MAX_TRACKED, 'new')).toEqual([1, 'v1']);
    expect(map.size).toBe(MAX_TRACKED);
    expect(map.has(0)).toBe(true);
  });

  it('add amounts; one that comes to nothing leaves the map', () => {
    const map = new Map<string, number>();
    addTo(map, 'a', 0.5);
    addTo(map, 'b', 1);
    addTo(map, 'a', 0.25);
    expect([...map]).toEqual([
      ['b', 1],
      ['a', 0.75],
    ]);
    addTo(map, 'a', -0.75);
    expect([...map]).toEqual([['b', 1]]);
  });
});
