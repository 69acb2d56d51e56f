/**
 * The embedded KvStore: an in-memory LRU bounded by total bytes, with per-key TTLs.
 *
 * Used when no Redis is configured, so it has to behave like the Redis store as far as callers
 * can tell: values are copied on `set` (a caller reusing its buffer must not change the cache),
 * `ttlSeconds` 0 or absent means no expiry, and nothing ever rejects. It never reads a real
 * clock itself: `now` is injected, so tests drive expiry with a fake clock.
 *
 * Order: the entries live in a byte-lru.ts, where every hit or write makes its key the most
 * recently used. Expiry is lazy (checked on read) plus a cheap prune of a few entries at the
 * LRU end on each write, where entries nobody reads end up.
 */
import { DEFAULTS } from '../config/defaults.js';
import { ByteLru } from './byte-lru.js';
import type { KvStats, KvStore } from './kv.js';

export interface MemoryKvOptions {
  /** Total bytes of keys and values kept; least recently used out first. Default 64 MiB. */
  maxBytes?: number;
  /** Milliseconds clock; defaults to `Date.now`. Injected by tests. */
  now?: () => number;
}

interface Entry {
  value: Uint8Array;
  /** Absolute ms; undefined = no expiry. */
  expiresAtMs: number | undefined;
}

/** memoryKvMaxBytes's default (config/defaults.ts), for stores built without a config. */
export const DEFAULT_MEMORY_KV_MAX_BYTES = DEFAULTS.memoryKvMaxBytes;
/** How many LRU-end entries each write inspects for expiry: bounded work per call. */
const PRUNE_PER_WRITE = 4;

export class MemoryKvStore implements KvStore {
  readonly kind = 'memory';
  readonly available = true;
  readonly stats: KvStats = { hits: 0, misses: 0, bypassed: 0, errors: 0 };
  readonly maxBytes: number;
  private readonly now: () => number;
  private readonly entries: ByteLru<Entry>;

  constructor(opts: MemoryKvOptions = {}) {
    this.maxBytes = opts.maxBytes ?? DEFAULT_MEMORY_KV_MAX_BYTES;
    this.now = opts.now ?? Date.now;
    this.entries = new ByteLru({ maxBytes: this.maxBytes });
  }

  /** Bytes currently held (keys plus values). */
  get sizeBytes(): number {
    return this.entries.totalBytes;
  }

  /** Entries currently held, expired ones not yet pruned included. */
  get size(): number {
    return this.entries.size;
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const entry = this.live(key);
    if (!entry) {
      this.stats.misses++;
      return undefined;
    }
    this.stats.hits++;
    this.entries.get(key); // most recently used now
    return entry.value;
  }

  async set(key: string, value: Uint8Array, ttlSeconds?: number): Promise<void> {
    this.entries.delete(key);
    this.prune();
    // Keys count too: a flood of tiny values under long keys must still be bounded.
    const sizeBytes = key.length + value.byteLength;
    if (sizeBytes > this.maxBytes) return; // could never fit: not stored, as the contract allows
    // Evicts the least recently used until it fits.
    this.entries.set(key, { value: value.slice(), expiresAtMs: this.expiry(ttlSeconds) }, sizeBytes);
  }

  /** Re-arms the TTL (0: no expiry, as `set`) and marks the key recently used. */
  async touch(key: string, ttlSeconds: number): Promise<void> {
    const entry = this.live(key);
    if (!entry) return;
    entry.expiresAtMs = this.expiry(ttlSeconds);
    this.entries.get(key); // most recently used now
  }

  async del(key: string): Promise<void> {
    this.entries.delete(key);
  }

  async close(): Promise<void> {
    this.entries.clear();
  }

  private expiry(ttlSeconds: number | undefined): number | undefined {
    return ttlSeconds && ttlSeconds > 0 ? this.now() + ttlSeconds * 1000 : undefined;
  }

  /** The entry if present and not expired; an expired one is dropped on the way. */
  private live(key: string): Entry | undefined {
    const entry = this.entries.peek(key);
    if (!entry) return undefined;
    if (entry.expiresAtMs !== undefined && entry.expiresAtMs <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  private prune(): void {
    const nowMs = this.now();
    let inspected = 0;
    for (const [key, entry] of this.entries.entries()) {
      if (inspected++ >= PRUNE_PER_WRITE) break;
      if (entry.expiresAtMs !== undefined && entry.expiresAtMs <= nowMs) this.entries.delete(key);
    }
  }
}
