/**
 * Reads until `check` holds or `timeoutMs` passes, and returns the last value read (the test then
 * asserts on it): for what the server records a moment after the client sees the call end.
 */
export async function eventually<T>(read: () => Promise<T>, check: (value: T) => boolean, timeoutMs = 3_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (check(value) || Date.now() > until) return value;
    await new Promise((r) => setTimeout(r, 20));
  }
}
