/**
 * The read session's source-side buffer: chunks as the source gave them, cut into blocks on
 * demand. Pure. A block is a view of the source's bytes whenever it lies inside one chunk, so a
 * DATA payload is copied only when it spans two chunks.
 */
export class ByteQueue {
  private readonly chunks: Uint8Array[] = [];
  /** Bytes of chunks[0] already taken: one view per block, not a view of the rest as well. */
  private offset = 0;
  private total = 0;

  /** Bytes held. */
  get bytes(): number {
    return this.total;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.total += chunk.length;
  }

  /** Removes exactly n bytes (n <= bytes), copying only when they span chunks. */
  take(n: number): Uint8Array {
    this.total -= n;
    const head = this.chunks[0];
    if (head && head.length - this.offset >= n) {
      const block = head.subarray(this.offset, this.offset + n);
      this.advance(head, n);
      return block;
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.chunks[0];
      const k = Math.min(chunk.length - this.offset, n - filled);
      out.set(chunk.subarray(this.offset, this.offset + k), filled);
      filled += k;
      this.advance(chunk, k);
    }
    return out;
  }

  /** Drops everything held (the session ended). */
  clear(): void {
    this.chunks.length = 0;
    this.offset = 0;
    this.total = 0;
  }

  private advance(head: Uint8Array, n: number): void {
    this.offset += n;
    if (this.offset === head.length) {
      this.chunks.shift();
      this.offset = 0;
    }
  }
}
