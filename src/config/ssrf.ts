import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { maskUrlPassword } from '../domain/url-password.js';

/**
 * Provider base URLs are a server-side request target, so they are checked before use: http
 * or https only, and never a link-local, cloud metadata or unspecified address unless the
 * provider explicitly allows it (`allow_link_local`). The same rules are checked again on
 * every new upstream connection (providers/http/connector.ts); docs/security.md has them all.
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
    // The problem is printed and logged: a password in it must not be.
    return `"${maskUrlPassword(raw)}" is not a URL`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `only http and https are allowed (got ${url.protocol})`;
  if (url.username || url.password) return 'credentials in the URL are not allowed; use api_key_env';
  const host = hostOf(url);
  if (options.allowLinkLocal) return undefined;
  if (METADATA_HOSTS.has(host)) return `${host} is a cloud metadata endpoint ${PERMIT}`;
  const refused = refusedAddressKind(host);
  if (!refused) return undefined;
  const carried = isIP(host) === 6 ? embeddedIpv4(host) : undefined;
  return `${host}${carried ? ` (IPv4 ${carried})` : ''} is ${refused.startsWith('u') ? 'an' : 'a'} ${refused} ${PERMIT}`;
}

/** One DNS answer, as `dns.promises.lookup(host, { all: true })` gives them. */
export type HostLookup = (host: string) => Promise<readonly { readonly address: string }[]>;

const systemLookup: HostLookup = (host) => dnsLookup(host, { all: true });

/**
 * Resolves the host and refuses it when any address is link-local or a metadata address (DNS
 * can point anywhere). IP literals were checked by `checkProviderUrl`. A lookup that fails
 * throws: the caller decides whether an unresolvable host is fatal.
 */
export async function checkResolvedHost(
  raw: string,
  options: GuardOptions & { readonly lookup?: HostLookup },
): Promise<string | undefined> {
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
  return url.hostname
    .replace(/^\[|\]$/g, '')
    .toLowerCase()
    .replace(/\.+$/, '');
}

/**
 * Why an address is refused as a request target, or undefined when it is allowed. Loopback and
 * private ranges are allowed (Ollama, vLLM and sidecars live there); link-local space, cloud
 * metadata addresses and the unspecified address ("this host": 0.0.0.0 and :: both reach the
 * local machine) are not. An IPv6 address that carries an IPv4 address (IPv4-compatible
 * ::a.b.c.d, IPv4-mapped ::ffff:a.b.c.d, SIIT ::ffff:0:a.b.c.d, NAT64 64:ff9b::a.b.c.d) is
 * judged by the IPv4 address it carries, since that is where a packet ends up.
 */
export function refusedAddressKind(raw: string): string | undefined {
  // A zone ("fe80::1%eth0") names an interface, not a different address.
  const address = raw.replace(/%.*$/, '');
  const kind = isIP(address);
  if (kind === 0) return undefined;
  const v4 = kind === 4 ? address : embeddedIpv4(address);
  if (v4 !== undefined) {
    if (v4.startsWith('0.')) return 'unspecified address';
    if (isLinkLocal(v4)) return 'link-local address';
    if (METADATA_ADDRESSES.has(v4)) return 'cloud metadata address';
    return undefined;
  }
  const groups = ipv6Groups(address);
  if (groups.every((g) => g === 0)) return 'unspecified address';
  if (isLinkLocal(address)) return 'link-local address';
  if (isMetadataAddress(address)) return 'cloud metadata address';
  return undefined;
}

export function isMetadataAddress(address: string): boolean {
  if (isIP(address) !== 6) return METADATA_ADDRESSES.has(address);
  const v4 = embeddedIpv4(address);
  if (v4 !== undefined) return METADATA_ADDRESSES.has(v4);
  // The URL parser writes an IPv6 address in its one canonical form ("fd00:ec2:0::254" -> "fd00:ec2::254").
  return METADATA_ADDRESSES.has(new URL(`http://[${address}]`).hostname.slice(1, -1));
}

export function isLinkLocal(address: string): boolean {
  const kind = isIP(address);
  if (kind === 4) {
    const [a, b] = address.split('.').map(Number);
    return a === 169 && b === 254;
  }
  if (kind === 6) {
    const v4 = embeddedIpv4(address);
    if (v4 !== undefined) return isLinkLocal(v4);
    return ((ipv6Groups(address)[0] ?? 0) & 0xffc0) === 0xfe80;
  }
  return false;
}

/**
 * The IPv4 address an IPv6 address carries in its last 32 bits, for the forms that deliver to
 * it: IPv4-compatible (::/96, but not :: or ::1), IPv4-mapped (::ffff:0:0/96), SIIT-translated
 * (::ffff:0:0:0/96) and the NAT64 well-known prefix (64:ff9b::/96, RFC 6052).
 */
function embeddedIpv4(address: string): string | undefined {
  const g = ipv6Groups(address);
  const zeros = (from: number, to: number): boolean => g.slice(from, to).every((x) => x === 0);
  const tail = (): string => [g[6]! >> 8, g[6]! & 255, g[7]! >> 8, g[7]! & 255].join('.');
  if (zeros(0, 6) && (g[6] !== 0 || g[7]! > 1)) return tail();
  if (zeros(0, 5) && g[5] === 0xffff) return tail();
  if (zeros(0, 4) && g[4] === 0xffff && g[5] === 0) return tail();
  if (g[0] === 0x64 && g[1] === 0xff9b && zeros(2, 6)) return tail();
  return undefined;
}

/** The eight 16-bit groups of an IPv6 address (already known to be one). */
function ipv6Groups(address: string): number[] {
  // The URL parser expands a dotted tail and writes the canonical form, "::" at most once.
  const canonical = new URL(`http://[${address}]`).hostname.slice(1, -1);
  const [head = '', rest] = canonical.split('::');
  const parse = (part: string): number[] => (part === '' ? [] : part.split(':').map((x) => parseInt(x, 16)));
  const left = parse(head);
  if (rest === undefined) return left;
  const right = parse(rest);
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}
