import { settleWithin } from '../../domain/timers.js';

export interface HedgedOutcome<R> {
  /** The first result `isWin` accepted, with its racer's index. */
  readonly winner: { readonly index: number; readonly result: R } | undefined;
  /** Every racer that settled before the winner (or all of them when none won). */
  readonly settled: ReadonlyMap<number, R>;
  /** Racers still running when the winner came in; the caller stops them. */
  readonly running: ReadonlyMap<number, Promise<R>>;
}

/**
 * Starts racers hedged (gRFC A6 hedging, "The Tail at Scale"): with a delay of 0 all at once;
 * otherwise the next only when no racer won within the delay, or at once when one failed.
 * Resolves at the first win, or when every racer has failed.
 */
export async function runHedged<R>(options: {
  readonly count: number;
  readonly hedgeDelayMs: number;
  readonly start: (index: number) => Promise<R>;
  readonly isWin: (result: R) => boolean;
}): Promise<HedgedOutcome<R>> {
  const { count, hedgeDelayMs } = options;
  const running = new Map<number, Promise<R>>();
  const tagged = new Map<number, Promise<{ index: number; result: R }>>();
  const settled = new Map<number, R>();
  let started = 0;
  const startNext = (): void => {
    if (started >= count) return;
    const index = started++;
    const promise = options.start(index);
    running.set(index, promise);
    tagged.set(
      index,
      promise.then((result) => ({ index, result })),
    );
  };
  startNext();
  while (hedgeDelayMs <= 0 && started < count) startNext();
  while (tagged.size > 0) {
    const first = Promise.race(tagged.values());
    // The marker 'hedge' means "start the next racer now": none settled within the delay.
    const next = started < count ? await settleWithin(first, hedgeDelayMs, 'hedge' as const) : await first;
    if (next === 'hedge') {
      startNext();
      continue;
    }
    tagged.delete(next.index);
    running.delete(next.index);
    if (options.isWin(next.result)) return { winner: next, settled, running };
    settled.set(next.index, next.result);
    startNext();
  }
  return { winner: undefined, settled, running };
}
