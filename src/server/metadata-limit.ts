import type * as grpc from '@grpc/grpc-js';
import type { Settings } from 'node:http2';
import { boundHttp2Servers } from './http2-servers.js';

interface SettingsServer {
  updateSettings(settings: Settings): void;
}

function hasSettings(value: unknown): value is SettingsServer {
  return typeof value === 'object' && value !== null && typeof (value as { updateSettings?: unknown }).updateSettings === 'function';
}

/**
 * Bounds each call's request metadata (its HTTP/2 header list, counted as HPACK counts it: name,
 * value and 32 bytes per entry) to `maxBytes`. grpc-js 1.14 has no server option for it
 * (`grpc.max_metadata_size` is C-core's), and without one Node took any header list HPACK could
 * decode, which made a call with megabytes of metadata tie up the connection before it failed.
 * Advertised as SETTINGS_MAX_HEADER_LIST_SIZE, so clients that honour it (grpc-go, buf curl) fail
 * before sending; Node resets a stream over it (ENHANCE_YOUR_CALM) before grpc-js sees the call,
 * which every gRPC client reports as RESOURCE_EXHAUSTED, and the connection's other calls go on.
 */
export function limitMetadata(server: grpc.Server, maxBytes: number): void {
  if (maxBytes <= 0) return;
  for (const bound of boundHttp2Servers(server, 'GRPC_MAX_METADATA_BYTES', 'GRPC_MAX_METADATA_BYTES=0')) {
    if (!hasSettings(bound)) {
      throw new Error(
        'GRPC_MAX_METADATA_BYTES cannot be applied: a bound grpc-js port is not a Node HTTP/2 server. ' +
          'Set GRPC_MAX_METADATA_BYTES=0 to start without the limit.',
      );
    }
    bound.updateSettings({ maxHeaderListSize: maxBytes });
  }
}

/**
 * The size of a call's metadata as the limit counts it, for the calls the HTTP/2 setting misses:
 * a client may send its first calls before it has acknowledged the server's settings (Go's
 * HTTP/2 client does), and until then Node holds them to none. Binary values count as sent, in base64.
 */
export function metadataBytes(metadata: grpc.Metadata): number {
  let bytes = 0;
  // toJSON() hands back grpc-js's own value arrays in one object; for...in walks it without the
  // pair arrays Object.entries would allocate on every call's path.
  const entries = metadata.toJSON();
  for (const key in entries) {
    for (const value of entries[key] ?? []) {
      bytes += key.length + (typeof value === 'string' ? value.length : Math.ceil(value.length / 3) * 4) + 32;
    }
  }
  return bytes;
}
