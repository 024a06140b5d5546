import { describe, expect, it } from 'vitest';
import { Slots } from '../../../src/engine/resilience/slots.js';

describe('Slots', () => {
  it('gives free slots at once, then queues; a freed slot passes to the oldest waiter still queued', () => {
    const slots = new Slots(2);
    expect([slots.tryTake(), slots.tryTake(), slots.tryTake()]).toEqual([true, true, false]);
    const granted: string[] = [];
    const a = slots.wait(() => granted.push('a'));
    slots.wait(() => granted.push('b'));
    slots.wait(() => granted.push('c'));
    a.remove();
    expect(slots.queued).toBe(2);
    slots.release();
    expect(granted).toEqual(['b']);
    // The slot went to b: as many taken as before, one waiter fewer.
    expect([slots.active, slots.queued]).toEqual([2, 1]);
    // Nobody jumps the queue while c waits.
    expect(slots.tryTake()).toBe(false);
    slots.release();
    slots.release();
    expect(granted).toEqual(['b', 'c']);
    expect([slots.active, slots.queued]).toEqual([1, 0]);
    slots.release();
    expect(slots.active).toBe(0);
    expect(slots.tryTake()).toBe(true);
  });

  it('never queues without a cap (capacity 0)', () => {
    const slots = new Slots(0);
    for (let i = 0; i < 1000; i++) expect(slots.tryTake()).toBe(true);
    expect(slots.active).toBe(1000);
  });
});
