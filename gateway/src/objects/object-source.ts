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
 */
import type { Logger } from 'pino';
import { toTftpError } from '../errors/to-tftp-error.js';
import type { KvStore } from '../cache/kv.js';
import { objectChunkKey, objectMetaKey } from '../cache/keyspace.js';
import { ObjectStoreError, type ObjectInfo, type ObjectRef, type ObjectStore } from './object-store.js';
import { readSize, type ByteReader } from '../sources/types.js';

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

interface Meta {
  readonly info: ObjectInfo;
  checkedAt: number;
}

interface ChunkEntry {
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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function refKey(ref: ObjectRef): string {
  return `${ref.bucket}/${ref.key}${ref.versionId ? `?v=${ref.versionId}` : ''}`;
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
  private readonly metas = new Map<string, Meta>();
  private readonly metaInFlight = new Map<string, Promise<ObjectInfo>>();
  /** Insertion order is recency order: a hit moves an entry to the end. */
  private readonly chunks = new Map<string, ChunkEntry>();
  private chunkBytesHeld = 0;

  constructor(
    readonly store: ObjectStore,
    private readonly kv: KvStore,
    private readonly opts: ObjectSourceOptions,
    private readonly log: Logger,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /**
   * Opens an object for reading: resolves its size and ETag and fetches the first chunk, so
   * that a missing, denied or unreachable object is refused before any block is sent.
   */
  async openRead(ref: ObjectRef): Promise<{ reader: ByteReader; source: string; cacheHit: boolean }> {
    const info = await this.withRetries(() => this.info(ref));
    const reader = new ObjectReader(this, ref, info, this.chunkSizeFor(info), this.opts.readAheadBytes, this.opts.midTransferWaitMs);
    const from = await reader.prime();
    return { reader, source: from === 'bucket' ? this.store.kind : 'cache', cacheHit: from !== 'bucket' };
  }

  private chunkSizeFor(info: ObjectInfo): number {
    return info.size <= this.opts.wholeObjectMaxBytes ? Math.max(1, info.size) : this.opts.chunkBytes;
  }

  /** Size and ETag: trusted while fresh, then re-checked with a conditional HEAD. */
  async info(ref: ObjectRef): Promise<ObjectInfo> {
    const key = refKey(ref);
    const known = this.metas.get(key);
    if (known && this.now() - known.checkedAt < this.opts.freshnessMs) return known.info;
    const pending = this.metaInFlight.get(key);
    if (pending) return pending;
    const p = (async () => {
      const shared = known ?? (await this.sharedMeta(key));
      if (shared && this.now() - shared.checkedAt < this.opts.freshnessMs) {
        this.metas.set(key, shared);
        return shared.info;
      }
      this.stats.upstreamHeads++;
      let head;
      try {
        head = await this.store.head(ref, shared ? { ifNoneMatch: shared.info.etag } : {});
      } catch (e) {
        this.stats.upstreamErrors++;
        throw e;
      }
      const meta: Meta = head === 'not-modified' ? { info: shared!.info, checkedAt: this.now() } : { info: head, checkedAt: this.now() };
      if (head === 'not-modified') this.stats.notModified++;
      this.metas.set(key, meta);
      void this.kv.set(objectMetaKey(key), Buffer.from(JSON.stringify({ size: meta.info.size, etag: meta.info.etag, checkedAtMs: Date.now() })), this.opts.cacheTtlSeconds);
      return meta.info;
    })().finally(() => this.metaInFlight.delete(key));
    this.metaInFlight.set(key, p);
    return p;
  }

  /** Another gateway's recent check, from the shared cache. */
  private async sharedMeta(key: string): Promise<Meta | undefined> {
    const raw = await this.kv.get(objectMetaKey(key));
    if (!raw) return undefined;
    try {
      const m = JSON.parse(Buffer.from(raw).toString()) as { size: number; etag: string; checkedAtMs: number };
      if (typeof m.size !== 'number' || typeof m.etag !== 'string' || typeof m.checkedAtMs !== 'number') return undefined;
      // Wall-clock age turned into our monotonic clock.
      return { info: { size: m.size, etag: m.etag }, checkedAt: this.now() - Math.max(0, Date.now() - m.checkedAtMs) };
    } catch {
      return undefined;
    }
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
      // Recency: move to the end.
      this.chunks.delete(key);
      this.chunks.set(key, hit);
      return hit;
    }
    const start = index * chunkSize;
    const end = Math.min(info.size, start + chunkSize);
    const entry = { key, size: end - start, from: undefined, users: 1 } as { -readonly [K in keyof ChunkEntry]: ChunkEntry[K] };
    entry.bytes = this.load(entry, ref, info.etag, start, end);
    entry.bytes.catch(() => {
      // A failed fetch must not be served to the next reader: drop it so they try afresh.
      if (this.chunks.get(key) === entry) {
        this.chunks.delete(key);
        this.chunkBytesHeld -= entry.size;
      }
    });
    this.chunks.set(key, entry);
    this.chunkBytesHeld += entry.size;
    this.evict();
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
    if (entry.users === 0 && this.chunkBytesHeld > this.opts.memoryBytes) this.evict();
  }

  /** Drops idle chunks, least recently used first, until the table fits its budget. */
  private evict(): void {
    for (const [key, entry] of this.chunks) {
      if (this.chunkBytesHeld <= this.opts.memoryBytes) return;
      if (entry.users > 0) continue;
      this.chunks.delete(key);
      this.chunkBytesHeld -= entry.size;
    }
  }

  /** Retries 'unavailable' failures with backoff; other failures are final at once. */
  async withRetries<T>(op: () => Promise<T>, attempts = this.opts.upstreamAttempts): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await op();
      } catch (e) {
        const retryable = e instanceof ObjectStoreError && e.kind === 'unavailable';
        if (!retryable || attempt >= attempts) throw toTftpError(e);
        await sleep(100 * 4 ** (attempt - 1));
      }
    }
  }

  /** Bytes the in-process chunk table holds (for metrics and tests). */
  get memoryHeld(): number {
    return this.chunkBytesHeld;
  }
}

