/**
 * A child AbortController, derived from a parent signal, as cockatiel does: aborting the parent
 * aborts the child with the parent's reason; the child can also abort on its own (timeout,
 * race lost) without touching the parent. Always dispose() in finally. Only a policy that
 * aborts on its own needs one (a timeout, a race, a stream's stall watchdog); anything else
 * runs on the call's signal.
 */
export class ChildSignal {
  private readonly controller = new AbortController();
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
        this.timer = setTimeout(() => this.controller.abort(timeout.reason()), Math.max(0, timeout.ms));
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
