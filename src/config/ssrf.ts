import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';

/**
 * Provider base URLs are a server-side request target, so they are checked before use
 * (the SSRF guard): http or https only, and never a link-local or cloud metadata
 * address unless the provider explicitly allows it (`allow_link_local`).
 */
const METADATA_HOSTS = new Set(['metadata', 'metadata.google.internal', 'metadata.goog', 'instance-data', 'instance-data.ec2.internal']);

/**
 * Metadata services outside link-local space: Alibaba Cloud (in the 100.64.0.0/10 shared range,
 * which is otherwise left alone: Tailscale and carrier NAT use it) and AWS's IPv6 endpoint.
 */
const METADATA_ADDRESSES = new Set(['100.100.100.200', 'fd00:ec2::254']);

const PERMIT = '(set allow_link_local to permit)';

export interface GuardOptions {
  readonly allowLinkLocal: boolean;
}

export function checkProviderUrl(raw: string, options: GuardOptions): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return `"${raw}" is not a URL`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `only http and https are allowed (got ${url.protocol})`;
  if (url.username || url.password) return 'credentials in the URL are not allowed; use api_key_env';
  const host = hostOf(url);
  if (options.allowLinkLocal) return undefined;
  if (METADATA_HOSTS.has(host)) return `${host} is a cloud metadata endpoint ${PERMIT}`;
  const refused = refusedAddressKind(host);
  return refused ? `${host} is a ${refused} ${PERMIT}` : undefined;
}

/** One DNS answer, as `dns.promises.lookup(host, { all: true })` gives them. */
export type HostLookup = (host: string) => Promise<readonly { readonly address: string }[]>;

const systemLookup: HostLookup = (host) => dnsLookup(host, { all: true });

/**
 * Resolves the host and refuses it when any address is link-local or a metadata address (DNS
 * can point anywhere). IP literals were checked by `checkProviderUrl`. A lookup that fails
 * throws: the caller decides whether an unresolvable host is fatal.
 */
export async function checkResolvedHost(raw: string, options: GuardOptions & { readonly lookup?: HostLookup }): Promise<string | undefined> {
  if (options.allowLinkLocal) return undefined;
  const host = hostOf(new URL(raw));
  if (isIP(host)) return undefined;
  const addresses = await (options.lookup ?? systemLookup)(host);
  for (const { address } of addresses) {
    const refused = refusedAddressKind(address);
    if (refused) return `${host} resolves to ${refused} ${address} ${PERMIT}`;
  }
  return undefined;
}

/** The URL's host as compared: no IPv6 brackets, lower case, no trailing dot (the root label). */
function hostOf(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '').toLowerCase().replace(/\.+$/, '');
}

function refusedAddressKind(raw: string): string | undefined {
  // A zone ("fe80::1%eth0") names an interface, not a different address.
  const address = raw.replace(/%.*$/, '');
  if (isLinkLocal(address)) return 'link-local address';
  if (isMetadataAddress(address)) return 'cloud metadata address';
  return undefined;
}

export function isMetadataAddress(address: string): boolean {
  if (isIP(address) !== 6) return METADATA_ADDRESSES.has(address);
  // The URL parser writes an IPv6 address in its one canonical form ("fd00:ec2:0::254" -> "fd00:ec2::254").
  const canonical = new URL(`http://[${address}]`).hostname.slice(1, -1);
  return canonical.startsWith('::ffff:') ? isMetadataAddress(mappedIpv4(canonical.slice(7))) : METADATA_ADDRESSES.has(canonical);
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
    return /^fe[89ab]/.test(lower);
  }
  return false;
}

/** The IPv4 address inside an IPv4-mapped IPv6 tail ("a9fe:a9fe" or "169.254.169.254"). */
function mappedIpv4(tail: string): string {
  if (tail.includes('.')) return tail;
  const [high = 0, low = 0] = tail.split(':').map((group) => parseInt(group, 16));
  return [high >> 8, high & 255, low >> 8, low & 255].join('.');
}
