/**
 * The read session's source-side buffer: chunks as the source gave them, cut into blocks on
 * demand. Pure. A block is a view of the source's bytes whenever it lies inside one chunk, so a
 * DATA payload is copied only when it spans two chunks.
 */
export class ByteQueue {
  private readonly chunks: Uint8Array[] = [];
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
    if (head && head.length >= n) {
      if (head.length === n) this.chunks.shift();
      else this.chunks[0] = head.subarray(n);
      return head.subarray(0, n);
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.chunks[0];
      const k = Math.min(chunk.length, n - filled);
      out.set(chunk.subarray(0, k), filled);
      filled += k;
      if (k === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(k);
    }
    return out;
  }

  /** Drops everything held (the session ended). */
  clear(): void {
    this.chunks.length = 0;
    this.total = 0;
  }
}
