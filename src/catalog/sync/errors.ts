/**
 * Why one run of an outside catalog source failed. The message is the reason a SyncCatalog report
 * and the log show; `retryAfterMs` carries a source's own Retry-After so the scheduler waits that long.
 */
export type SyncErrorKind = 'timeout' | 'http' | 'rate_limited' | 'too_large' | 'malformed' | 'unreachable' | 'not_configured';

export class SyncError extends Error {
  constructor(
    readonly kind: SyncErrorKind,
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'SyncError';
  }
}

/**
 * The reason to report for anything a run threw: a SyncError's own message, anything else named.
 * A parser's message may quote the body (a binary answer's NUL bytes), which PostgreSQL refuses to
 * store: control characters are written as escapes.
 */
export function reasonOf(err: unknown): string {
  const reason = err instanceof SyncError ? err.message : err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return reason.replace(/\p{Cc}/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
