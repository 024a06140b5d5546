import {
  CircuitState,
  ConsecutiveBreaker,
  SamplingBreaker,
  circuitBreaker,
  handleWhen,
  type CircuitBreakerPolicy,
  type IBreaker,
} from 'cockatiel';
import { countsAgainstBreaker } from './failures.js';

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface BreakerOptions {
  readonly consecutiveFailures: number;
  /** 0..1; 1 never opens on rate alone. */
  readonly failureRate: number;
  readonly samplingWindowMs: number;
  readonly minRps: number;
  readonly halfOpenAfterMs: number;
}

/** Opens when either rule says so: N consecutive failures, or a failure rate over a window. */
class ConsecutiveOrRateBreaker implements IBreaker {
  private readonly consecutive: ConsecutiveBreaker;
  private readonly sampling: SamplingBreaker | undefined;

  constructor(options: BreakerOptions) {
    this.consecutive = new ConsecutiveBreaker(options.consecutiveFailures);
    // cockatiel's SamplingBreaker takes a rate strictly between 0 and 1; outside it the rule is off.
    this.sampling =
      options.failureRate > 0 && options.failureRate < 1
        ? new SamplingBreaker({ threshold: options.failureRate, duration: options.samplingWindowMs, minimumRps: options.minRps })
        : undefined;
  }

  get state(): unknown {
    return [this.consecutive.state, this.sampling?.state];
  }

  set state(value: unknown) {
    if (!Array.isArray(value)) return;
    this.consecutive.state = value[0];
    if (this.sampling) this.sampling.state = value[1];
  }

  success(state: CircuitState): void {
    this.consecutive.success();
    this.sampling?.success(state);
  }

  failure(state: CircuitState): boolean {
    // Both must see every failure, so no short-circuit.
    const byCount = this.consecutive.failure();
    const byRate = this.sampling?.failure(state) ?? false;
    return byCount || byRate;
  }
}

/** One cockatiel circuit breaker per model endpoint (provider + model). */
export class BreakerRegistry {
  private readonly breakers = new Map<string, CircuitBreakerPolicy>();
  /** When each breaker last opened: cockatiel only moves to half-open on the next call. */
  private readonly openedAt = new Map<string, number>();

  constructor(private readonly options: BreakerOptions) {}

  for(endpoint: string): CircuitBreakerPolicy {
    let policy = this.breakers.get(endpoint);
    if (!policy) {
      policy = circuitBreaker(handleWhen(countsAgainstBreaker), {
        halfOpenAfter: this.options.halfOpenAfterMs,
        breaker: new ConsecutiveOrRateBreaker(this.options),
      });
      policy.onBreak(() => this.openedAt.set(endpoint, Date.now()));
      this.breakers.set(endpoint, policy);
    }
    return policy;
  }

  /** The endpoint is no longer served (its model deleted, or moved to another provider). */
  forget(endpoint: string): void {
    this.breakers.delete(endpoint);
    this.openedAt.delete(endpoint);
  }

  /** Milliseconds until an open breaker lets a probe through; 0 when it is not open. */
  coolDownLeftMs(endpoint: string): number {
    if (this.breakers.get(endpoint)?.state !== CircuitState.Open) return 0;
    return Math.max(0, (this.openedAt.get(endpoint) ?? 0) + this.options.halfOpenAfterMs - Date.now());
  }

  /** As a caller sees it: an open breaker whose cool-down is over admits the next call. */
  state(endpoint: string): BreakerState {
    const policy = this.breakers.get(endpoint);
    switch (policy?.state) {
      case CircuitState.Open:
        return this.coolDownLeftMs(endpoint) > 0 ? 'open' : 'half_open';
      case CircuitState.Isolated:
        return 'open';
      case CircuitState.HalfOpen:
        return 'half_open';
      default:
        return 'closed';
    }
  }
}
