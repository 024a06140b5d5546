/**
 * The first of `err` and the errors behind it for which `test` holds, looking through SDK and
 * fetch wrappers (`cause`), at most five deep.
 */
export function findCause<T extends object>(err: unknown, test: (e: object) => e is T): T | undefined;
export function findCause(err: unknown, test: (e: object) => boolean): object | undefined;
export function findCause(err: unknown, test: (e: object) => boolean): object | undefined {
  for (let e = err, depth = 0; e !== null && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (test(e)) return e;
  }
  return undefined;
}
