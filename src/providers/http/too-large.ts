/**
 * An upstream answer over one of our size limits: a whole response body read at once
 * (UPSTREAM_MAX_BODY_BYTES) or one server-sent event (UPSTREAM_MAX_EVENT_BYTES). Whoever throws
 * it has already stopped reading; the body is destroyed, which closes the connection.
 */
export class UpstreamTooLargeError extends Error {
  constructor(
    readonly part: 'body' | 'event',
    readonly limitBytes: number,
  ) {
    super(`the upstream ${part === 'body' ? 'response body' : 'stream event'} is over the limit of ${limitBytes} bytes`);
    this.name = 'UpstreamTooLargeError';
  }
}

/** The UpstreamTooLargeError behind `err`, looking through SDK and fetch wrappers (`cause`). */
export function tooLargeIn(err: unknown): UpstreamTooLargeError | undefined {
  for (let e = err, depth = 0; e !== null && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof UpstreamTooLargeError) return e;
  }
  return undefined;
}
