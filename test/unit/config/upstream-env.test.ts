import { describe, expect, it } from 'vitest';
import { type EgressProxy, providerProxy } from '../../../src/config/upstream-env.js';

describe('providerProxy', () => {
  const env: EgressProxy = { httpsProxy: 'http://env:3128', httpProxy: 'http://env:3128', noProxy: 'example.com,localhost' };

  it("keeps the environment's proxy for a provider that names none", () => {
    expect(providerProxy(env, undefined)).toBe(env);
    expect(providerProxy(undefined, undefined)).toBeUndefined();
  });

  it('sends every call of a provider that names a proxy through it, NO_PROXY or not', () => {
    const own = { httpsProxy: 'http://u:p@own:8080', httpProxy: 'http://u:p@own:8080', noProxy: '' };
    expect(providerProxy(env, 'http://u:p@own:8080')).toEqual(own);
    expect(providerProxy(undefined, 'http://u:p@own:8080')).toEqual(own);
  });

  it('reaches a provider with proxy: none directly', () => {
    expect(providerProxy(env, 'none')).toBeUndefined();
  });
});
