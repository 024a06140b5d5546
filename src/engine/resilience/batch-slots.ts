import { LinkedList } from '../../domain/linked-list.js';

/**
 * The process-wide cap on batch items running at once, shared by every batch. Hand-written
 * rather than cockatiel's bulkhead: there a queued task whose caller gave up stays queued, and
 * when a slot frees it is handed that task, which refuses to run, and the slot's turn is lost:
 * live items queued behind it wait for a slot that no running item will free. Here a waiter
 * leaves the queue the moment its call is cancelled; a freed slot goes to the oldest live one.
 */
export class BatchSlots {
  private active = 0;
  private readonly waiters = new LinkedList<() => void>();

  constructor(private readonly capacity: number) {}

  /** Runs `task` in a slot, waiting first for one if all are taken; rejects with the signal's reason once it aborts. */
  async run<T>(task: () => Promise<T>, signal: AbortSignal): Promise<T> {
    await this.acquire(signal);
    try {
      return await task();
    } finally {
      this.release();
    }
  }

  private acquire(signal: AbortSignal): Promise<void> | undefined {
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.active < this.capacity && this.waiters.size === 0) {
      this.active++;
      return undefined;
    }
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        queued.remove();
        reject(signal.reason);
      };
      // The slot passes straight to this waiter: `active` stays the same.
      const queued = this.waiters.add(() => {
        queued.remove();
        signal.removeEventListener('abort', onAbort);
        resolve();
      });
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private release(): void {
    const next = this.waiters.first();
    if (next === undefined) this.active--;
    else next();
  }
}
