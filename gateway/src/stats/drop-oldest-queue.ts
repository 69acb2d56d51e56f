/**
 * The stats sink's buffer (redis-sink.ts): a FIFO with a bound, which drops its OLDEST items
 * beyond the bound, so memory stays bounded through any Redis outage while the newest records
 * (the ones an operator looks at) survive. Items taken out for a send count against the bound
 * until they are acknowledged (`reserved`), and a batch that failed goes back to the front,
 * oldest first, under the same bound.
 *
 * The live items are items[head..]: the head index makes dropping and taking from the front
 * O(1), and the array is compacted now and then so it does not grow without bound behind the
 * head. Pure: no I/O, no clock; the caller counts what was dropped.
 */
export class DropOldestQueue<T> {
  private items: T[] = [];
  private head = 0;

  constructor(private readonly max: number) {}

  /** Items waiting (not counting those taken out and not yet put back). */
  get length(): number {
    return this.items.length - this.head;
  }

  /** Appends one item; drops the oldest beyond `max - reserved` and returns how many it dropped. */
  push(item: T, reserved: number): number {
    this.items.push(item);
    return this.trim(reserved);
  }

  /** Takes up to `n` items from the front, oldest first. */
  take(n: number): T[] {
    const count = Math.min(n, this.length);
    const batch = this.items.slice(this.head, this.head + count);
    this.head += count;
    return batch;
  }

  /** Puts a batch taken earlier back at the front; drops the oldest beyond `max` and returns how many. */
  putBack(batch: T[]): number {
    this.items = batch.concat(this.items.slice(this.head));
    this.head = 0;
    return this.trim(0);
  }

  private trim(reserved: number): number {
    const excess = this.length + reserved - this.max;
    let dropped = 0;
    if (excess > 0) {
      dropped = Math.min(excess, this.length);
      this.head += dropped;
    }
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return dropped;
  }
}
