/**
 * A child AbortController per attempt, derived from the parent signal, as cockatiel does:
 * aborting the parent aborts the child with the parent's reason; the child can also abort
 * on its own (timeout, race lost) without touching the parent. Always dispose() in finally.
 */
export interface ChildSignal {
  readonly signal: AbortSignal;
  abort(reason: unknown): void;
  /** Stops the timeout only: the child still follows the parent (a stream gone live). */
  keepWithoutTimeout(): void;
  dispose(): void;
}

export function childSignal(parent: AbortSignal, timeout?: { ms: number; reason: () => unknown }): ChildSignal {
  const controller = new AbortController();
  const onParentAbort = (): void => controller.abort(parent.reason);
  let timer: NodeJS.Timeout | undefined;
  if (parent.aborted) {
    controller.abort(parent.reason);
  } else {
    parent.addEventListener('abort', onParentAbort, { once: true });
    if (timeout && Number.isFinite(timeout.ms)) {
      timer = setTimeout(() => controller.abort(timeout.reason()), Math.max(0, timeout.ms));
    }
  }
  return {
    signal: controller.signal,
    abort: (reason) => controller.abort(reason),
    keepWithoutTimeout: () => {
      if (timer) clearTimeout(timer);
      timer = undefined;
    },
    dispose: () => {
      if (timer) clearTimeout(timer);
      parent.removeEventListener('abort', onParentAbort);
    },
  };
}
