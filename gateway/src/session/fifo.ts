/**
 * A first-in, first-out queue that allocates only when it holds more than it ever did. Pure.
 *
 * A session queues each datagram and each block in flight for a moment: `push` then `shift`
 * of a JavaScript array, with the array emptied every round trip, made V8 allocate a new
 * backing store on the next `push` (the left-trimmed one is gone), and `splice` allocates the
 * array it returns. Under a boot storm that was an eighth of the gateway's allocation per
 * DATA block (docs/PERFORMANCE.md, "The boot storm per DATA block"). Here the slots are
 * reused: a head and a tail index over one array, moved back to the front when the array
 * would otherwise grow.
 */
export class Fifo<T> {
  private readonly items: (T | undefined)[] = [];
  private head = 0;
  private tail = 0;

  /** Items held. */
  get length(): number {
    return this.tail - this.head;
  }

  /** Slots allocated (tests: it grows only with the most items ever held at once). */
  get capacity(): number {
    return this.items.length;
  }

  push(item: T): void {
    if (this.tail === this.items.length && this.head > 0) this.compact();
    this.items[this.tail++] = item;
  }

  /** The oldest item, removed; undefined when empty. */
  shift(): T | undefined {
    if (this.head === this.tail) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head === this.tail) this.head = this.tail = 0;
    return item;
  }

  /** The i-th oldest item (0: the oldest), not removed. */
  at(i: number): T | undefined {
    return i >= 0 && i < this.tail - this.head ? this.items[this.head + i] : undefined;
  }

  /** Drops every item (their slots stay for reuse). */
  clear(): void {
    this.items.fill(undefined, this.head, this.tail);
    this.head = this.tail = 0;
  }

  /** Moves the items held to the front of the array, so a push reuses the freed slots. */
  private compact(): void {
    const n = this.tail - this.head;
    this.items.copyWithin(0, this.head, this.tail);
    this.items.fill(undefined, n, this.tail);
    this.head = 0;
    this.tail = n;
  }
}
