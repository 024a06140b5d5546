import { refusedAddressKind } from '../../config/ssrf.js';
import type { EgressProxy } from '../../config/upstream-env.js';
import type { ResolveAll } from './connector.js';
import type { UndiciFetchOptions } from './undici-fetch.js';

/** Largest upstream response body read whole (a non-streamed answer, an error body). */
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;
/** Largest single server-sent event of a streamed answer (one is usually under a kilobyte). */
export const DEFAULT_MAX_EVENT_BYTES = 1024 * 1024;

/** What every provider's HTTP client is given: size limits and the SSRF rules. */
export interface UpstreamHttpOptions {
  /** UPSTREAM_MAX_BODY_BYTES. */
  readonly maxBodyBytes?: number;
  /** UPSTREAM_MAX_EVENT_BYTES. */
  readonly maxEventBytes?: number;
  /**
   * The provider's `allow_link_local`: no SSRF check on its connections. Otherwise every new
   * connection is checked against the rules of config/ssrf.ts, whatever DNS answers by then.
   */
  readonly allowLinkLocal?: boolean;
  /** Replaces the system resolver for those checks (tests). */
  readonly resolve?: ResolveAll;
  /** HTTPS_PROXY / HTTP_PROXY / NO_PROXY. */
  readonly proxy?: EgressProxy | undefined;
}

export function upstreamHttpOptions(options: UpstreamHttpOptions): {
  fetch: UndiciFetchOptions;
  maxBodyBytes: number;
  maxEventBytes: number;
} {
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  return {
    maxBodyBytes,
    fetch: {
      maxBodyBytes,
      ...(options.allowLinkLocal ? {} : { addressPolicy: refusedAddressKind }),
      ...(options.resolve ? { resolve: options.resolve } : {}),
      ...(options.proxy ? { proxy: options.proxy } : {}),
    },
    maxEventBytes: options.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES,
  };
}
