export type StallPhase = 'first_token' | 'inter_token';

/**
 * The stall watchdog of one streamed attempt. It counts only while the attempt waits on the
 * upstream, never while the consumer holds an event (that is our backpressure, not the model
 * stalling): `hold` when an event arrives, `wait` when the next one is asked for, which starts
 * a full window again. One timer per attempt, refreshed for each event rather than made anew: a
 * timer per delta was an object and a timer-list insertion for every token.
 */
export class StallWatchdog {
  #timer: NodeJS.Timeout | undefined;
  #ms = 0;
  #phase: StallPhase = 'first_token';
  #waiting = false;

  constructor(private readonly onStall: (phase: StallPhase, ms: number) => void) {}

  /** Waits on the upstream for at most `ms` (0 or undefined: no limit). */
  wait(ms: number | undefined, phase: StallPhase): void {
    if (!ms) {
      this.stop();
      return;
    }
    this.#waiting = true;
    if (this.#timer !== undefined && ms === this.#ms && phase === this.#phase) {
      // Also re-arms a timer that fired while an event was held.
      this.#timer.refresh();
      return;
    }
    clearTimeout(this.#timer);
    this.#ms = ms;
    this.#phase = phase;
    this.#timer = setTimeout(() => {
      if (this.#waiting) this.onStall(this.#phase, this.#ms);
    }, ms);
  }

  /** The upstream is generating what is not relayed (a model's thinking): the window starts again. */
  progress(): void {
    if (this.#waiting) this.#timer?.refresh();
  }

  /** An event arrived: the consumer holds it until the next `wait`. */
  hold(): void {
    this.#waiting = false;
  }

  stop(): void {
    this.#waiting = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