/** One session's position in a shared object. */
class ObjectReader implements ByteReader {
  readonly size: number;
  private pos = 0;
  private current: { index: number; entry: ChunkEntry; bytes: Uint8Array } | undefined;
  private ahead: { index: number; entry: ChunkEntry } | undefined;
  private closed = false;

  constructor(
    private readonly source: ObjectSource,
    private readonly ref: ObjectRef,
    private readonly info: ObjectInfo,
    private readonly chunkSize: number,
    private readonly readAheadBytes: number,
    private readonly midTransferWaitMs: number,
  ) {
    this.size = info.size;
  }

  /** Fetches the first chunk (with the full retry budget); says where it came from. */
  async prime(): Promise<'cache' | 'bucket' | undefined> {
    if (this.size === 0) return 'cache';
    let from: ChunkEntry['from'];
    const got = await this.source.withRetries(async () => {
      const before = this.source.stats.coalesced;
      const entry = this.source.acquire(this.ref, this.info, this.chunkSize, 0);
      // Joining a fetch another session started (or reusing its bytes) costs the bucket
      // nothing: for this session that is a cache hit.
      const joined = this.source.stats.coalesced !== before;
      try {
        const bytes = await entry.bytes;
        from = joined ? 'cache' : entry.from;
        return { entry, bytes };
      } catch (e) {
        this.source.release(entry);
        throw e;
      }
    });
    this.current = { index: 0, ...got };
    return from;
  }

  async read(hintBytes: number): Promise<Uint8Array | null> {
    if (this.closed || this.pos >= this.size) return null;
    const index = Math.floor(this.pos / this.chunkSize);
    if (!this.current || this.current.index !== index) {
      const got = await this.fetch(index);
      if (this.closed) {
        this.source.release(got.entry);
        return null;
      }
      if (this.current) this.source.release(this.current.entry);
      this.current = { index, ...got };
    }
    // Start on the next chunk while this one is being sent.
    const nextIndex = index + 1;
    if (nextIndex * this.chunkSize < this.size && !this.ahead) {
      const entry = this.source.acquire(this.ref, this.info, this.chunkSize, nextIndex);
      entry.bytes.catch(() => {}); // awaited (and its error handled) when its turn comes
      this.ahead = { index: nextIndex, entry };
    }
    const offset = this.pos - index * this.chunkSize;
    const n = Math.min(readSize(hintBytes, this.readAheadBytes), this.current.bytes.byteLength - offset);
    const out = this.current.bytes.subarray(offset, offset + n);
    this.pos += n;
    return out;
  }

  /**
   * A chunk mid-transfer: the prefetched one, else one more attempt, all within
   * midTransferWaitMs; then the session fails with ERROR 0 (the fetch itself carries on for
   * whoever else needs the chunk).
   */
  private async fetch(index: number): Promise<{ entry: ChunkEntry; bytes: Uint8Array }> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(toTftpError(new ObjectStoreError('unavailable', `chunk ${index} of ${this.ref.bucket}/${this.ref.key} not fetched within ${this.midTransferWaitMs} ms`))),
        this.midTransferWaitMs,
      );
    });
    const attempt = async (): Promise<{ entry: ChunkEntry; bytes: Uint8Array }> => {
      const pre = this.ahead?.index === index ? this.ahead.entry : undefined;
      this.ahead = undefined;
      if (pre) {
        try {
          return { entry: pre, bytes: await pre.bytes };
        } catch {
          this.source.release(pre); // fall through to a fresh attempt
        }
      }
      return this.source.withRetries(async () => {
        const entry = this.source.acquire(this.ref, this.info, this.chunkSize, index);
        try {
          return { entry, bytes: await entry.bytes };
        } catch (e) {
          this.source.release(entry);
          throw e;
        }
      }, 2);
    };
    const work = attempt();
    try {
      return await Promise.race([work, deadline]);
    } catch (e) {
      // If the fetch completes after we gave up, let go of what it acquired.
      void work.then((got) => this.source.release(got.entry), () => {});
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.current) this.source.release(this.current.entry);
    if (this.ahead) this.source.release(this.ahead.entry);
    this.current = undefined;
    this.ahead = undefined;
  }
}
