/**
 * A least-recently-used table bounded by total bytes: the one LRU of the gateway (the embedded
 * key-value store, the hot-file cache and the object chunk table all keep their entries here).
 *
 * Order: a Map keeps insertion order, and every `get` or `set` re-inserts its key, so the first
 * key is the least recently used and eviction walks from the front. Sizes are the caller's
 * (bytes of a value, or of key plus value): the table only adds them up.
 *
 * Eviction runs after every `set` and on `trim()`, oldest first, until the total fits. An entry
 * the `evictable` predicate refuses (a chunk a reader still holds) is stepped over, so the total
 * may stay over budget until its holders let go and the caller trims again. An entry larger
 * than the whole budget is inserted and then evicted like any other (after everything older);
 * callers that must not disturb the table for it check `maxBytes` first.
 */
export interface ByteLruOptions<V> {
  /** Total bytes kept before eviction starts. */
  readonly maxBytes: number;
  /** False keeps an entry through eviction (it is in use); default: every entry may go. */
  readonly evictable?: (value: V) => boolean;
}

interface Slot<V> {
  readonly value: V;
  readonly sizeBytes: number;
}

export class ByteLru<V> {
  readonly maxBytes: number;
  private readonly evictable: ((value: V) => boolean) | undefined;
  private readonly slots = new Map<string, Slot<V>>();
  private heldBytes = 0;
  /** The most recently used slot (the Map's last), if it is still there. */
  private newest: Slot<V> | undefined;

  constructor(opts: ByteLruOptions<V>) {
    this.maxBytes = opts.maxBytes;
    this.evictable = opts.evictable;
  }

  /** Bytes held: the sum of the sizes of the entries present. */
  get totalBytes(): number {
    return this.heldBytes;
  }

  /** Entries present. */
  get size(): number {
    return this.slots.size;
  }

  /** The value, marked most recently used. */
  get(key: string): V | undefined {
    const slot = this.slots.get(key);
    if (!slot) return undefined;
    if (slot !== this.newest) {
      // Moving an entry leaves a hole in the Map's hash table, and every few holes V8 builds a
      // new table; a hot entry asked for again and again is already the newest, so it stays.
      this.slots.delete(key);
      this.slots.set(key, slot);
      this.newest = slot;
    }
    return slot.value;
  }

  /** The value, recency untouched. */
  peek(key: string): V | undefined {
    return this.slots.get(key)?.value;
  }

  /** Stores (or replaces) the value as most recently used, then evicts down to the budget. */
  set(key: string, value: V, sizeBytes: number): void {
    this.delete(key);
    const slot = { value, sizeBytes };
    this.slots.set(key, slot);
    this.newest = slot;
    this.heldBytes += sizeBytes;
    this.trim();
  }

  /** Removes the entry; true if it was there. */
  delete(key: string): boolean {
    const slot = this.slots.get(key);
    if (!slot) return false;
    this.slots.delete(key);
    this.heldBytes -= slot.sizeBytes;
    if (slot === this.newest) this.newest = undefined;
    return true;
  }

  /** Evicts evictable entries, least recently used first, until the total fits the budget. */
  trim(): void {
    for (const [key, slot] of this.slots) {
      if (this.heldBytes <= this.maxBytes) return;
      if (this.evictable && !this.evictable(slot.value)) continue;
      this.slots.delete(key);
      this.heldBytes -= slot.sizeBytes;
      if (slot === this.newest) this.newest = undefined;
    }
  }

  /** Entries from least to most recently used; deleting while iterating is allowed. */
  *entries(): IterableIterator<[string, V]> {
    for (const [key, slot] of this.slots) yield [key, slot.value];
  }

  clear(): void {
    this.slots.clear();
    this.heldBytes = 0;
    this.newest = undefined;
  }
}
