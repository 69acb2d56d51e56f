/**
 * The in-process chunk table: the chunks of objects being read right now, and recently read
 * ones, LRU by bytes. Every session reading the same chunk of the same object at the same ETag
 * joins one fetch here, whatever the sessions' speeds.
 *
 * A chunk missing from the table comes from the shared cache (KvStore: Redis across the fleet,
 * or in-memory; keyed by ETag, so it never serves stale bytes), else from the bucket with a
 * ranged GET pinned to the ETag (If-Match), and then goes into the shared cache.
 *
 * The table is a cache/byte-lru.ts whose entries in use are never evicted; the entry itself
 * (its `bytes` promise) is what concurrent readers join.
 */
import { ByteLru } from '../cache/byte-lru.js';
import type { KvStore } from '../cache/kv.js';
import { objectChunkKey } from '../cache/keyspace.js';
import { refKey } from './object-meta.js';
import type { ObjectInfo, ObjectRef, ObjectStore } from './object-store.js';

export interface ChunkTableOptions {
  /** The table's budget (chunks in use are kept alive by their readers anyway). */
  readonly memoryBytes: number;
  /** Cached bytes live this long in the shared cache; re-armed on every hit. */
  readonly cacheTtlSeconds: number;
}

/** The counters this part moves (a subset of ObjectSourceStats, the same object). */
export interface ChunkTableStats {
  cacheHits: number;
  cacheMisses: number;
  coalesced: number;
  bytesFromCache: number;
  bytesFromBucket: number;
  upstreamGets: number;
  upstreamErrors: number;
}

export interface ChunkEntry {
  readonly key: string;
  /** Settles once; a rejected fetch is removed so the next reader tries again. */
  readonly bytes: Promise<Uint8Array>;
  size: number;
  /** Where the bytes came from: 'cache' (shared cache) or 'bucket'. */
  from: 'cache' | 'bucket' | undefined;
  /**
   * Readers holding it (reading it, or prefetched it). An entry in use is never evicted:
   * evicting it would not free its bytes (the readers keep them) but would make the next
   * session start its own fetch, and upstream traffic would grow with the number of clients.
   */
  users: number;
}

export class ChunkTable {
  /** Idle chunks only are dropped, least recently used first, past the budget. */
  private readonly chunks: ByteLru<ChunkEntry>;

  constructor(
    private readonly store: ObjectStore,
    private readonly kv: KvStore,
    private readonly opts: ChunkTableOptions,
    private readonly stats: ChunkTableStats,
  ) {
    this.chunks = new ByteLru({ maxBytes: opts.memoryBytes, evictable: (entry) => entry.users === 0 });
  }

  /** Chunk reads so far that joined a fetch already in the table. */
  get coalesced(): number {
    return this.stats.coalesced;
  }

  /**
   * One chunk of an object at one ETag, held for the caller until it calls release();
   * concurrent callers share one fetch.
   */
  acquire(ref: ObjectRef, info: ObjectInfo, chunkSize: number, index: number): ChunkEntry {
    const key = objectChunkKey(refKey(ref), info.etag, chunkSize, index);
    const hit = this.chunks.get(key);
    if (hit) {
      this.stats.coalesced++;
      hit.users++;
      return hit;
    }
    const start = index * chunkSize;
    const end = Math.min(info.size, start + chunkSize);
    const entry = { key, size: end - start, from: undefined, users: 1 } as { -readonly [K in keyof ChunkEntry]: ChunkEntry[K] };
    entry.bytes = this.load(entry, ref, info.etag, start, end);
    entry.bytes.catch(() => {
      // A failed fetch must not be served to the next reader: drop it so they try afresh.
      if (this.chunks.peek(key) === entry) this.chunks.delete(key);
    });
    // In use (users 1), so never the one evicted to make room.
    this.chunks.set(key, entry, entry.size);
    return entry;
  }

  /** Shared cache first, then the bucket (and the bytes go into the shared cache). */
  private async load(entry: { from: ChunkEntry['from']; key: string }, ref: ObjectRef, etag: string, start: number, end: number): Promise<Uint8Array> {
    // Yield first: the caller registers the entry before any await can observe it.
    await Promise.resolve();
    const cached = await this.kv.get(entry.key);
    if (cached && cached.byteLength === end - start) {
      this.stats.cacheHits++;
      this.stats.bytesFromCache += cached.byteLength;
      entry.from = 'cache';
      void this.kv.touch(entry.key, this.opts.cacheTtlSeconds);
      return cached;
    }
    this.stats.cacheMisses++;
    this.stats.upstreamGets++;
    let bytes: Uint8Array;
    try {
      bytes = await this.store.getRange(ref, start, end, etag);
    } catch (e) {
      this.stats.upstreamErrors++;
      throw e;
    }
    this.stats.bytesFromBucket += bytes.byteLength;
    entry.from = 'bucket';
    void this.kv.set(entry.key, bytes, this.opts.cacheTtlSeconds);
    return bytes;
  }

  /** The caller is done with a chunk it acquired. */
  release(entry: ChunkEntry): void {
    entry.users = Math.max(0, entry.users - 1);
    // Drops idle chunks, least recently used first, until the table fits its budget.
    if (entry.users === 0) this.chunks.trim();
  }

  /** Bytes the table holds (for metrics and tests). */
  get memoryHeld(): number {
    return this.chunks.totalBytes;
  }
}
