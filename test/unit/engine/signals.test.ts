import { describe, expect, it, vi } from 'vitest';
import { timedLink } from '../../../src/engine/signals.js';

describe('a strategy link (timedLink)', () => {
  it('with a finite timeout, aborts on its own with the timeout reason and leaves the parent alone', () => {
    vi.useFakeTimers();
    try {
      const parent = new AbortController();
      const link = timedLink(parent.signal, { ms: 50, reason: () => new Error('link timed out') });
      expect(link.signal).not.toBe(parent.signal);
      vi.advanceTimersByTime(50);
      expect(link.signal.aborted).toBe(true);
      expect((link.signal.reason as Error).message).toBe('link timed out');
      expect(parent.signal.aborted).toBe(false);
      link.dispose();
    } finally {
      vi.useRealTimers();
    }
  });

  it('with a finite timeout, follows its parent; kept without the timeout, it no longer times out', () => {
    vi.useFakeTimers();
    try {
      const parent = new AbortController();
      const kept = timedLink(parent.signal, { ms: 50, reason: () => new Error('link timed out') });
      kept.keepWithoutTimeout();
      vi.advanceTimersByTime(100);
      expect(kept.signal.aborted).toBe(false);
      parent.abort(new Error('client went away'));
      expect((kept.signal.reason as Error).message).toBe('client went away');
      kept.dispose();
    } finally {
      vi.useRealTimers();
    }
  });

  it('with no finite timeout (the last model of a chain), is the parent signal itself', () => {
    const parent = new AbortController();
    const link = timedLink(parent.signal, { ms: Number.POSITIVE_INFINITY, reason: () => new Error('never') });
    expect(link.signal).toBe(parent.signal);
    link.keepWithoutTimeout();
    link.dispose();
    parent.abort(new Error('client went away'));
    expect((link.signal.reason as Error).message).toBe('client went away');
  });
});
