import { Aborter } from '../domain/abort.js';
import { timerDelay } from '../domain/timers.js';

/**
 * A child signal, derived from a parent signal, as cockatiel does: aborting the parent
 * aborts the child with the parent's reason; the child can also abort on its own (timeout,
 * race lost) without touching the parent. Always dispose() in finally. Only a policy that
 * aborts on its own needs one (a timeout, a race, a stream's stall watchdog); anything else
 * runs on the call's signal.
 */
export class ChildSignal {
  private readonly controller = new Aborter();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly parent: AbortSignal,
    timeout?: { ms: number; reason: () => unknown },
  ) {
    if (parent.aborted) {
      this.controller.abort(parent.reason);
    } else {
      // The object itself is the listener (handleEvent): no closure per child.
      parent.addEventListener('abort', this, { once: true });
      if (timeout && Number.isFinite(timeout.ms)) {
        this.timer = setTimeout(() => this.controller.abort(timeout.reason()), timerDelay(timeout.ms));
      }
    }
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The parent aborted. */
  handleEvent(): void {
    this.controller.abort(this.parent.reason);
  }

  abort(reason: unknown): void {
    this.controller.abort(reason);
  }

  /** Stops the timeout only: the child still follows the parent (a stream gone live). */
  keepWithoutTimeout(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.parent.removeEventListener('abort', this);
  }
}

export function childSignal(parent: AbortSignal, timeout?: { ms: number; reason: () => unknown }): ChildSignal {
  return new ChildSignal(parent, timeout);
}

/** What a strategy holds for one model's attempt: a ChildSignal, or its parent's signal itself. */
export interface SignalLink {
  readonly signal: AbortSignal;
  /** Stops the timeout only: the link still follows the parent. */
  keepWithoutTimeout(): void;
  dispose(): void;
}

const noop = (): void => undefined;

/**
 * A link that aborts with its parent and, when its timeout is finite, on its own once the
 * timeout passes. With no finite timeout nothing but the parent can end it, so it is the parent's
 * signal itself: a ChildSignal there would cost a signal and a listener on the parent for a
 * signal no caller could tell apart from the parent's.
 */
export function timedLink(parent: AbortSignal, timeout: { ms: number; reason: () => unknown }): SignalLink {
  if (Number.isFinite(timeout.ms)) return new ChildSignal(parent, timeout);
  return { signal: parent, keepWithoutTimeout: noop, dispose: noop };
}
