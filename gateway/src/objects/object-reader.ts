/**
 * One session's position in a shared object: it reads chunk after chunk from the chunk table,
 * prefetching the next one while the current one is sent, and holds at most those two.
 *
 * Before the first block (prime), the first chunk gets the full retry budget; after it, a
 * chunk gets one more attempt, all within `midTransferWaitMs`, then the session fails with
 * ERROR 0 (the fetch itself carries on for whoever else needs the chunk).
 */
import { toTftpError } from '../errors/to-tftp-error.js';
import { readSize, type ByteReader } from '../sources/types.js';
import type { ChunkEntry, ChunkTable } from './chunk-table.js';
import { ObjectStoreError, type ObjectInfo, type ObjectRef } from './object-store.js';
import { withRetries } from './upstream-retry.js';

export interface ObjectReaderOptions {
  /** The object's chunk size: its whole size up to wholeObjectMaxBytes, else chunkBytes. */
  readonly chunkSize: number;
  readonly readAheadBytes: number;
  /** Once a transfer has begun, how long the session waits for its next chunk. */
  readonly midTransferWaitMs: number;
  /** Attempts for an 'unavailable' upstream before the first block. */
  readonly upstreamAttempts: number;
}

export class ObjectReader implements ByteReader {
  readonly size: number;
  private readonly chunkSize: number;
  private pos = 0;
  private current: { index: number; entry: ChunkEntry; bytes: Uint8Array } | undefined;
  private ahead: { index: number; entry: ChunkEntry } | undefined;
  private closed = false;

  constructor(
    private readonly table: ChunkTable,
    private readonly ref: ObjectRef,
    private readonly info: ObjectInfo,
    private readonly opts: ObjectReaderOptions,
  ) {
    this.size = info.size;
    this.chunkSize = opts.chunkSize;
  }

  /** Fetches the first chunk (with the full retry budget); says where it came from. */
  async prime(): Promise<'cache' | 'bucket' | undefined> {
    if (this.size === 0) return 'cache';
    let from: ChunkEntry['from'];
    const got = await withRetries(async () => {
      const before = this.table.coalesced;
      const entry = this.table.acquire(this.ref, this.info, this.chunkSize, 0);
      // Joining a fetch another session started (or reusing its bytes) costs the bucket
      // nothing: for this session that is a cache hit.
      const joined = this.table.coalesced !== before;
      try {
        const bytes = await entry.bytes;
        from = joined ? 'cache' : entry.from;
        return { entry, bytes };
      } catch (e) {
        this.table.release(entry);
        throw e;
      }
    }, this.opts.upstreamAttempts);
    this.current = { index: 0, ...got };
    return from;
  }

  async read(hintBytes: number): Promise<Uint8Array | null> {
    if (this.closed || this.pos >= this.size) return null;
    const index = Math.floor(this.pos / this.chunkSize);
    if (!this.current || this.current.index !== index) {
      const got = await this.fetch(index);
      if (this.closed) {
        this.table.release(got.entry);
        return null;
      }
      if (this.current) this.table.release(this.current.entry);
      this.current = { index, ...got };
    }
    // Start on the next chunk while this one is being sent.
    const nextIndex = index + 1;
    if (nextIndex * this.chunkSize < this.size && !this.ahead) {
      const entry = this.table.acquire(this.ref, this.info, this.chunkSize, nextIndex);
      entry.bytes.catch(() => {}); // awaited (and its error handled) when its turn comes
      this.ahead = { index: nextIndex, entry };
    }
    const offset = this.pos - index * this.chunkSize;
    const n = Math.min(readSize(hintBytes, this.opts.readAheadBytes), this.current.bytes.byteLength - offset);
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
    const waitMs = this.opts.midTransferWaitMs;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(toTftpError(new ObjectStoreError('unavailable', `chunk ${index} of ${this.ref.bucket}/${this.ref.key} not fetched within ${waitMs} ms`))),
        waitMs,
      );
    });
    const attempt = async (): Promise<{ entry: ChunkEntry; bytes: Uint8Array }> => {
      const pre = this.ahead?.index === index ? this.ahead.entry : undefined;
      this.ahead = undefined;
      if (pre) {
        try {
          return { entry: pre, bytes: await pre.bytes };
        } catch {
          this.table.release(pre); // fall through to a fresh attempt
        }
      }
      return withRetries(async () => {
        const entry = this.table.acquire(this.ref, this.info, this.chunkSize, index);
        try {
          return { entry, bytes: await entry.bytes };
        } catch (e) {
          this.table.release(entry);
          throw e;
        }
      }, 2);
    };
    const work = attempt();
    try {
      return await Promise.race([work, deadline]);
    } catch (e) {
      // If the fetch completes after we gave up, let go of what it acquired.
      void work.then((got) => this.table.release(got.entry), () => {});
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.current) this.table.release(this.current.entry);
    if (this.ahead) this.table.release(this.ahead.entry);
    this.current = undefined;
    this.ahead = undefined;
  }
}
