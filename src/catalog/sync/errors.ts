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

/** The reason to report for anything a run threw: a SyncError's own message, anything else named. */
export function reasonOf(err: unknown): string {
  if (err instanceof SyncError) return err.message;
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}
