/**
 * Objects from a bucket, shared: every session reading the same object (bucket, key, ETag)
 * reads the same chunks, each fetched from the bucket at most once while it is in use,
 * whatever the sessions' speeds. A boot storm of 500 clients on one kernel costs the bucket
 * about one copy of the kernel, not 500.
 *
 * Where a chunk comes from, in order:
 *   1. the in-process chunk table (chunks being read right now, and recently read ones, LRU
 *      by bytes): concurrent sessions join one fetch here;
 *   2. the shared cache (KvStore: Redis across the fleet, or in-memory), keyed by ETag, so it
 *      never serves stale bytes; objects up to `wholeObjectMaxBytes` are one entry, larger
 *      ones fixed-size chunks;
 *   3. the bucket: a ranged GET pinned to the ETag (If-Match), so a changed object fails a
 *      session rather than mixing versions.
 *
 * Metadata (size, ETag) is trusted for `freshnessMs`, then re-checked with a conditional HEAD
 * (If-None-Match): an unchanged object costs a 304 and no body.
 *
 * Failures: before the first block is sent, 'unavailable' errors are retried with backoff,
 * then the client gets ERROR 0 "upstream unavailable"; missing and denied map to ERROR 1 and 2.
 * After the first block, a chunk is retried once, briefly, then the session ends with ERROR 0.
 * No wire message names a bucket or key.
 *
 * The parts: object-meta.ts (metadata freshness), chunk-table.ts (the shared chunks, the
 * shared cache, the bucket), object-reader.ts (one session's position, prefetch, the
 * mid-transfer deadline), upstream-retry.ts (the retry rule). This file puts them together.
 */
import type { Logger } from 'pino';
import type { KvStore } from '../cache/kv.js';
import type { ByteReader } from '../sources/types.js';
import { ChunkTable } from './chunk-table.js';
import { ObjectMeta } from './object-meta.js';
import { ObjectReader } from './object-reader.js';
import type { ObjectInfo, ObjectRef, ObjectStore } from './object-store.js';
import { withRetries } from './upstream-retry.js';

export interface ObjectSourceOptions {
  /** Size of the pieces large objects are fetched and cached in. */
  readonly chunkBytes: number;
  /** Objects up to this size are fetched and cached whole. */
  readonly wholeObjectMaxBytes: number;
  /** The in-process chunk table's budget (chunks in use are kept alive by their readers anyway). */
  readonly memoryBytes: number;
  /** Cached bytes live this long in the shared cache; re-armed on every hit. */
  readonly cacheTtlSeconds: number;
  /** Metadata is trusted this long before a conditional HEAD re-checks it. */
  readonly freshnessMs: number;
  /** Attempts for an 'unavailable' upstream before the first block (backoff 100 ms × 4^n). */
  readonly upstreamAttempts: number;
  /**
   * Once a transfer has begun, how long a session waits for its next chunk before failing
   * with ERROR 0: a hung bucket must end the transfer within about two of the client's
   * timeouts, whatever the store's own request deadline.
   */
  readonly midTransferWaitMs: number;
  readonly readAheadBytes: number;
}

export interface ObjectSourceStats {
  /** Chunks served from the shared cache, and missed there. */
  cacheHits: number;
  cacheMisses: number;
  /** Chunk reads answered by a fetch another session had already started (or just finished). */
  coalesced: number;
  bytesFromCache: number;
  bytesFromBucket: number;
  upstreamHeads: number;
  upstreamGets: number;
  upstreamErrors: number;
  notModified: number;
}

export class ObjectSource {
  readonly stats: ObjectSourceStats = {
    cacheHits: 0,
    cacheMisses: 0,
    coalesced: 0,
    bytesFromCache: 0,
    bytesFromBucket: 0,
    upstreamHeads: 0,
    upstreamGets: 0,
    upstreamErrors: 0,
    notModified: 0,
  };
  private readonly meta: ObjectMeta;
  private readonly chunks: ChunkTable;

  constructor(
    readonly store: ObjectStore,
    kv: KvStore,
    private readonly opts: ObjectSourceOptions,
    private readonly log: Logger,
    now: () => number = () => performance.now(),
  ) {
    // Both parts count into the one stats object.
    this.meta = new ObjectMeta(store, kv, { freshnessMs: opts.freshnessMs, cacheTtlSeconds: opts.cacheTtlSeconds }, this.stats, now);
    this.chunks = new ChunkTable(store, kv, { memoryBytes: opts.memoryBytes, cacheTtlSeconds: opts.cacheTtlSeconds }, this.stats);
  }

  /**
   * Opens an object for reading: resolves its size and ETag and fetches the first chunk, so
   * that a missing, denied or unreachable object is refused before any block is sent.
   */
  async openRead(ref: ObjectRef): Promise<{ reader: ByteReader; source: string; cacheHit: boolean }> {
    const info = await withRetries(() => this.meta.info(ref), this.opts.upstreamAttempts);
    const reader = new ObjectReader(this.chunks, ref, info, {
      chunkSize: this.chunkSizeFor(info),
      readAheadBytes: this.opts.readAheadBytes,
      midTransferWaitMs: this.opts.midTransferWaitMs,
      upstreamAttempts: this.opts.upstreamAttempts,
    });
    const from = await reader.prime();
    return { reader, source: from === 'bucket' ? this.store.kind : 'cache', cacheHit: from !== 'bucket' };
  }

  private chunkSizeFor(info: ObjectInfo): number {
    return info.size <= this.opts.wholeObjectMaxBytes ? Math.max(1, info.size) : this.opts.chunkBytes;
  }

  /** Size and ETag: trusted while fresh, then re-checked with a conditional HEAD. */
  info(ref: ObjectRef): Promise<ObjectInfo> {
    return this.meta.info(ref);
  }

  /** Bytes the in-process chunk table holds (for metrics and tests). */
  get memoryHeld(): number {
    return this.chunks.memoryHeld;
  }
}
