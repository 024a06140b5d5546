import { describe, expect, it, vi } from 'vitest';
import { timeOrderedId } from '../../../src/domain/ids.js';

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('timeOrderedId', () => {
  it('is a version 7 UUID whose leading 48 bits are the current time in milliseconds', () => {
    const before = Date.now();
    const id = timeOrderedId();
    const after = Date.now();
    expect(id).toMatch(V7);
    const ms = Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
    expect(ms).toBeGreaterThanOrEqual(before);
    expect(ms).toBeLessThanOrEqual(after);
  });

  it('sorts by creation time, so indexes on it grow at their end', () => {
    vi.useFakeTimers({ now: Date.parse('2026-01-01T00:00:00Z'), toFake: ['Date'] });
    try {
      const ids: string[] = [];
      for (let i = 0; i < 50; i++) {
        ids.push(timeOrderedId());
        vi.setSystemTime(Date.now() + 1);
      }
      expect([...ids].sort()).toEqual(ids);
    } finally {
      vi.useRealTimers();
    }
  });

  it('has random digits in every place after the time and version, the variant bits set', () => {
    const ids = Array.from({ length: 2_000 }, () => timeOrderedId());
    for (const place of [15, 16, 17, 20, 21, 22, ...Array.from({ length: 12 }, (_, i) => 24 + i)]) {
      expect(new Set(ids.map((id) => id[place])).size, `place ${place}`).toBe(16);
    }
    expect(new Set(ids.map((id) => id[19]))).toEqual(new Set(['8', '9', 'a', 'b']));
  });

  it('does not repeat within one millisecond', () => {
    const ids = new Set(Array.from({ length: 10_000 }, () => timeOrderedId()));
    expect(ids.size).toBe(10_000);
  });
});
