import { describe, expect, it } from 'vitest';
import { copyRows, copyValue } from '../../../src/store/pg-copy.js';

describe("COPY's text format", () => {
  it('writes null, numbers and plain text as they are, tab-separated, one line per row', () => {
    const row = ['abc', 12, null, 0.30000000000000004, 1e-7, undefined] as const;
    const columns = row.map((_, i) => (r: typeof row) => r[i]);
    expect(copyRows([row, row], columns)).toBe('abc\t12\t\\N\t0.30000000000000004\t1e-7\t\\N\n'.repeat(2));
  });

  it('escapes the characters COPY reads as separators or escapes', () => {
    expect(copyValue('a\\b\tc\nd\re')).toBe('a\\\\b\\tc\\nd\\re');
  });

  it('writes a number JSON would write as null as null', () => {
    expect([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY].map(copyValue)).toEqual(['\\N', '\\N', '\\N']);
  });

  it('replaces what PostgreSQL text cannot hold (NUL, a lone surrogate) with U+FFFD', () => {
    expect(copyValue('nul\0here')).toBe('nul\uFFFDhere');
    expect(copyValue('cut pair \ud83e')).toBe('cut pair \uFFFD');
    expect(copyValue('whole pair 🦊')).toBe('whole pair 🦊');
  });
});
