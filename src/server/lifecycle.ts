import { setMaxListeners } from 'node:events';
import { draining } from '../domain/errors.js';
import { LinkedList } from '../domain/linked-list.js';

/** A call in flight as shutdown sees it: something it can end. */
export interface EndableCall {
  abort(reason: unknown): void;
}

/** A call's place among the calls in flight: leave() once it has ended (again does nothing). */
export interface InFlight {
  leave(): void;
}

/**
 * The calls in flight and whether the server is draining; shared by handlers and shutdown,
 * which waits for the calls to finish and ends the ones still running after the grace period.
 */
export class Lifecycle {
  private readonly calls = new LinkedList<EndableCall>();
  private idleWaiters: (() => void)[] = [];
  private readonly drainStart = new AbortController();

  constructor() {
    // Every open watch listens here: a busy server has more than Node's 10 before it warns.
    setMaxListeners(0, this.drainStart.signal);
  }

  get draining(): boolean {
    return this.drainStart.signal.aborted;
  }

  /** Aborts, with UNAVAILABLE (DRAINING), the moment the server starts draining. */
  get drainSignal(): AbortSignal {
    return this.drainStart.signal;
  }

  get active(): number {
    return this.calls.size;
  }

  startDraining(): void {
    this.drainStart.abort(draining());
  }

  /** Counts `call` in flight; throws UNAVAILABLE while draining, so clients retry elsewhere. */
  enter(call: EndableCall): InFlight {
    if (this.draining) {
      throw draining();
    }
    const link = this.calls.add(call);
    return {
      leave: () => {
        link.remove();
        if (this.calls.size === 0) this.wakeIdleWaiters();
      },
    };
  }

  /** Ends every call still in flight with `reason`. */
  endAll(reason: unknown): void {
    for (const call of this.calls) call.abort(reason);
  }

  /** Resolves true when no call is in flight, false when `timeoutMs` passes first. */
  waitForIdle(timeoutMs: number): Promise<boolean> {
    if (this.calls.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.idleWaiters = this.idleWaiters.filter((w) => w !== onIdle);
        resolve(false);
      }, timeoutMs);
      const onIdle = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      this.idleWaiters.push(onIdle);
    });
  }

  private wakeIdleWaiters(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
