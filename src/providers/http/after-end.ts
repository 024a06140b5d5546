/**
 * What a stream's body still holds after the answer's end marker (`data: [DONE]`, Anthropic's
 * message_stop), read in the background: the answer is handed on at once, whether or not the
 * upstream closes the response then, and a body that ends soon after (its last chunk, the
 * chunked encoding's terminator) leaves its keep-alive connection for the next request. A body
 * that holds on past AFTER_END_GRACE_MS, or sends more than `maxBytes`, is closed instead.
 */
export function readOnAfterEnd(reader: AsyncIterator<Uint8Array>, close: () => void, options: { readonly maxBytes: number }): void {
  let bytes = 0;
  // Whatever the body is (undici's, or a fetch stream without destroy), reading it stops too.
  const stop = (): void => {
    close();
    void reader.return?.()?.catch(() => undefined);
  };
  const timer = setTimeout(stop, AFTER_END_GRACE_MS);
  timer.unref();
  void (async () => {
    try {
      for (;;) {
        const next = await reader.next();
        if (next.done) return;
        bytes += next.value.byteLength;
        if (bytes > options.maxBytes) {
          stop();
          return;
        }
      }
    } catch {
      // Closed, or cut on the way out: the answer was whole before it.
    } finally {
      clearTimeout(timer);
    }
  })();
}

/** Long enough for an upstream to finish a response it has already answered; a stalled one is not waited for. */
const AFTER_END_GRACE_MS = 2_000;
