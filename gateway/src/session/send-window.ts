/**
 * The accounting of a read session's send window: which blocks are in flight, how large the
 * window may be now, what the peer has proven, and how much it may still make us resend.
 * Pure, no clock: read-session.ts is the state machine that decides when to send, this file
 * decides how much (see "Sending and resending" and "Proven peers" there for the why).
 *
 *  - `inFlight` holds every sent-but-unacknowledged block, encoded, oldest first: entry i is
 *    the session's block `base + i`. At most `limitBlocks` are in flight.
 *  - The window grows from `slowStartBlocks` to `fullBlocks` = min(windowSize, maxWindowBytes /
 *    blockSize), at least 1 (RFC 7440 windows, bounded per session). With `ackIsEvidence` (a
 *    random per-session port) the first ACK opens it fully; without (single-port mode) it grows
 *    by one block per block acknowledged, as TCP's slow start does.
 *  - The peer is proven by its first acknowledged block (per-session port) or by a full window
 *    acknowledged (single-port). Proof grants a retransmit budget of min(one window, 64 KiB);
 *    afterwards each newly acknowledged byte earns 1/16 byte of budget, never above one window.
 *  - Loss-signal resends (an ACK inside the window, RFC 7440) happen once per window position
 *    and only to a proven peer; those and the resends of a timeout beyond the first `free`
 *    blocks are paid from the budget.
 */
import { Fifo } from './fifo.js';
import type { Datagram } from './types.js';

export interface Sent {
  datagram: Datagram;
  /** Payload bytes, what a resend costs the retransmit budget. */
  bytes: number;
}

export interface SendWindowConfig {
  readonly blockSize: number;
  readonly windowSize: number;
  /** Most payload bytes in flight; absent: no cap. */
  readonly maxWindowBytes?: number;
  /** Window (blocks) before the peer is proven; absent: the full window at once. */
  readonly slowStartBlocks?: number;
  /** An ACK could only come from a peer that reads our packets. Default true. */
  readonly ackIsEvidence?: boolean;
}

/** Newly acknowledged bytes earn 1/16 of themselves in retransmit budget. */
const BUDGET_EARN_DIVISOR = 16;
/**
 * The budget a peer starts with once proven: enough to repair a loss in the first window of a
 * typical PXE transfer (44 blocks of 1468), small beside a multi-megabyte file.
 */
const INITIAL_BUDGET_BYTES = 64 * 1024;

export class SendWindow {
  private readonly sent = new Fifo<Sent>();
  /** The largest window this session ever uses, in blocks. */
  readonly fullBlocks: number;
  private limit: number;
  private readonly ackIsEvidence: boolean;
  private acked = false;
  private ackedBlocks = 0;
  private acknowledgedBytes = 0;
  private proven = false;
  /** Bytes we may still resend beyond the free ones. */
  private budget = 0;
  /** The window position of the last fast resend: at most one per position. */
  private fastResendBase = 0;

  constructor(private readonly cfg: SendWindowConfig) {
    const byBytes = cfg.maxWindowBytes === undefined ? cfg.windowSize : Math.floor(cfg.maxWindowBytes / cfg.blockSize);
    this.fullBlocks = Math.max(1, Math.min(cfg.windowSize, byBytes));
    this.limit = cfg.slowStartBlocks === undefined ? this.fullBlocks : Math.max(1, Math.min(cfg.slowStartBlocks, this.fullBlocks));
    this.ackIsEvidence = cfg.ackIsEvidence ?? true;
  }

  /** The window now, in blocks: grows from slowStartBlocks to fullBlocks. */
  get limitBlocks(): number {
    return this.limit;
  }

  /** Blocks sent and not yet acknowledged. */
  get inFlight(): number {
    return this.sent.length;
  }

  /** The window has room for another new block. */
  get hasRoom(): boolean {
    return this.sent.length < this.limit;
  }

  /** The oldest unacknowledged block, if any. */
  get oldest(): Sent | undefined {
    return this.sent.at(0);
  }

  /** Any valid ACK arrived (ACK 0 included). */
  get peerAcked(): boolean {
    return this.acked;
  }

  /** The peer has shown that it receives our packets. */
  get peerProven(): boolean {
    return this.proven;
  }

  /** Payload bytes the peer has acknowledged. */
  get ackedBytes(): number {
    return this.acknowledgedBytes;
  }

  /** What the peer may still make us resend, in bytes (tests). */
  get budgetBytes(): number {
    return this.budget;
  }

  /** A new block went out. */
  push(datagram: Datagram, bytes: number): void {
    this.sent.push({ datagram, bytes });
  }

  /**
   * A valid ACK of `blocks` new blocks (0 for ACK 0 of an OACK): drops them from the window and
   * updates the window size, proof and budget.
   */
  acknowledge(blocks: number): void {
    let bytes = 0;
    for (let i = 0; i < blocks && this.sent.length > 0; i++) bytes += this.sent.shift()!.bytes;
    this.acked = true;
    this.ackedBlocks += blocks;
    this.acknowledgedBytes += bytes;
    const cap = this.fullBlocks * this.cfg.blockSize;
    if (this.ackIsEvidence) this.limit = this.fullBlocks;
    else this.limit = Math.min(this.fullBlocks, this.limit + blocks);
    if (this.proven) {
      this.budget = Math.min(cap, this.budget + bytes / BUDGET_EARN_DIVISOR);
    } else if (this.ackedBlocks >= (this.ackIsEvidence ? 1 : this.fullBlocks)) {
      this.proven = true;
      this.budget = Math.min(cap, INITIAL_BUDGET_BYTES);
    }
  }

  /**
   * An ACK moved the window to `base` and blocks remain in flight: true when they should be
   * resent now (RFC 7440 loss signal), once per position and only to a proven peer.
   */
  takeFastResend(base: number): boolean {
    if (this.sent.length === 0 || !this.proven || this.fastResendBase === base) return false;
    this.fastResendBase = base;
    return true;
  }

  /** The window to resend from the oldest block: the first `free` at no cost, the rest within the budget. */
  resend(free: number): Datagram[] {
    const out: Datagram[] = [];
    for (let i = 0; i < this.sent.length; i++) {
      const s = this.sent.at(i)!;
      if (i >= free) {
        if (this.budget < s.bytes) break;
        this.budget -= s.bytes;
      }
      out.push(s.datagram);
    }
    return out;
  }

  /** The session ended: release the blocks. */
  clear(): void {
    this.sent.clear();
  }
}
