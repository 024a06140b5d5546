import { LinkedList, type Removable } from '../../domain/linked-list.js';

/**
 * A number of slots and a first-come queue for them: the rule a provider's cap on upstream
 * requests (InFlightGate) and the process-wide cap on batch items (BatchSlots) share.
 * Hand-written rather than cockatiel's bulkhead: there a queued task whose caller gave up keeps
 * its place, and a slot that frees is handed that task, which refuses to run, so the slot's turn
 * is lost (live tasks queued behind it wait for a slot no running task will free) or a live
 * caller is refused as "queue full". Here a waiter leaves the queue the moment its caller gives
 * up (its handle's remove()), and a freed slot passes straight to the oldest waiter still queued.
 */
export class Slots {
  #active = 0;
  readonly #waiters = new LinkedList<() => void>();

  /** `capacity` 0: no cap. */
  constructor(private readonly capacity: number) {}

  /** Slots taken. */
  get active(): number {
    return this.#active;
  }

  /** Waiters queued. */
  get queued(): number {
    return this.#waiters.size;
  }

  /** Takes a slot when one is free and nobody is queued for one (first come, first served). */
  tryTake(): boolean {
    if (this.capacity !== 0 && (this.#active >= this.capacity || this.#waiters.size > 0)) return false;
    this.#active++;
    return true;
  }

  /**
   * Queues `granted`, called once a freed slot passes to it (the slot is then the waiter's to
   * release); the handle's remove() leaves the queue, and `granted` runs after its own removal.
   */
  wait(granted: () => void): Removable {
    const place = this.#waiters.add(() => {
      place.remove();
      granted();
    });
    return place;
  }

  /** Gives a slot back: to the oldest waiter, or free. */
  release(): void {
    const next = this.#waiters.first();
    // The slot passes straight to the waiter: `active` stays the same.
    if (next === undefined) this.#active--;
    else next();
  }
}
