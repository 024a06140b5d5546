import { describe, expect, it } from 'vitest';
import { breakpointsOf, PromptCacheBook } from '../../../src/simulator/prompt-cache.js';

const body = (system: string, question: string, ttl?: '1h') => ({
  system: [{ type: 'text', text: system, cache_control: { type: 'ephemeral', ...(ttl ? { ttl } : {}) } }],
  messages: [{ role: 'user', content: question }],
});
const DOC = 'x'.repeat(400);

describe("the simulator's prompt cache", () => {
  it('has no breakpoint for a request without markers', () => {
    expect(breakpointsOf({ system: DOC, messages: [{ role: 'user', content: 'q' }] }, 'm')).toEqual([]);
  });

  it('writes a marked prefix, then reads it for the same model until it expires', () => {
    const book = new PromptCacheBook();
    const points = breakpointsOf(body(DOC, 'a'), 'm');
    expect(points).toEqual([{ key: expect.any(String), tokens: 103, hour: false }]);
    expect(book.use(points, 110, 0)).toEqual({ read: 0, written5m: 103, written1h: 0 });
    expect(book.use(breakpointsOf(body(DOC, 'another question'), 'm'), 112, 60_000)).toEqual({ read: 103, written5m: 0, written1h: 0 });
    expect(book.use(breakpointsOf(body(DOC, 'a'), 'other-model'), 110, 60_000).read).toBe(0);
    // Read at one minute, so kept until six.
    expect(book.use(points, 110, 6 * 60_000 + 1).read).toBe(0);
  });

  it('counts an hour-long write apart and keeps it for the hour', () => {
    const book = new PromptCacheBook();
    const points = breakpointsOf(body(DOC, 'a', '1h'), 'm');
    expect(book.use(points, 110, 0)).toEqual({ read: 0, written5m: 0, written1h: 103 });
    expect(book.use(points, 110, 30 * 60_000).read).toBe(103);
  });

  it('holds at most its bound of prefixes, the least recently used going first', () => {
    const book = new PromptCacheBook(2);
    const a = breakpointsOf(body('a'.repeat(40), 'q'), 'm');
    const b = breakpointsOf(body('b'.repeat(40), 'q'), 'm');
    const c = breakpointsOf(body('c'.repeat(40), 'q'), 'm');
    book.use(a, 20, 0);
    book.use(b, 20, 0);
    book.use(a, 20, 0);
    book.use(c, 20, 0);
    expect(book.use(a, 20, 0).read).toBeGreaterThan(0);
    expect(book.use(b, 20, 0).read).toBe(0);
  });
});
