import type { ServerResponse } from 'node:http';

/**
 * Waits `ms`, or less if `signal` aborts first. Resolves true when the full wait passed,
 * false on abort, and never rejects, so callers just stop instead of catching.
 */
export function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Backpressure: resolves true on 'drain', false if the client went away first. */
export function drained(res: ServerResponse, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onDrain = (): void => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    };
    const onAbort = (): void => {
      res.off('drain', onDrain);
      resolve(false);
    };
    res.once('drain', onDrain);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
