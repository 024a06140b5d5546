import { setTimeout as sleep } from 'node:timers/promises';
import { handleType, retry, type RetryPolicy } from 'cockatiel';
import { abortReason } from '../attempt-errors.js';
import type { RetryOptions } from '../attempt-results.js';
import type { EventSink } from '../events.js';
import { UpstreamAwareBackoff } from './backoff.js';
import type { BreakerRegistry } from './breakers.js';
import { isRetryable } from './failures.js';
import type { RetryBudget } from './retry-budget.js';

/**
 * A failure the call decided to retry. Whether to retry depends on the call (its deadline, its
 * model's retry budget, the wait the failure asks for), so the decision is made by the call's
 * CallRetries where the failure is caught, and the shared policy only retries what is marked.
 */
export class RetryLater extends Error {
  constructor(readonly failure: unknown) {
    super('retry');
  }
}

/** The failure behind a RetryLater the policy gave up on (its attempts ran out), or `err` itself. */
export function unwrapRetry(err: unknown): unknown {
  return err instanceof RetryLater ? err.failure : err;
}

/**
 * One cockatiel retry policy for every call of a runner: it holds no per-call state (no backoff,
 * no listener), so a call costs it nothing to build. It retries failures marked RetryLater, up
 * to `maxAttempts` tries in all; the wait before each retry is the call's own,
 * slept inside the next try (CallRetries.wait) so the call's signal cuts it short.
 */
export function sharedRetryPolicy(maxAttempts: number): RetryPolicy {
  return retry(handleType(RetryLater), { maxAttempts: maxAttempts - 1 }).dangerouslyUnref();
}

/**
 * One call's retry state: the decision for each failure and the wait before the next try.
 * The jittered backoff is drawn only once a failure asks for a retry, so a call that succeeds
 * first time allocates nothing for it.
 */
export class CallRetries {
  private backoff: UpstreamAwareBackoff | undefined;
  private planned = 0;
  /** The wait slept before the latest try (0 before the first). */
  waitedMs = 0;

  constructor(
    readonly signal: AbortSignal,
    private readonly deadline: number,
    private readonly budget: RetryBudget,
    private readonly settings: RetryOptions,
    private readonly events: EventSink,
    private readonly breakers: BreakerRegistry,
    /** The model endpoint whose breaker a retry goes through. */
    private readonly endpoint: string,
  ) {}

  /**
   * Whether `err` is worth another try: retryable, the call still wanted, the wait it needs
   * (Retry-After or the jittered backoff) within the deadline, the retry budget not low, and
   * the model's breaker not still open when the wait ends. A wait that does not fit fails now
   * with the upstream error (and its RetryInfo) instead of sleeping into DEADLINE_EXCEEDED, or
   * into a skip: a retry the open breaker (opened by this failure or another call's) would
   * refuse is not waited for, so Fallback and Race move on at once. `attempt`: the try that
   * failed, 0 for the first.
   */
  retries(err: unknown, attempt: number): boolean {
    if (!isRetryable(err) || this.signal.aborted) return false;
    // Out of tries: no retry was coming, so the budget below refuses none (nor counts one throttled).
    if (attempt + 1 >= this.settings.maxAttempts) return false;
    const remaining = this.deadline - Date.now();
    if (remaining <= 0) return false;
    this.backoff ??= new UpstreamAwareBackoff({ initialDelayMs: this.settings.initialBackoffMs, maxDelayMs: this.settings.maxBackoffMs });
    this.planned = this.backoff.plan(err);
    if (this.planned >= remaining) return false;
    if (!this.budget.canRetry()) {
      this.events.emit({ type: 'retry_throttled' });
      return false;
    }
    return this.planned >= this.breakers.coolDownLeftMs(this.endpoint);
  }

  /**
   * Before a retry: the planned wait (never past the deadline), which the call's abort ends at
   * once; and never a call upstream once the call was aborted.
   */
  async wait(): Promise<void> {
    this.waitedMs = Math.max(0, Math.min(this.planned, this.deadline - Date.now()));
    if (this.waitedMs > 0 && !this.signal.aborted) {
      try {
        await sleep(this.waitedMs, undefined, { signal: this.signal, ref: false });
      } catch {
        // Aborted: reported below with the call's reason.
      }
    }
    if (this.signal.aborted) throw abortReason(this.signal);
  }
}
