import { z } from 'zod';
import { bindHost, emptyAsUndefined, milliseconds, number } from './env-values.js';

// The OpenAI-compatible HTTP API (src/http): same process, same engine, its own port.
export const HTTP_ENV = {
  /** true (default) or false: serve the OpenAI-compatible HTTP API next to gRPC. */
  HTTP_ENABLED: z.preprocess(
    (v) => (typeof v === 'string' ? v.trim().toLowerCase() || undefined : v),
    z.enum(['true', 'false', 'on', 'off', '1', '0']).default('true'),
  ),
  /** Unset: HOST. */
  HTTP_HOST: z.preprocess(emptyAsUndefined, bindHost().optional()),
  /** 0: a free port, logged at start-up. */
  HTTP_PORT: number(z.number().int().min(0).max(65535), 8080),
  /** 0: no limit. */
  HTTP_REQUEST_TIMEOUT_MS: milliseconds(0, 30_000),
  /** Per worker with WORKERS > 1; 0: no limit. */
  HTTP_MAX_CONNECTIONS: number(z.number().int().min(0), 10_000),
};

export interface HttpConfig {
  readonly enabled: boolean;
  readonly host: string;
  /** The setting `host` came from, for a bind error to name: HOST when HTTP_HOST is unset. */
  readonly hostSetting: 'HTTP_HOST' | 'HOST';
  readonly port: number;
  /** From a request's first byte to its whole body (headers included); 0: no limit. */
  readonly requestTimeoutMs: number;
  /** Connections the port holds at once; 0: no limit. */
  readonly maxConnections: number;
}

export function httpConfig(
  e: {
    readonly HTTP_ENABLED: string;
    readonly HTTP_HOST?: string | undefined;
    readonly HTTP_PORT: number;
    readonly HTTP_REQUEST_TIMEOUT_MS: number;
    readonly HTTP_MAX_CONNECTIONS: number;
  },
  host: string,
): HttpConfig {
  return {
    enabled: ['true', 'on', '1'].includes(e.HTTP_ENABLED),
    host: e.HTTP_HOST ?? host,
    hostSetting: e.HTTP_HOST === undefined ? 'HOST' : 'HTTP_HOST',
    port: e.HTTP_PORT,
    requestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS,
    maxConnections: e.HTTP_MAX_CONNECTIONS,
  };
}
