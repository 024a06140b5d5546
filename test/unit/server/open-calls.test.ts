import { describe, expect, it } from 'vitest';
import { OpenCalls } from '../../../src/server/open-calls.js';

describe('the registry of calls in flight', () => {
  it('lists the calls added and not removed, oldest first', () => {
    const calls = new OpenCalls<string>();
    const a = calls.add('a');
    calls.add('b');
    const c = calls.add('c');
    calls.add('d');
    a.remove();
    c.remove();
    expect([...calls]).toEqual(['b', 'd']);
  });

  it('a second remove() changes nothing, and the list empties and fills again', () => {
    const calls = new OpenCalls<number>();
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

  it('ending every call while iterating reaches each one once (shutdown aborts them all)', () => {
    const calls = new OpenCalls<{ abort(): void }>();
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
