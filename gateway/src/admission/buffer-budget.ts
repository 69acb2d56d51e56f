/**
 * A global budget for the bytes sessions may hold in memory: the window in flight (kept for
 * retransmission) plus the read-ahead of the next window. Issue 9: 1,000 spoofed RRQs asking
 * `blksize 65464 windowsize 64` for a 40 MiB file raised the gateway's RSS to 3.65 GB, and
 * nothing bounded it. Each session reserves its worst case when options are negotiated; a
 * request that does not fit is refused "busy", and the reservation returns when it ends.
 */

/**
 * What one session may hold at most: two windows (one in flight, one read ahead), never more
 * than the source itself when its size is known (a 1 KiB file at the largest options holds
 * 1 KiB, not 8 MiB).
 */
export function sessionBufferBytes(args: { blockSize: number; windowSize: number; sourceBytes?: number }): number {
  const windows = 2 * args.windowSize * args.blockSize;
  return args.sourceBytes === undefined ? windows : Math.min(windows, Math.max(0, args.sourceBytes));
}

export class BufferBudget {
  private reserved = 0;
  private peak = 0;

  constructor(readonly maxBytes: number) {}

  /** Bytes reserved now. */
  get reservedBytes(): number {
    return this.reserved;
  }

  /** The most ever reserved at once. */
  get peakBytes(): number {
    return this.peak;
  }

  /** Reserves `bytes` if they fit; false (and nothing reserved) when they do not. */
  tryReserve(bytes: number): boolean {
    if (bytes < 0 || !Number.isFinite(bytes)) return false;
    if (this.reserved + bytes > this.maxBytes) return false;
    this.reserved += bytes;
    if (this.reserved > this.peak) this.peak = this.reserved;
    return true;
  }

  /** Returns a reservation made with tryReserve (exactly once per reservation). */
  release(bytes: number): void {
    this.reserved = Math.max(0, this.reserved - bytes);
  }
}
