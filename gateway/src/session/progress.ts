/**
 * How long a session may hold its slot: a minimum rate of progress and a maximum duration,
 * shared by both session kinds. Pure; time is passed in.
 *
 * Retransmit timeouts end a peer that goes silent, but not one that keeps a session alive with
 * a trickle (one ACK every few seconds resets the retry count forever) or one that chose a
 * tiny blksize for a large file. Each interval of `progressIntervalMs` the transfer must have
 * moved at least `minProgressBytes`; and no session lasts longer than `maxSessionMs`. Both end
 * the session with outcome `too-slow`. Time the session spends waiting for its own source (an
 * empty window while the bucket answers) is not held against the peer.
 */
export interface ProgressConfig {
  /** Bytes the peer must acknowledge (read) or send (write) per interval; 0 disables the rule. */
  readonly minProgressBytes?: number;
  readonly progressIntervalMs?: number;
  /** The longest a session may last; 0 or absent: no limit. */
  readonly maxSessionMs?: number;
}

export type ProgressVerdict = 'too-slow' | 'too-long' | undefined;

export class ProgressGuard {
  private markAt: number;
  private markBytes = 0;
  private readonly endAt: number | undefined;
  private readonly intervalMs: number | undefined;
  /** Set while the session waits on its own source or sink: that time is not the peer's. */
  private pausedAt: number | undefined;

  constructor(private readonly cfg: ProgressConfig, now: number) {
    this.markAt = now;
    this.endAt = cfg.maxSessionMs ? now + cfg.maxSessionMs : undefined;
    this.intervalMs = cfg.minProgressBytes && cfg.progressIntervalMs ? cfg.progressIntervalMs : undefined;
  }

  /** The next time `check` has something to decide, or undefined when no rule applies. */
  get deadline(): number | undefined {
    const next = this.intervalMs === undefined ? undefined : this.markAt + this.intervalMs;
    if (next === undefined) return this.endAt;
    return this.endAt === undefined ? next : Math.min(next, this.endAt);
  }

  /**
   * The session waits (true) or stops waiting (false) on its own source: nothing is in flight
   * for the peer to acknowledge. The waiting time is added to the current interval.
   */
  waiting(now: number, waiting: boolean): void {
    if (waiting) {
      this.pausedAt ??= now;
    } else if (this.pausedAt !== undefined) {
      this.markAt += now - this.pausedAt;
      this.pausedAt = undefined;
    }
  }

  /** Called when `deadline` has passed, with the bytes moved so far. */
  check(now: number, bytes: number): ProgressVerdict {
    if (this.endAt !== undefined && now >= this.endAt) return 'too-long';
    if (this.intervalMs === undefined || now < this.markAt + this.intervalMs) return undefined;
    if (this.pausedAt !== undefined) {
      // Waiting on our own source right now: start the interval again when it answers.
      this.pausedAt = now;
      this.markAt = now;
      this.markBytes = bytes;
      return undefined;
    }
    if (bytes - this.markBytes < this.cfg.minProgressBytes!) return 'too-slow';
    this.markAt = now;
    this.markBytes = bytes;
    return undefined;
  }
}

/** The ERROR 0 texts for a session ended by the rules above; fixed strings, safe on the wire. */
export const PROGRESS_ERROR_TEXT = {
  'too-slow': 'transfer too slow',
  'too-long': 'transfer took too long',
} as const;
