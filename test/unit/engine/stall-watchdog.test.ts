import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { StallWatchdog, type StallPhase } from '../../../src/engine/stall-watchdog.js';

describe('StallWatchdog', () => {
  let stalls: [StallPhase, number][];
  let dog: StallWatchdog;
  beforeEach(() => {
    vi.useFakeTimers();
    stalls = [];
    dog = new StallWatchdog((phase, ms) => stalls.push([phase, ms]));
  });
  afterEach(() => {
    dog.stop();
    vi.useRealTimers();
  });

  it('reports a stall when the upstream is silent for the whole window, naming the phase', () => {
    dog.wait(100, 'first_token');
    vi.advanceTimersByTime(99);
    expect(stalls).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(stalls).toEqual([['first_token', 100]]);
  });

  it('gives every event a full new window', () => {
    dog.wait(100, 'first_token');
    vi.advanceTimersByTime(60);
    dog.hold();
    dog.wait(50, 'inter_token');
    for (let i = 0; i < 5; i++) {
      vi.advanceTimersByTime(40);
      dog.hold();
      dog.wait(50, 'inter_token');
    }
    expect(stalls).toEqual([]);
    vi.advanceTimersByTime(50);
    expect(stalls).toEqual([['inter_token', 50]]);
  });

  it('never counts the time the consumer holds an event, and re-arms after it', () => {
    dog.wait(50, 'inter_token');
    dog.hold();
    vi.advanceTimersByTime(500);
    expect(stalls).toEqual([]);
    dog.wait(50, 'inter_token');
    vi.advanceTimersByTime(49);
    expect(stalls).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(stalls).toEqual([['inter_token', 50]]);
  });

  it('has no limit with 0, and nothing fires after stop', () => {
    dog.wait(0, 'first_token');
    vi.advanceTimersByTime(10_000);
    dog.wait(20, 'inter_token');
    dog.stop();
    vi.advanceTimersByTime(10_000);
    expect(stalls).toEqual([]);
  });
});
