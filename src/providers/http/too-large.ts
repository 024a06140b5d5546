import { findCause } from './causes.js';

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
  return findCause(err, (e): e is UpstreamTooLargeError => e instanceof UpstreamTooLargeError);
}
