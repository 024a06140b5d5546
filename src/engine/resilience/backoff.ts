import { ExponentialBackoff, fullJitterGenerator, type IBackoff } from 'cockatiel';
import { OrchestratorError } from '../../domain/errors.js';

/**
 * Exponential backoff with full jitter (cockatiel's generator), except that an upstream
 * Retry-After wins when the failure carried one. One per call that retries: the retry decision
 * draws the next wait with `plan` (so a wait that does not fit in the deadline refuses the
 * retry instead of being slept), and the call then sleeps exactly that wait.
 */
export class UpstreamAwareBackoff {
  private jittered: IBackoff<unknown>;
  private drawn = false;

  constructor(options: { initialDelayMs: number; maxDelayMs: number }) {
    this.jittered = new ExponentialBackoff({
      generator: fullJitterGenerator,
      initialDelay: options.initialDelayMs,
      maxDelay: options.maxDelayMs,
    }).next();
  }

  /** Draws the wait before retrying `failure`: its Retry-After, else the next jittered step. */
  plan(failure: unknown): number {
    if (this.drawn) this.jittered = this.jittered.next(undefined);
    this.drawn = true;
    const retryAfter = failure instanceof OrchestratorError ? failure.retryAfterMs : undefined;
    return retryAfter ?? this.jittered.duration;
  }
}
