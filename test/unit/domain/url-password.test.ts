import { describe, expect, it } from 'vitest';
import { maskUrlPassword } from '../../../src/domain/url-password.js';

describe('maskUrlPassword', () => {
  it.each([
    ['redis://:s3cret@host:6379', 'redis://:***@host:6379'],
    ['postgres://app:s3cret@db:5432/ledger', 'postgres://app:***@db:5432/ledger'],
    ['http://corp:pa/ss@w@proxy:3128', 'http://corp:***@proxy:3128'],
    // The spelling curl and Go accept for a proxy, without its scheme.
    ['corp:s3cret@proxy:3128', 'corp:***@proxy:3128'],
    ['corp:s3cret@pro xy:3128', 'corp:***@pro xy:3128'],
    // libpq's and node-postgres's other place for it.
    ['postgres://app@db/ledger?password=s3cret', 'postgres://app@db/ledger?password=***'],
    ['postgres://app@db/ledger?sslmode=require&PASSWORD=s3cret#x', 'postgres://app@db/ledger?sslmode=require&PASSWORD=***#x'],
    ['postgres://app:one@db/ledger?password=two', 'postgres://app:***@db/ledger?password=***'],
  ])('masks the password of %s', (given, shown) => {
    expect(maskUrlPassword(given)).toBe(shown);
  });

  it.each([
    'sqlite:./data/orchestrator.db',
    'postgres://db/ledger?application_name=password',
    'sqlite:./password=x.db',
    'sqlite::memory:',
    'http://proxy:3128',
    'proxy:3128',
    'sqlite:/srv/a@b.db',
  ])('leaves %s as it is', (given) => {
    expect(maskUrlPassword(given)).toBe(given);
  });
});
