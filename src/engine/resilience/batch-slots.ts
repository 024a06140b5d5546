import { Slots } from './slots.js';

/**
 * The process-wide cap on batch items running at once, shared by every batch: an item whose call
 * is cancelled while it waits leaves the queue at once, and a freed slot goes to the oldest live
 * item (Slots).
 */
export class BatchSlots {
  readonly #slots: Slots;

  constructor(capacity: number) {
    this.#slots = new Slots(capacity);
  }

  /** Runs `task` in a slot, waiting first for one if all are taken; rejects with the signal's reason once it aborts. */
  async run<T>(task: () => Promise<T>, signal: AbortSignal): Promise<T> {
    await this.acquire(signal);
    try {
      return await task();
    } finally {
      this.#slots.release();
    }
  }

  private acquire(signal: AbortSignal): Promise<void> | undefined {
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.#slots.tryTake()) return undefined;
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        queued.remove();
        reject(signal.reason);
      };
      const queued = this.#slots.wait(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      });
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}
