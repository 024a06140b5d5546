/**
 * The calls in flight, so that shutdown can end the ones still running after the grace period.
 *
 * A linked list, not a Set: a Set that every call joins and leaves replaces its hash table again
 * and again as it grows and compacts, and V8 leaves each replaced table still referring to the
 * entries it held. Once such a table is in the old generation, every scavenge keeps those calls,
 * and all they refer to, alive until a mark-compact finds the table dead, and promotes them on
 * the way: about 3 KB per unary HTTP request, with the old-generation pages and collections that
 * costs (docs/PERFORMANCE.md, "What the collector promotes"). A removed link points nowhere.
 */
export class OpenCalls<T> implements Iterable<T> {
  readonly #head = new Link<T>(undefined);

  constructor() {
    this.#head.prev = this.#head;
    this.#head.next = this.#head;
  }

  /** Registers a call until the returned handle's remove(). */
  add(value: T): OpenCall {
    const link = new Link(value);
    const last = this.#head.prev!;
    link.prev = last;
    link.next = this.#head;
    last.next = link;
    this.#head.prev = link;
    return link;
  }

  /** The calls open now, oldest first, as a snapshot: ending them may remove them meanwhile. */
  [Symbol.iterator](): Iterator<T> {
    const values: T[] = [];
    for (let link = this.#head.next!; link !== this.#head; link = link.next!) values.push(link.value as T);
    return values[Symbol.iterator]();
  }
}

/** A registered call: remove() once it has ended (a second remove() does nothing). */
export interface OpenCall {
  remove(): void;
}

class Link<T> implements OpenCall {
  prev: Link<T> | undefined;
  next: Link<T> | undefined;

  constructor(public value: T | undefined) {}

  remove(): void {
    if (this.prev === undefined || this.next === undefined) return;
    this.prev.next = this.next;
    this.next.prev = this.prev;
    this.prev = undefined;
    this.next = undefined;
    this.value = undefined;
  }
}
