/**
 * The embedded KvStore: an in-memory LRU bounded by total bytes, with per-key TTLs.
 *
 * Used when no Redis is configured, so it has to behave like the Redis store as far as callers
 * can tell: values are copied on `set` (a caller reusing its buffer must not change the cache),
 * `ttlSeconds` 0 or absent means no expiry, and nothing ever rejects. It never reads a real
 * clock itself: `now` is injected, so tests drive expiry with a fake clock.
 *
 * Order: a Map keeps insertion order, and every hit or write re-inserts its key, so the first
 * key is the least recently used. Expiry is lazy (checked on read) plus a cheap prune of a few
 * entries at the LRU end on each write, where entries nobody reads end up.
 */
import { DEFAULTS } from '../config/defaults.js';
import type { KvStats, KvStore } from './kv.js';

export interface MemoryKvOptions {
  /** Total bytes of keys and values kept; least recently used out first. Default 64 MiB. */
  maxBytes?: number;
  /** Milliseconds clock; defaults to `Date.now`. Injected by tests. */
  now?: () => number;
}

interface Entry {
  value: Uint8Array;
  sizeBytes: number;
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
  private readonly entries = new Map<string, Entry>();
  private totalBytes = 0;

  constructor(opts: MemoryKvOptions = {}) {
    this.maxBytes = opts.maxBytes ?? DEFAULT_MEMORY_KV_MAX_BYTES;
    this.now = opts.now ?? Date.now;
  }

  /** Bytes currently held (keys plus values). */
  get sizeBytes(): number {
    return this.totalBytes;
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
    this.bump(key, entry);
    return entry.value;
  }

  async set(key: string, value: Uint8Array, ttlSeconds?: number): Promise<void> {
    this.remove(key);
    this.prune();
    // Keys count too: a flood of tiny values under long keys must still be bounded.
    const sizeBytes = key.length + value.byteLength;
    if (sizeBytes > this.maxBytes) return; // could never fit: not stored, as the contract allows
    while (this.totalBytes + sizeBytes > this.maxBytes) {
      const oldest = this.entries.keys().next().value as string;
      this.remove(oldest);
    }
    this.entries.set(key, { value: value.slice(), sizeBytes, expiresAtMs: this.expiry(ttlSeconds) });
    this.totalBytes += sizeBytes;
  }

  /** Re-arms the TTL (0: no expiry, as `set`) and marks the key recently used. */
  async touch(key: string, ttlSeconds: number): Promise<void> {
    const entry = this.live(key);
    if (!entry) return;
    entry.expiresAtMs = this.expiry(ttlSeconds);
    this.bump(key, entry);
  }

  async del(key: string): Promise<void> {
    this.remove(key);
  }

  async close(): Promise<void> {
    this.entries.clear();
    this.totalBytes = 0;
  }

  private expiry(ttlSeconds: number | undefined): number | undefined {
    return ttlSeconds && ttlSeconds > 0 ? this.now() + ttlSeconds * 1000 : undefined;
  }

  /** The entry if present and not expired; an expired one is dropped on the way. */
  private live(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAtMs !== undefined && entry.expiresAtMs <= this.now()) {
      this.remove(key);
      return undefined;
    }
    return entry;
  }

  private bump(key: string, entry: Entry): void {
    this.entries.delete(key);
    this.entries.set(key, entry);
  }

  private remove(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.totalBytes -= entry.sizeBytes;
  }

  private prune(): void {
    const nowMs = this.now();
    let inspected = 0;
    for (const [key, entry] of this.entries) {
      if (inspected++ >= PRUNE_PER_WRITE) break;
      if (entry.expiresAtMs !== undefined && entry.expiresAtMs <= nowMs) this.remove(key);
    }
  }
}
