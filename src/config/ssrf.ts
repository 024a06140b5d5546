import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

/**
 * Provider base URLs are a server-side request target, so they are checked before use
 * (seed 002's SSRF guard): http or https only, and never a link-local or cloud metadata
 * address unless the provider explicitly allows it (`allow_link_local`).
 */
const METADATA_HOSTS = new Set(['metadata', 'metadata.google.internal', 'metadata.goog', 'instance-data', 'instance-data.ec2.internal']);

export function checkProviderUrl(raw: string, options: { allowLinkLocal: boolean }): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return `"${raw}" is not a URL`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `only http and https are allowed (got ${url.protocol})`;
  if (url.username || url.password) return 'credentials in the URL are not allowed; use api_key_env';
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (options.allowLinkLocal) return undefined;
  if (METADATA_HOSTS.has(host)) return `${host} is a cloud metadata endpoint (set allow_link_local to permit)`;
  if (isLinkLocal(host)) return `${host} is a link-local address (set allow_link_local to permit)`;
  return undefined;
}

/** Resolves the host and refuses it when any address is link-local (DNS can point anywhere). */
export async function checkResolvedHost(raw: string, options: { allowLinkLocal: boolean }): Promise<string | undefined> {
  if (options.allowLinkLocal) return undefined;
  const host = new URL(raw).hostname.replace(/^\[|\]$/g, '');
  if (isIP(host)) return undefined;
  const addresses = await lookup(host, { all: true });
  const bad = addresses.find((a) => isLinkLocal(a.address));
  return bad ? `${host} resolves to link-local address ${bad.address} (set allow_link_local to permit)` : undefined;
}

export function isLinkLocal(address: string): boolean {
  const kind = isIP(address);
  if (kind === 4) {
    const [a, b] = address.split('.').map(Number);
    return (a === 169 && b === 254) || a === 0;
  }
  if (kind === 6) {
    const lower = address.toLowerCase();
    if (lower.startsWith('::ffff:')) return isLinkLocal(mappedIpv4(lower.slice(7)));
    return /^fe[89ab]/.test(lower) || lower === 'fd00:ec2::254';
  }
  return false;
}

/** The IPv4 address inside an IPv4-mapped IPv6 tail ("a9fe:a9fe" or "169.254.169.254"). */
function mappedIpv4(tail: string): string {
  if (tail.includes('.')) return tail;
  const [high = 0, low = 0] = tail.split(':').map((group) => parseInt(group, 16));
  return [high >> 8, high & 255, low >> 8, low & 255].join('.');
}
