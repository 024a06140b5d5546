import { deadlineExceeded, type OrchestratorError } from './errors.js';

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

/** What ends a call whose deadline passed, on either door. */
export function callDeadlinePassed(): OrchestratorError {
  return deadlineExceeded('the call deadline passed before the answer was ready');
}

const NOTHING_ARMED = (): void => {};

/**
 * Ends a call at its deadline (epoch ms) through `abort`. A deadline already passed (a timeout
 * of 0, or spent in transit) aborts at once, before the handler starts: a timer would fire only
 * after it had sent the request upstream and been charged for it. No deadline (Infinity): no
 * timer; one past what a timer holds waits as long as one can (timerDelay). Returns what clears it.
 */
export function armDeadline(deadline: number, abort: (reason: OrchestratorError) => void): () => void {
  const left = deadline - Date.now();
  if (left <= 0) {
    abort(callDeadlinePassed());
    return NOTHING_ARMED;
  }
  if (!Number.isFinite(left)) return NOTHING_ARMED;
  const timer = setTimeout(() => abort(callDeadlinePassed()), timerDelay(left));
  return () => clearTimeout(timer);
}
