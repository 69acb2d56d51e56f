/**
 * Retransmission bookkeeping shared by both session kinds: the current timeout, how many
 * timeouts in a row we have seen, and when to give up. Pure; time is passed in.
 *
 * How many timeouts a session may take in a row depends on what the peer has shown (see the
 * sessions: an unproven peer gets `firstPacketRetries`, a proven one `maxRetries`), so the
 * caller names the limit each time.
 */
import type { SessionTimingConfig } from './types.js';

/**
 * Before the peer has answered at all, a session resends its first packet only
 * `firstPacketRetries` times (0 by default: a spoofed request must not buy repeats, issue 9),
 * but it goes on *listening* for this many more timeouts, sending nothing: a client whose ACK
 * of the OACK (or of DATA 1) was lost, or came late from a busy host, resends it on its own
 * timer and still finds the session. Zero packets, so the reflection bound is unchanged; a
 * spoofed request holds its session slot for two more (backed-off) timeouts, within every
 * admission cap.
 */
export const FIRST_PACKET_SILENT_WAITS = 2;

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

  /** Timeouts in a row so far (before this one's expire). */
  get timeouts(): number {
    return this.consecutive;
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
