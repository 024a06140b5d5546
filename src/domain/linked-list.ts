/**
 * Values in insertion order, each removed in constant time through the handle add() returned:
 * for collections that every call joins and leaves (the calls in flight, the calls waiting for
 * a provider's slot).
 *
 * Not a Set or Map: one that entries join and leave all the time replaces its hash table again
 * and again as it grows and compacts, and V8 leaves each replaced table still pointing at the
 * entries it held. Once such a table is in the old generation, every scavenge keeps those
 * entries, and all they refer to, alive until a mark-compact finds the table dead, and promotes
 * them on the way: about 3 KB per unary HTTP request when the calls in flight were a Set
 * (docs/PERFORMANCE.md, "What the collector promotes"). A removed link points nowhere.
 */
export class LinkedList<T> implements Iterable<T> {
  readonly #head = new Link<T>(undefined, { size: 0 });

  constructor() {
    this.#head.prev = this.#head;
    this.#head.next = this.#head;
  }

  get size(): number {
    return this.#head.count.size;
  }

  /** Appends `value`; it stays until the returned handle's remove(). */
  add(value: T): Removable {
    const link = new Link(value, this.#head.count);
    const last = this.#head.prev!;
    link.prev = last;
    link.next = this.#head;
    last.next = link;
    this.#head.prev = link;
    link.count.size += 1;
    return link;
  }

  /** The oldest value still in the list. */
  first(): T | undefined {
    return this.#head.next === this.#head ? undefined : this.#head.next!.value;
  }

  /** The values now, oldest first, as a snapshot: removing values meanwhile is safe. */
  [Symbol.iterator](): Iterator<T> {
    const values: T[] = [];
    for (let link = this.#head.next!; link !== this.#head; link = link.next!) values.push(link.value as T);
    return values[Symbol.iterator]();
  }
}

/** A value's place in a LinkedList: remove() takes it out (a second remove() does nothing). */
export interface Removable {
  remove(): void;
}

class Link<T> implements Removable {
  prev: Link<T> | undefined;
  next: Link<T> | undefined;

  constructor(
    public value: T | undefined,
    readonly count: { size: number },
  ) {}

  remove(): void {
    if (this.prev === undefined || this.next === undefined) return;
    this.prev.next = this.next;
    this.next.prev = this.prev;
    this.prev = undefined;
    this.next = undefined;
    this.value = undefined;
    this.count.size -= 1;
  }
}
