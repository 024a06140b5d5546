import { describe, expect, it } from 'vitest';
import { LinkedList } from '../../../src/domain/linked-list.js';

describe('the linked list that holds calls in flight and calls waiting', () => {
  it('lists the calls added and not removed, oldest first', () => {
    const calls = new LinkedList<string>();
    const a = calls.add('a');
    calls.add('b');
    const c = calls.add('c');
    calls.add('d');
    a.remove();
    c.remove();
    expect([...calls]).toEqual(['b', 'd']);
  });

  it('a second remove() changes nothing, and the list empties and fills again', () => {
    const calls = new LinkedList<number>();
    const one = calls.add(1);
    const two = calls.add(2);
    one.remove();
    one.remove();
    expect([...calls]).toEqual([2]);
    two.remove();
    expect([...calls]).toEqual([]);
    calls.add(3);
    expect([...calls]).toEqual([3]);
  });

  it('counts what it holds and knows the oldest', () => {
    const calls = new LinkedList<string>();
    expect(calls.size).toBe(0);
    expect(calls.first()).toBeUndefined();
    const a = calls.add('a');
    const b = calls.add('b');
    calls.add('c');
    expect(calls.size).toBe(3);
    expect(calls.first()).toBe('a');
    a.remove();
    a.remove();
    expect(calls.size).toBe(2);
    expect(calls.first()).toBe('b');
    b.remove();
    expect(calls.first()).toBe('c');
  });

  it('ending every call while iterating reaches each one once (shutdown aborts them all)', () => {
    const calls = new LinkedList<{ abort(): void }>();
    const ended: number[] = [];
    for (let i = 0; i < 5; i++) {
      const handle = calls.add({
        abort: () => {
          ended.push(i);
          handle.remove();
        },
      });
    }
    for (const call of calls) call.abort();
    expect(ended).toEqual([0, 1, 2, 3, 4]);
    expect([...calls]).toEqual([]);
  });
});
