import { BrokenCircuitError, CircuitState, type CircuitBreakerPolicy } from 'cockatiel';

/**
 * What one call hands the breaker: its value as soon as there is one and, for a stream, the
 * outcome that settles when the stream ends (the breaker's success or failure is decided then).
 */
export interface Guarded<T> {
  readonly value: T;
  readonly outcome?: Promise<void>;
  /** Told when the breaker has recorded the outcome. */
  readonly judged?: () => void;
}

/**
 * Runs `start` under the breaker and hands back its value as soon as there is one, while the
 * breaker keeps waiting for the outcome (a stream: until it ends). A half-open breaker whose
 * probe is still running admits nobody else: the caller skips the model instead of waiting
 * for the probe (cockatiel would queue it behind the probe, a whole stream long).
 */
export function throughBreaker<T>(breaker: CircuitBreakerPolicy, start: () => Promise<Guarded<T>>): Promise<T> {
  if (breaker.state === CircuitState.HalfOpen) return Promise.reject(new BrokenCircuitError());
  return new Promise<T>((resolve, reject) => {
    let judged: (() => void) | undefined;
    breaker
      .execute(async () => {
        const guarded = await start();
        judged = guarded.judged;
        resolve(guarded.value);
        await guarded.outcome;
      })
      // After `resolve` this changes nothing: the stream's own failure reaches its consumer.
      .catch(reject)
      .finally(() => judged?.());
  });
}

/** As throughBreaker, for a call whose value is its outcome (unary): the breaker judges it as it settles. */
export function unaryThroughBreaker<T>(breaker: CircuitBreakerPolicy, start: () => Promise<Guarded<T>>): Promise<T> {
  if (breaker.state === CircuitState.HalfOpen) return Promise.reject(new BrokenCircuitError());
  return breaker.execute(start).then(guardedValue);
}

function guardedValue<T>(guarded: Guarded<T>): T {
  return guarded.value;
}
