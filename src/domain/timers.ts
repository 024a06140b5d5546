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
