import { describe, expect, it } from 'vitest';
import { type EgressProxy, egressProxy, providerProxy, proxyFor, withLowerCaseProxyNames } from '../../../src/config/upstream-env.js';

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

describe('egressProxy', () => {
  const noProxy = (value: string) => egressProxy({ HTTP_PROXY: 'http://p:3128', NO_PROXY: value })?.noProxy;

  it('keeps names, host:port and IPv4 entries, and adds loopback', () => {
    expect(noProxy('.example.com, api.internal:8443 10.0.0.5')).toBe('.example.com,api.internal:8443,10.0.0.5,localhost,127.0.0.1,[::1]');
  });

  it('writes IPv6 entries as a URL writes its host, with their port', () => {
    expect(noProxy('fd00::5,2001:DB8:0::1,::ffff:127.0.0.1,[FD00::6]:8080')).toBe(
      '[fd00::5],[2001:db8::1],[::ffff:7f00:1],[fd00::6]:8080,localhost,127.0.0.1,[::1]',
    );
  });
});

describe('proxyFor', () => {
  const both: EgressProxy = { httpsProxy: 'http://s:3128', httpProxy: 'http://p:3128', noProxy: 'localhost' };
  const httpOnly: EgressProxy = { httpsProxy: '', httpProxy: 'http://p:3128', noProxy: 'localhost' };

  it("gives each scheme its own variable's proxy, for both of undici's settings", () => {
    expect(proxyFor(both, 'https://api.example.com/v1')).toEqual({
      httpsProxy: 'http://s:3128',
      httpProxy: 'http://s:3128',
      noProxy: 'localhost',
    });
    expect(proxyFor(both, 'HTTP://ollama:11434/v1')).toEqual({
      httpsProxy: 'http://p:3128',
      httpProxy: 'http://p:3128',
      noProxy: 'localhost',
    });
  });

  it('sends https:// directly when only HTTP_PROXY is set, and file: or no proxy never through one', () => {
    expect(proxyFor(httpOnly, 'https://api.example.com/v1')).toBeUndefined();
    expect(proxyFor(both, 'file:///srv/models.json')).toBeUndefined();
    expect(proxyFor(undefined, 'https://api.example.com/v1')).toBeUndefined();
  });
});

describe('withLowerCaseProxyNames', () => {
  const proxyNames = (env: Record<string, string>) => {
    const out = withLowerCaseProxyNames(env);
    return { HTTPS_PROXY: out['HTTPS_PROXY'], HTTP_PROXY: out['HTTP_PROXY'], NO_PROXY: out['NO_PROXY'] };
  };

  it('takes each lower-case spelling over its upper-case one, as curl and Python do', () => {
    expect(
      proxyNames({
        HTTPS_PROXY: 'http://upper-s:3128',
        https_proxy: 'http://lower-s:3128',
        HTTP_PROXY: 'http://upper-p:3128',
        http_proxy: 'http://lower-p:3128',
        NO_PROXY: 'upper.example',
        no_proxy: 'lower.example',
      }),
    ).toEqual({ HTTPS_PROXY: 'http://lower-s:3128', HTTP_PROXY: 'http://lower-p:3128', NO_PROXY: 'lower.example' });
  });

  it('keeps an upper-case setting whose lower-case spelling is unset or blank', () => {
    expect(
      proxyNames({ HTTP_PROXY: 'http://upper-p:3128', https_proxy: 'http://lower-s:3128', no_proxy: ' ', NO_PROXY: 'a.example' }),
    ).toEqual({
      HTTPS_PROXY: 'http://lower-s:3128',
      HTTP_PROXY: 'http://upper-p:3128',
      NO_PROXY: 'a.example',
    });
  });
});
