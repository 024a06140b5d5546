import { ExponentialBackoff, fullJitterGenerator, type IBackoff, type IBackoffFactory, type IRetryBackoffContext } from 'cockatiel';
import { OrchestratorError } from '../../domain/errors.js';

type Context = IRetryBackoffContext<unknown>;

/**
 * Exponential backoff with full jitter (cockatiel's generator), except that an upstream
 * Retry-After wins when the failure carried one, and no wait runs past the call's deadline.
 * One per call: the retry decision draws the next wait with `plan` (so a wait that does not
 * fit in the deadline refuses the retry instead of being slept), and cockatiel's retry policy
 * then sleeps exactly that wait.
 */
export class UpstreamAwareBackoff implements IBackoffFactory<Context> {
  private jittered: IBackoff<unknown>;
  private planned: number | undefined;
  private drawn = false;

  constructor(
    options: { initialDelayMs: number; maxDelayMs: number },
    private readonly deadline: number,
  ) {
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
    this.planned = retryAfter ?? this.jittered.duration;
    return this.planned;
  }

  next(context: Context): IBackoff<Context> {
    const wanted = this.planned ?? this.plan('error' in context.result ? context.result.error : undefined);
    this.planned = undefined;
    return {
      duration: Math.max(0, Math.min(wanted, this.deadline - Date.now())),
      next: (nextContext: Context) => this.next(nextContext),
    };
  }
}
