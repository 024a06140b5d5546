import { ExponentialBackoff, fullJitterGenerator, type IBackoff, type IBackoffFactory, type IRetryBackoffContext } from 'cockatiel';
import { OrchestratorError } from '../../domain/errors.js';

type Context = IRetryBackoffContext<unknown>;

/**
 * Exponential backoff with full jitter (cockatiel's generator), except that an upstream
 * Retry-After wins when the failure carried one, and no wait runs past the call's deadline.
 * (Whether a Retry-After fits at all is decided before retrying; see AttemptRunner.)
 */
export class UpstreamAwareBackoff implements IBackoffFactory<Context> {
  private readonly exponential: ExponentialBackoff<number>;

  constructor(
    options: { initialDelayMs: number; maxDelayMs: number },
    private readonly deadline: number,
  ) {
    this.exponential = new ExponentialBackoff({
      generator: fullJitterGenerator,
      initialDelay: options.initialDelayMs,
      maxDelay: options.maxDelayMs,
    });
  }

  next(context: Context): IBackoff<Context> {
    return this.step(this.exponential.next(), context);
  }

  private step(jittered: IBackoff<unknown>, context: Context): IBackoff<Context> {
    const failure = 'error' in context.result ? context.result.error : undefined;
    const retryAfter = failure instanceof OrchestratorError ? failure.retryAfterMs : undefined;
    const wanted = retryAfter ?? jittered.duration;
    const duration = Math.max(0, Math.min(wanted, this.deadline - Date.now()));
    return {
      duration,
      next: (nextContext: Context) => this.step(jittered.next(nextContext), nextContext),
    };
  }
}
