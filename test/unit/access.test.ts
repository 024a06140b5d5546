import { describe, expect, it } from 'vitest';
import { ApiKeyStore, presentedKey } from '../../src/access/keys.js';
import { allowsModel, modelPattern } from '../../src/access/patterns.js';
import { periodsOf } from '../../src/access/budgets.js';
import { sha } from '../helpers/access-file.js';

const spec = (name: string, key: string, allowedModels = ['*']) => ({
  name,
  sha256: sha(key),
  allowedModels,
  limits: { requestsPerMinute: undefined, tokensPerMinute: undefined },
  budgets: { usdPerDay: undefined, usdPerMonth: undefined },
});

describe('API key store', () => {
  const store = new ApiKeyStore([spec('a', 'secret-a'), spec('b', 'secret-b', ['gpt-4o*'])]);

  it('finds a key by its hash and never keeps the key itself', () => {
    expect(store.authenticate('secret-b')?.name).toBe('b');
    expect(store.authenticate('secret-c')).toBeUndefined();
    expect(JSON.stringify(store.all().map((e) => e.spec))).not.toContain('secret');
  });

  it('reads Bearer authorization first, then x-api-key', () => {
    expect(presentedKey('Bearer abc', 'def')).toBe('abc');
    expect(presentedKey('bearer   abc ', undefined)).toBe('abc');
    expect(presentedKey('Basic abc', 'def')).toBe('def');
    expect(presentedKey(undefined, '  ')).toBeUndefined();
  });

  it('matches model patterns case-insensitively with *', () => {
    const patterns = ['gpt-4o*', 'o3'].map(modelPattern);
    expect(allowsModel(patterns, 'gpt-4o-mini')).toBe(true);
    expect(allowsModel(patterns, 'GPT-4O')).toBe(true);
    expect(allowsModel(patterns, 'o3')).toBe(true);
    expect(allowsModel(patterns, 'o3-mini')).toBe(false);
    expect(allowsModel(patterns, 'gpt-4.1')).toBe(false);
    expect(allowsModel([modelPattern('gpt-4.1')], 'gpt-4x1')).toBe(false);
  });
});

describe('budget periods', () => {
  it('are UTC days and months, with the time left in the day', () => {
    const p = periodsOf(new Date('2026-11-22T23:00:00Z'));
    expect(p).toEqual({ day: '2026-11-22', month: '2026-11', msToNextDay: 3_600_000 });
  });
});
