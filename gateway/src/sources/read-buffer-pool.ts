/**
 * Read buffers that sessions hand back for reuse (issue 13, docs/PERFORMANCE.md "(c)").
 *
 * A file larger than fileCacheMaxFileBytes is read a window at a time (FileReader in
 * local-dir.ts). A new 64 KiB Buffer per read made the collector run far more often under the
 * gateway's V8 heap limits (a 2 MiB semi-space): the CPU per block at blksize 65464 nearly
 * doubled. So a reader takes its chunk buffers from here and gives them back once nothing can
 * reference them any more (the ownership rule is ByteReader.release in types.ts).
 *
 * Buffers are kept by exact size (a session reads chunks of one size: readSize() of its window)
 * and LIFO, so a session in steady state gets back the buffer it released a moment ago. The
 * pool holds at most `maxBytes` of free buffers; beyond that a released buffer is left to the
 * collector, so a storm's peak does not stay resident.
 */
export class ReadBufferPool {
  private readonly free = new Map<number, Buffer[]>();
  private heldBytes = 0;
  /** Buffers served from the pool / newly allocated (metrics and tests). */
  reused = 0;
  allocated = 0;

  constructor(readonly maxBytes: number) {}

  /** Free bytes held now. */
  get bytes(): number {
    return this.heldBytes;
  }

  /** A buffer of exactly `bytes`, contents undefined: a released one when there is one. */
  take(bytes: number): Buffer {
    const buf = this.free.get(bytes)?.pop();
    if (buf !== undefined) {
      this.heldBytes -= bytes;
      this.reused++;
      return buf;
    }
    this.allocated++;
    // Its own backing store (allocUnsafe shares one among small buffers): the whole of it is ours to reuse.
    return Buffer.allocUnsafeSlow(bytes);
  }

  /** Takes `buf` back. The caller guarantees nothing references it any more. */
  give(buf: Buffer): void {
    if (this.heldBytes + buf.length > this.maxBytes) return;
    let list = this.free.get(buf.length);
    if (list === undefined) {
      list = [];
      this.free.set(buf.length, list);
    }
    list.push(buf);
    this.heldBytes += buf.length;
  }
}

/**
 * The process's pool: 4 MiB, 64 buffers of 64 KiB, enough for the sessions reading large files
 * at one moment on a busy gateway, small beside the ~16 MiB per 1,000 sessions held mid-transfer.
 */
export const READ_BUFFERS = new ReadBufferPool(4 * 1024 * 1024);
