import { describe, expect, it } from 'vitest';
import { costOf } from '../../../src/catalog/catalog.js';
import { BUILTIN_MODELS } from '../../../src/catalog/models.js';

const gpt4o = BUILTIN_MODELS.find((m) => m.id === 'gpt-4o');
if (!gpt4o) throw new Error('gpt-4o is a built-in model');

describe('the cost of an answer', () => {
  it('prices prompt tokens at the input price and completion tokens at the output price', () => {
    // gpt-4o: $2.50 per million input tokens, $10 per million output tokens.
    expect(costOf(gpt4o, { promptTokens: 1000, completionTokens: 100, totalTokens: 1100, cachedTokens: 0 })).toBe(0.0035);
  });

  it('prices cached prompt tokens at the cached input price, and never more of them than the prompt has', () => {
    // 600 uncached at $2.50, 400 cached at $1.25, 100 completion at $10 per million.
    expect(costOf(gpt4o, { promptTokens: 1000, completionTokens: 100, totalTokens: 1100, cachedTokens: 400 })).toBe(0.003);
    expect(costOf(gpt4o, { promptTokens: 1000, completionTokens: 0, totalTokens: 1000, cachedTokens: 5000 })).toBe(0.00125);
  });

  it('prices prompt tokens written to the cache at 1.25 times the input price', () => {
    // 300 uncached at $2.50, 400 cached at $1.25, 300 written at $3.125 per million.
    const usage = { promptTokens: 1000, completionTokens: 0, totalTokens: 1000, cachedTokens: 400, cacheWriteTokens: 300 };
    expect(costOf(gpt4o, usage)).toBe(0.0021875);
  });

  it('prices writes to the one-hour cache at twice the input price, and the rest of the writes at 1.25 times it', () => {
    // 300 uncached at $2.50, 400 cached at $1.25, 100 written for five minutes at $3.125, 200 for an hour at $5 per million.
    const usage = {
      promptTokens: 1000,
      completionTokens: 0,
      totalTokens: 1000,
      cachedTokens: 400,
      cacheWriteTokens: 300,
      cacheWrite1hTokens: 200,
    };
    expect(costOf(gpt4o, usage)).toBe(0.0025625);
    // Never more one-hour writes than writes.
    expect(costOf(gpt4o, { ...usage, cacheWrite1hTokens: 900 })).toBe(0.00275);
  });

  it("prices writes at the model's cache-write price where it has one, and one-hour writes still at twice the input price", () => {
    // OpenRouter lists what each vendor bills a write: here $2 a million, not 1.25 times $2.50.
    const listed = { ...gpt4o, cacheWritePricePerMillion: 2 };
    // 300 uncached at $2.50, 400 cached at $1.25, 300 written at $2 per million.
    const usage = { promptTokens: 1000, completionTokens: 0, totalTokens: 1000, cachedTokens: 400, cacheWriteTokens: 300 };
    expect(costOf(listed, usage)).toBe(0.00185);
    // 100 written for five minutes at $2, 200 for an hour at $5 per million.
    expect(costOf(listed, { ...usage, cacheWrite1hTokens: 200 })).toBe(0.00245);
    // A price of 0 is a price: the writes are free.
    expect(costOf({ ...gpt4o, cacheWritePricePerMillion: 0 }, usage)).toBe(0.00125);
  });
});
