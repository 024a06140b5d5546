/** The longest delay Node's timers hold (about 24.8 days); a longer one fires after 1 ms, with a TimeoutOverflowWarning. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A delay Node's timers can keep. Deadlines come from callers (`x-request-timeout-ms`, a gRPC
 * deadline of years), and a share of one past the limit would otherwise fire at once: a far
 * deadline waits as long as a timer can instead.
 */
export function timerDelay(ms: number): number {
  return Math.min(Math.max(0, ms), MAX_TIMER_MS);
}

/**
 * What `work` settles to, or `late` (default undefined) once `ms` have passed first: a shutdown
 * step's grace, a hedge's delay. The timer is cleared however the race ends, a rejection
 * included, so a settled race never holds the process open for the rest of the delay.
 */
export async function settleWithin<T, L = undefined>(work: T | PromiseLike<T>, ms: number, late?: L): Promise<T | L> {
  let timer: NodeJS.Timeout | undefined;
  const timeUp = new Promise<L>((resolve) => {
    timer = setTimeout(resolve, timerDelay(ms), late as L);
  });
  try {
    return await Promise.race([work, timeUp]);
  } finally {
    clearTimeout(timer);
  }
}
