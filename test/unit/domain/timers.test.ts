import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { armDeadline, MAX_TIMER_MS, settleWithin } from '../../../src/domain/timers.js';

describe('settleWithin', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('settles with the value of work that ends in time, and leaves no timer behind', async () => {
    const outcome = settleWithin(Promise.resolve('done'), 1_000, 'late');
    await expect(outcome).resolves.toBe('done');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('settles with the late value once the time is up, and not a moment before', async () => {
    let settled: string | undefined;
    void settleWithin(new Promise<string>(() => undefined), 1_000, 'late').then((v) => {
      settled = v;
    });
    await vi.advanceTimersByTimeAsync(999);
    expect(settled).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(settled).toBe('late');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('rejects as work rejects, and leaves no timer behind', async () => {
    await expect(settleWithin(Promise.reject(new Error('refused')), 1_000, 'late')).rejects.toThrow('refused');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('keeps work that ends after the time is up from changing the answer', async () => {
    let finish: (value: string) => void = () => undefined;
    const outcome = settleWithin(new Promise<string>((resolve) => (finish = resolve)), 10, 'late');
    await vi.advanceTimersByTimeAsync(10);
    finish('done');
    await expect(outcome).resolves.toBe('late');
  });

  it('is late at once for a time already past, and waits as long as a timer can for one past its limit', async () => {
    const past = settleWithin(new Promise<string>(() => undefined), -5, 'late');
    await vi.advanceTimersByTimeAsync(0);
    await expect(past).resolves.toBe('late');
    let settled: string | undefined;
    void settleWithin(new Promise<string>(() => undefined), MAX_TIMER_MS * 2, 'late').then((v) => {
      settled = v;
    });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(settled).toBeUndefined();
    await vi.advanceTimersByTimeAsync(MAX_TIMER_MS);
    expect(settled).toBe('late');
  });
});

describe('armDeadline', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  const reasons = () => {
    const seen: string[] = [];
    return { seen, abort: (r: { kind: string; message: string }) => seen.push(`${r.kind}: ${r.message}`) };
  };

  it('ends the call with DEADLINE_EXCEEDED at its deadline, not a moment before', () => {
    const { seen, abort } = reasons();
    armDeadline(Date.now() + 500, abort);
    vi.advanceTimersByTime(499);
    expect(seen).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(seen).toEqual(['deadline_exceeded: the call deadline passed before the answer was ready']);
  });

  it('ends a call whose deadline has passed at once, before anything runs, and arms nothing', () => {
    const { seen, abort } = reasons();
    armDeadline(Date.now(), abort);
    expect(seen).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('arms nothing without a deadline, and leaves nothing once disarmed', () => {
    const { seen, abort } = reasons();
    armDeadline(Number.POSITIVE_INFINITY, abort);
    expect(vi.getTimerCount()).toBe(0);
    const disarm = armDeadline(Date.now() + 1_000, abort);
    expect(vi.getTimerCount()).toBe(1);
    disarm();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(2_000);
    expect(seen).toEqual([]);
  });

  it('waits a deadline past what a timer holds for as long as a timer can, instead of firing at once', () => {
    const { seen, abort } = reasons();
    armDeadline(Date.now() + 10 * MAX_TIMER_MS, abort);
    vi.advanceTimersByTime(MAX_TIMER_MS - 1);
    expect(seen).toEqual([]);
  });
});
