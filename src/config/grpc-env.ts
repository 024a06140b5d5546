import { z } from 'zod';
import { milliseconds, number } from './env-values.js';

// The gRPC port's connections and calls (src/server): grpc-js options, and the limits it has no option for.
export const GRPC_ENV = {
  /** gRFC A8/A9 connection management; 0 leaves grpc-js's default. */
  GRPC_KEEPALIVE_TIME_MS: milliseconds(0, 0),
  GRPC_KEEPALIVE_TIMEOUT_MS: milliseconds(0, 0),
  GRPC_MAX_CONNECTION_AGE_MS: milliseconds(0, 0),
  GRPC_MAX_CONNECTION_AGE_GRACE_MS: milliseconds(0, 0),
  GRPC_MAX_SEND_MESSAGE_BYTES: number(z.number().int().min(0), 0),
  /** Connection limits (docs/operations.md): a connection with no call open this long is closed (GOAWAY); 0 keeps idle connections. */
  GRPC_MAX_CONNECTION_IDLE_MS: milliseconds(0, 300_000),
  /** Calls one connection may have open at once (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS); clients queue past it. 0: no limit. */
  // HTTP/2 settings are 32-bit: node:http2 throws on a larger one at each new connection.
  GRPC_MAX_CONCURRENT_STREAMS: number(z.number().int().min(0).max(4_294_967_295), 1_000),
  /** A call whose request message has not arrived this long after its headers ends with DEADLINE_EXCEEDED. 0: no limit. */
  GRPC_REQUEST_MESSAGE_TIMEOUT_MS: milliseconds(0, 10_000),
  /** Connections each bound address accepts at once; past it a new connection is closed at once. 0: no limit. */
  GRPC_MAX_CONNECTIONS: number(z.number().int().min(0), 10_000),
  /**
   * A call's request metadata, its HTTP/2 header list, in bytes: 16 KiB, as the HTTP port's headers
   * (Node's default) and gRPC C-core's hard limit. 0: no limit but HPACK's own (64 KiB a value).
   */
  GRPC_MAX_METADATA_BYTES: number(
    z
      .number()
      .int()
      .max(4_294_967_295)
      .refine((v) => v === 0 || v >= 1_024, 'at least 1024 (or 0: no limit)'),
    16_384,
  ),
};

export interface GrpcConfig {
  /** grpc-js channel options, only those set. */
  readonly grpcServerOptions: Readonly<Record<string, number>>;
  /** GRPC_REQUEST_MESSAGE_TIMEOUT_MS. */
  readonly requestMessageTimeoutMs: number;
  /** GRPC_MAX_CONNECTIONS; 0: no limit. */
  readonly maxConnections: number;
  /** GRPC_MAX_METADATA_BYTES; 0: no limit. */
  readonly maxMetadataBytes: number;
}

type GrpcEnv = { readonly [K in keyof typeof GRPC_ENV]: number };

export function grpcConfig(e: GrpcEnv): GrpcConfig {
  return {
    requestMessageTimeoutMs: e.GRPC_REQUEST_MESSAGE_TIMEOUT_MS,
    maxConnections: e.GRPC_MAX_CONNECTIONS,
    maxMetadataBytes: e.GRPC_MAX_METADATA_BYTES,
    grpcServerOptions: Object.fromEntries(
      (
        [
          ['grpc.keepalive_time_ms', e.GRPC_KEEPALIVE_TIME_MS],
          ['grpc.keepalive_timeout_ms', e.GRPC_KEEPALIVE_TIMEOUT_MS],
          ['grpc.max_connection_age_ms', e.GRPC_MAX_CONNECTION_AGE_MS],
          ['grpc.max_connection_age_grace_ms', e.GRPC_MAX_CONNECTION_AGE_GRACE_MS],
          ['grpc.max_send_message_length', e.GRPC_MAX_SEND_MESSAGE_BYTES],
          ['grpc.max_connection_idle_ms', e.GRPC_MAX_CONNECTION_IDLE_MS],
          ['grpc.max_concurrent_streams', e.GRPC_MAX_CONCURRENT_STREAMS],
        ] as const
      ).filter(([, value]) => value > 0),
    ),
  };
}
