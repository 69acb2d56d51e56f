/**
 * One token bucket per key (a client address, a prefix), in a map whose size is bounded:
 * spoofed sources are free to invent, so the table must not grow with them.
 *
 * A key with no entry has a full bucket. An entry whose bucket has refilled is worth nothing
 * and is dropped when the table is full; if every entry is still draining, the least recently
 * used one is dropped (that key gets a fresh burst: the global bucket still bounds the total).
 */
import { fullBucket, takeToken, tokensAt, type BucketState, type TokenBucketConfig } from './token-bucket.js';

/** How many stale entries one insertion may look at before evicting: keeps insertion O(1). */
const SWEEP_STEPS = 8;

export class KeyedBuckets {
  /** Map order is least recently used first: a touched key is moved to the end. */
  private readonly buckets = new Map<string, BucketState>();

  constructor(
    private readonly config: TokenBucketConfig,
    private readonly maxKeys: number,
  ) {
    if (maxKeys < 1) throw new Error('KeyedBuckets: maxKeys must be at least 1');
  }

  get size(): number {
    return this.buckets.size;
  }

  /** Takes a token from `key`'s bucket; false when it is empty. */
  take(key: string, nowMs: number): boolean {
    let state = this.buckets.get(key);
    if (state) {
      this.buckets.delete(key);
    } else {
      this.makeRoom(nowMs);
      state = fullBucket(this.config, nowMs);
    }
    const ok = takeToken(this.config, state, nowMs);
    this.buckets.set(key, state);
    return ok;
  }

  private makeRoom(nowMs: number): void {
    if (this.buckets.size < this.maxKeys) return;
    let steps = 0;
    for (const [key, state] of this.buckets) {
      if (steps++ >= SWEEP_STEPS) break;
      if (tokensAt(this.config, state, nowMs) >= this.config.burst) {
        this.buckets.delete(key);
        if (this.buckets.size < this.maxKeys) return;
      }
    }
    // Every entry looked at is still draining: forget the least recently used.
    const oldest = this.buckets.keys().next();
    if (!oldest.done) this.buckets.delete(oldest.value);
  }
}
