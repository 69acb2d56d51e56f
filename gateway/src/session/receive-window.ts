/**
 * The write session's receive-side accounting: which block comes next, where the current
 * window (RFC 7440) stands, whether a gap has been answered, and the sink's backpressure. Pure;
 * the write session decides what to send, this says where the transfer stands.
 *
 * Block numbers are absolute here (`expected` never wraps); the wire numbers it hands out are
 * modulo 65536 (rollover 65535 -> 0).
 *
 * Backpressure (maxUnwrittenBytes, issue 15): the driver reports each write the sink finished
 * (`written`); while more than the limit is received but unwritten, the ACK ending a window is
 * held (the session runs no timer and answers no retransmission) until the sink catches up.
 */

/** Where an arriving DATA block stands. */
export type Placement =
  /** The block expected next: in order. */
  | 'next'
  /** The last in-order block again: the peer did not get our ACK. */
  | 'repeat'
  /** Past a gap, the first such block since the last progress: ACK the last in-order block. */
  | 'gap'
  /** Nothing to answer: past an already answered gap, or any retransmission while the ACK is held. */
  | 'ignore';

export interface ReceiveWindowConfig {
  /** Blocks per window (RFC 7440): we ACK at the end of each. */
  readonly windowSize: number;
  /**
   * Backpressure (issue 15): when more DATA payload than this has been received and not yet
   * taken by the sink (`written`), the ACK that ends a window is held until the sink catches
   * up. Without an ACK neither a lock-step (RFC 1350) nor a windowed (RFC 7440) sender sends
   * more, so a slow store slows the client instead of filling our memory. Undefined: never held.
   */
  readonly maxUnwrittenBytes?: number;
}

export class ReceiveWindow {
  /** Absolute number of the next block expected. */
  private next = 1;
  /** In-order blocks since our last window ACK. */
  private sinceAck = 0;
  /** Set after we ACK a gap, so a burst of out-of-order blocks yields one ACK, not one each. */
  private gapAcked = false;
  /** DATA payload bytes the sink has taken (`written`); see maxUnwrittenBytes. */
  private writtenBytes = 0;
  /** A window's ACK is held until the sink catches up (no timer meanwhile: the peer waits for us). */
  private held = false;

  constructor(private readonly cfg: ReceiveWindowConfig) {}

  /** Absolute number of the next block expected (1 until DATA 1 has arrived). */
  get expected(): number {
    return this.next;
  }

  /** The wire number of the last block received in order: what every ACK names. */
  get ackBlock(): number {
    return (this.next - 1) & 0xffff;
  }

  /** The ACK ending a window waits for the sink. */
  get ackHeld(): boolean {
    return this.held;
  }

  /** Where a DATA block with this wire number stands; changes nothing. */
  place(block: number): Placement {
    if (block === (this.next & 0xffff)) return 'next';
    // The peer's retransmissions while we hold its ACK: answering them (even with an old
    // ACK, or a gap ACK) would let it go on; it hears from us when the sink has caught up.
    if (this.held) return 'ignore';
    if (block === this.ackBlock) return 'repeat';
    return this.gapAcked ? 'ignore' : 'gap';
  }

  /** We answered a gap (RFC 7440: ACK of the last in-order block); the sender resumes there. */
  gapAnswered(): void {
    this.gapAcked = true;
    this.sinceAck = 0;
  }

  /** The expected block arrived and was taken. */
  accept(): void {
    this.next++;
    this.gapAcked = false;
  }

  /**
   * Counts an in-order, full block toward the window. At the window's end: `ack` when its ACK
   * may go, `hold` when the sink is too far behind (`receivedBytes` minus what it has taken is
   * over the limit); mid-window: undefined.
   */
  endOfWindow(receivedBytes: number): 'ack' | 'hold' | undefined {
    if (++this.sinceAck < this.cfg.windowSize) return undefined;
    this.sinceAck = 0;
    if (!this.unwrittenOverLimit(receivedBytes)) return 'ack';
    this.held = true;
    return 'hold';
  }

  /** Nothing arrived for a whole timeout and we ACK again: a new window starts. */
  restart(): void {
    this.sinceAck = 0;
  }

  /** The sink took `bytes` more. */
  written(bytes: number): void {
    this.writtenBytes += bytes;
  }

  /** True, once, when a held ACK may go: what the sink has not taken fits under the limit again. */
  release(receivedBytes: number): boolean {
    if (!this.held || this.unwrittenOverLimit(receivedBytes)) return false;
    this.held = false;
    return true;
  }

  private unwrittenOverLimit(receivedBytes: number): boolean {
    const max = this.cfg.maxUnwrittenBytes;
    return max !== undefined && receivedBytes - this.writtenBytes > max;
  }
}
