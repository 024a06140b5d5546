import * as grpc from '@grpc/grpc-js';

/**
 * grpc-js drops a request metadata entry whose value gRPC cannot hold (a tab, a byte past ASCII)
 * and reports it on standard error with the value, twice: an `authorization` or `x-api-key`
 * with a stray character put the caller's API key in the logs, which nothing else of ours does.
 * grpc-js's own messages are kept as they were, on standard error; that one loses the value.
 */
const DROPPED_ENTRY = /^Failed to add metadata entry ([^:]*):/s;

function redacted(message: unknown): unknown {
  if (typeof message !== 'string') return message;
  const dropped = DROPPED_ENTRY.exec(message);
  return dropped ? `Failed to add metadata entry ${dropped[1]}: its value has characters gRPC metadata cannot hold (not shown)` : message;
}

let installed = false;

/** Installs the logger once per process: grpc-js has one for all its servers and clients. */
export function redactDroppedMetadata(): void {
  if (installed) return;
  installed = true;
  grpc.setLogger({
    error: (message: unknown, ...rest: unknown[]) => console.error(`E ${String(redacted(message))}`, ...rest),
    info: (message: unknown, ...rest: unknown[]) => console.error(`I ${String(message)}`, ...rest),
    debug: (message: unknown, ...rest: unknown[]) => console.error(`D ${String(message)}`, ...rest),
  });
}
