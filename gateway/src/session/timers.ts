/**
 * Retransmission bookkeeping shared by both session kinds: the current timeout, how many
 * timeouts in a row we have seen, and when to give up. Pure; time is passed in.
 *
 * How many timeouts a session may take in a row depends on what the peer has shown (see the
 * sessions: an unproven peer gets `firstPacketRetries`, a proven one `maxRetries`), so the
 * caller names the limit each time.
 */
import type { SessionTimingConfig } from './types.js';

export class RetransmitTimer {
  private currentMs: number;
  private consecutive = 0;
  deadline: number | undefined;

  constructor(private readonly cfg: SessionTimingConfig) {
    this.currentMs = cfg.timeoutMs;
  }

  /** Arms the timer from `now` with the current timeout. */
  arm(now: number): void {
    this.deadline = now + this.currentMs;
  }

  disarm(): void {
    this.deadline = undefined;
  }

  /** The peer made progress: back to the initial timeout, count from zero. */
  progress(): void {
    this.consecutive = 0;
    this.currentMs = this.cfg.timeoutMs;
  }

  /**
   * Called when the deadline passes. Returns false when `limit` timeouts in a row have already
   * passed and we must give up; otherwise backs off and re-arms, and the caller retransmits.
   */
  expire(now: number, limit: number): boolean {
    if (this.consecutive >= limit) {
      this.deadline = undefined;
      return false;
    }
    this.consecutive++;
    this.currentMs = Math.min(this.currentMs * this.cfg.backoffFactor, this.cfg.maxTimeoutMs);
    this.arm(now);
    return true;
  }
}
