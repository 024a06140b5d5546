import { describe, expect, it } from 'vitest';
import { perMillionUsd, pricePerMillion, roundUsd, sumUsd } from '../../../src/domain/money.js';

describe('money', () => {
  it('rounds amounts to 1e-10 USD, so float noise from sums never shows', () => {
    expect(0.1 + 0.2).not.toBe(0.3);
    expect(roundUsd(0.1 + 0.2)).toBe(0.3);
    expect(sumUsd([0.1, 0.2, 0.0000000001])).toBe(0.3000000001);
  });

  it('prices token counts per million in one step', () => {
    // 1,234 prompt tokens at $2.50 per million.
    expect(perMillionUsd(1234 * 2.5)).toBe(0.003085);
    expect(perMillionUsd(0)).toBe(0);
  });

  it('turns a per-token price into a price per million without binary noise', () => {
    expect(0.0000018 * 1e6).not.toBe(1.8);
    expect(pricePerMillion(0.0000018)).toBe(1.8);
    expect(pricePerMillion(0.0000025)).toBe(2.5);
    expect(pricePerMillion(0.00000015)).toBe(0.15);
    expect(pricePerMillion(0)).toBe(0);
  });
});
