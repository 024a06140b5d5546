import { settleWithin } from '../../domain/timers.js';

/**
 * How long an error answer's body is read once its status has arrived. The status decides the
 * failure and Retry-After comes with the headers; the body only adds detail. An upstream that
 * sends its headers and then stalls would otherwise hold the attempt until its timeout or the
 * call's deadline, with no time left for a retry or the next model of a fallback.
 */
export const ERROR_BODY_WAIT_MS = 1_000;

const LATE = Symbol('late');

/**
 * What `read` (of an error answer's body) settles to, or undefined once ERROR_BODY_WAIT_MS
 * passed first: `cut` then closes the body (and with it the connection, which an unfinished
 * HTTP/1.1 answer cannot be reused on), and the read's own failure is dropped.
 */
export async function withinErrorBodyWait<T>(read: Promise<T>, cut: () => void): Promise<T | undefined> {
  const result = await settleWithin(read, ERROR_BODY_WAIT_MS, LATE);
  if (result !== LATE) return result;
  read.catch(() => undefined);
  cut();
  return undefined;
}
