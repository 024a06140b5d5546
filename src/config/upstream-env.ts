import { isIP } from 'node:net';
import { z } from 'zod';
import { emptyAsUndefined, number, text } from './env-values.js';

/** A forward proxy's address: the environment's and a provider's own (`providers[].proxy`). */
export const proxyUrlSchema = z.url({ protocol: /^https?$/ });

/** A value without `scheme://` is an http:// proxy (`proxy.corp:3128`), as curl, Go and Python read it. */
function withHttpScheme(value: unknown): unknown {
  const given = emptyAsUndefined(value);
  return typeof given === 'string' && !given.includes('://') ? `http://${given}` : given;
}

const proxyUrl = () => z.preprocess(withHttpScheme, proxyUrlSchema.optional());

// Per-provider caps on upstream requests in flight (the config file's providers[].max_in_flight
// and providers[].queue_max override them for one provider), and the forward proxy upstream
// calls go through.
export const UPSTREAM_ENV = {
  /** 0: no cap. */
  UPSTREAM_MAX_IN_FLIGHT: number(z.number().int().min(0).max(1_000_000), 1024),
  /** 0: no queue, a call that finds every slot taken is refused at once. */
  UPSTREAM_QUEUE_MAX: number(z.number().int().min(0).max(1_000_000), 1024),
  HTTPS_PROXY: proxyUrl(),
  HTTP_PROXY: proxyUrl(),
  NO_PROXY: text(),
};

/** The forward proxy for outgoing HTTP, as the standard variables name it; undefined: none. */
export interface EgressProxy {
  /** For https:// targets: HTTPS_PROXY only, as curl, Go and Python read it (not undici's HTTP_PROXY fallback); '' : direct. */
  readonly httpsProxy: string;
  /** For http:// targets; '' : direct. */
  readonly httpProxy: string;
  /** Hosts reached directly: NO_PROXY's entries, then loopback, which is never proxied (as in Go). */
  readonly noProxy: string;
}

const PROXY_NAMES = ['HTTPS_PROXY', 'HTTP_PROXY', 'NO_PROXY'] as const;

/**
 * The lower-case spellings (`https_proxy`) that curl, Go and Python read too. Each one set wins
 * over its upper-case one, as in curl and Python (Go reads the upper-case one first), so a
 * machine that sets both to different values behaves as most of its other tools do.
 */
export function withLowerCaseProxyNames(env: Readonly<Record<string, string | undefined>>): Readonly<Record<string, string | undefined>> {
  const given = (name: string): string | undefined => {
    const lower = env[name.toLowerCase()];
    return lower === undefined || lower.trim() === '' ? undefined : lower;
  };
  if (!PROXY_NAMES.some((name) => given(name) !== undefined)) return env;
  const out = { ...env };
  for (const name of PROXY_NAMES) out[name] = given(name) ?? env[name];
  return out;
}

export function egressProxy(e: {
  readonly HTTPS_PROXY?: string | undefined;
  readonly HTTP_PROXY?: string | undefined;
  readonly NO_PROXY?: string | undefined;
}): EgressProxy | undefined {
  const httpProxy = e.HTTP_PROXY ?? '';
  const httpsProxy = e.HTTPS_PROXY ?? '';
  const entries = noProxyEntries(e.NO_PROXY);
  // `*` means every host directly, in a list too, as Go reads it: undici reads it only as the whole
  // value, which the loopback entries added below would never leave it.
  if ((httpProxy === '' && httpsProxy === '') || entries.includes('*')) return undefined;
  return { httpsProxy, httpProxy, noProxy: [...entries, 'localhost', '127.0.0.1', '[::1]'].join(',') };
}

/**
 * NO_PROXY's entries as undici compares them with a URL's host: an IPv6 address in brackets and
 * in the URL's own spelling (`fd00::5` reads `[fd00::5]`, `::ffff:127.0.0.1` reads
 * `[::ffff:7f00:1]`). Written bare, undici would take its last group for a port and never match.
 */
function noProxyEntries(value: string | undefined): string[] {
  return (value ?? '')
    .split(/[,\s]+/)
    .filter((entry) => entry !== '')
    .map((entry) => {
      const bracketed = /^\[([^\]]+)\](:\d+)?$/.exec(entry);
      const address = isIP(entry) === 6 ? entry : bracketed?.[1];
      if (address === undefined || isIP(address) !== 6) return entry;
      return `${new URL(`http://[${address}]`).host}${bracketed?.[2] ?? ''}`;
    });
}

/**
 * The proxy one provider's calls go through: its own `providers[].proxy` when set, for every call
 * of that provider (NO_PROXY and the loopback rule are the environment's: a provider that names a
 * proxy means it), `none` for none, else the environment's.
 */
export function providerProxy(env: EgressProxy | undefined, own: string | undefined): EgressProxy | undefined {
  if (own === undefined) return env;
  if (own === 'none') return undefined;
  return { httpsProxy: own, httpProxy: own, noProxy: '' };
}

/**
 * The proxy for requests to `url`'s scheme (a provider calls its base_url's origin only, a catalog
 * fetch its one URL): HTTPS_PROXY for https://, HTTP_PROXY for http://, undefined for none. Both of
 * undici's settings get that one proxy: on its own, undici sends https:// through HTTP_PROXY when
 * HTTPS_PROXY is unset, which curl, Go and Python never do.
 */
export function proxyFor(proxy: EgressProxy | undefined, url: string): EgressProxy | undefined {
  if (!proxy) return undefined;
  const scheme = /^([a-z][a-z\d+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  const chosen = scheme === 'https' ? proxy.httpsProxy : scheme === 'http' ? proxy.httpProxy : '';
  return chosen === '' ? undefined : { httpsProxy: chosen, httpProxy: chosen, noProxy: proxy.noProxy };
}

/**
 * undici's EnvHttpProxyAgent options for the proxy. Every value is given ('' for none), or undici
 * would read process.env behind the config's back. A request to an http:// address goes to the
 * proxy as a plain request naming the whole URL, as curl, Go and Python send it, not through a
 * CONNECT tunnel: proxies commonly tunnel to port 443 only (Squid's default configuration).
 */
export function proxyAgentOptions(proxy: EgressProxy): {
  readonly httpProxy: string;
  readonly httpsProxy: string;
  readonly noProxy: string;
  readonly proxyTunnel: false;
} {
  return { httpProxy: proxy.httpProxy, httpsProxy: proxy.httpsProxy, noProxy: proxy.noProxy, proxyTunnel: false };
}
