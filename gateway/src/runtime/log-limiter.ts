/**
 * Bounds what a function may write to the gateway's log: at most `linesPerInvocation` lines and
 * `bytesPerInvocation` bytes per invocation, and a per-function bucket of `linesPerSecond`
 * (burst: one second's worth) shared by all its invocations and its console output.
 * Past a bound, lines are counted instead of logged, and the count is reported once, as
 * "log lines dropped: K", when the invocation ends (or, for lines outside any invocation, with
 * the next line let through).
 *
 * Pure: the caller passes `nowMs`, so tests use a fake clock.
 */

export interface LogLimits {
  readonly linesPerInvocation: number;
  readonly bytesPerInvocation: number;
  readonly linesPerSecond: number;
}

interface Budget {
  lines: number;
  bytes: number;
  dropped: number;
}

export class LogLimiter {
  private tokens: number;
  private refilledAt: number | undefined;
  private readonly invocations = new Map<number, Budget>();
  /** Lines dropped outside any invocation (console output, module-level logging). */
  private strayDropped = 0;

  constructor(private readonly limits: LogLimits) {
    this.tokens = limits.linesPerSecond;
  }

  /**
   * Whether a line of `bytes` bytes from invocation `id` (undefined: none) may be logged now.
   * A refused line is counted against the invocation's drop report.
   */
  admit(id: number | undefined, bytes: number, nowMs: number): boolean {
    this.refill(nowMs);
    const budget = id === undefined ? undefined : this.budget(id);
    const withinInvocation = !budget || (budget.lines < this.limits.linesPerInvocation && budget.bytes + bytes <= this.limits.bytesPerInvocation);
    if (!withinInvocation || this.tokens < 1) {
      if (budget) budget.dropped++;
      else this.strayDropped++;
      return false;
    }
    this.tokens--;
    if (budget) {
      budget.lines++;
      budget.bytes += bytes;
    }
    return true;
  }

  /** Adds lines the worker itself already dropped (it limits too, to spare the channel). */
  droppedByWorker(id: number | undefined, lines: number): void {
    if (id === undefined) this.strayDropped += lines;
    else this.budget(id).dropped += lines;
  }

  /** Ends an invocation's budget; returns how many of its lines were dropped. */
  finish(id: number): number {
    const b = this.invocations.get(id);
    this.invocations.delete(id);
    return b?.dropped ?? 0;
  }

  /** Lines dropped outside invocations since the last call; resets the count. */
  takeStrayDropped(): number {
    const n = this.strayDropped;
    this.strayDropped = 0;
    return n;
  }

  private budget(id: number): Budget {
    let b = this.invocations.get(id);
    if (!b) {
      b = { lines: 0, bytes: 0, dropped: 0 };
      this.invocations.set(id, b);
    }
    return b;
  }

  private refill(nowMs: number): void {
    if (this.refilledAt === undefined) {
      this.refilledAt = nowMs;
      return;
    }
    const elapsed = nowMs - this.refilledAt;
    if (elapsed <= 0) return;
    this.tokens = Math.min(this.limits.linesPerSecond, this.tokens + (elapsed * this.limits.linesPerSecond) / 1000);
    this.refilledAt = nowMs;
  }
}
