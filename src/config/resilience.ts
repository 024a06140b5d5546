/** Retries, breakers, timeouts and the cap on upstream requests in flight, as the engine takes them. */
export interface ResilienceConfig {
  readonly retry: {
    readonly maxAttempts: number;
    readonly initialBackoffMs: number;
    readonly maxBackoffMs: number;
    readonly budgetMaxTokens: number;
    readonly budgetTokenRatio: number;
  };
  readonly breaker: {
    readonly consecutiveFailures: number;
    readonly failureRate: number;
    readonly samplingWindowMs: number;
    readonly minRps: number;
    readonly halfOpenAfterMs: number;
  };
  /** 0: none. */
  readonly attemptTimeoutMs: number;
  /** 0: none. */
  readonly firstTokenTimeoutMs: number;
  /** 0: none. */
  readonly interTokenTimeoutMs: number;
  /** Per provider, unless the config file sets its own (UPSTREAM_MAX_IN_FLIGHT, UPSTREAM_QUEUE_MAX). */
  readonly inFlight: { readonly maxInFlight: number; readonly queueMax: number };
}
