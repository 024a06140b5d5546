import { describe, expect, it } from 'vitest';
import { byCodeUnit } from '../../../src/domain/order.js';

describe('listing order', () => {
  it('is code unit order, whatever the locale: capitals before lower case, punctuation by its code', () => {
    const names = ['b-model', 'B-model', 'a.model', 'a-model', 'Zed', 'éclair', 'e'];
    expect([...names].sort(byCodeUnit)).toEqual(['B-model', 'Zed', 'a-model', 'a.model', 'b-model', 'e', 'éclair']);
    // localeCompare, which these listings used, puts "a-model" and "b-model" before "B-model" and "Zed".
    expect([...names].sort((a, b) => a.localeCompare(b, 'en'))).not.toEqual([...names].sort(byCodeUnit));
  });
});
