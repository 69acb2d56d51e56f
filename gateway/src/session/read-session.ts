/**
 * Read session (RRQ): the server sends a file. Pure state machine, no I/O, no clock.
 *
 * States:
 *   oack     OACK sent, waiting for ACK 0 (RFC 2347). ERROR 8 here is a UEFI option probe.
 *   sending  DATA in flight; `window` holds every sent-but-unacknowledged block, encoded.
 *   done / failed
 *
 * Inputs: packets from the peer, timeouts, bytes from the source (`data`, `end`, `sourceError`).
 * Outputs: datagrams (pollTransmit), one deadline (pollTimeout), events (pollEvent).
 *
 * Invariants:
 *  - Block numbers are absolute internally and wrap 65535 -> 0 on the wire (rollover).
 *  - window[i] is block `base + i`; at most `windowSize` blocks are in flight (RFC 7440).
 *  - Only a timeout or an ACK that moves `base` forward causes a send: an ACK for `base - 1`
 *    (a duplicate) is counted and ignored, so the Sorcerer's Apprentice bug cannot happen.
 *  - An ACK for a block inside the window acknowledges up to it and starts the next window
 *    right after it, resending what the client missed (RFC 7440 section 4).
 *  - The last block is shorter than blockSize, possibly empty.
 *  - Bytes are asked for ahead (`needData`) so the source is read while the client ACKs, but
 *    no more than about one window plus a read-ahead is ever held: memory stays bounded.
 */
import { ErrorCode, type TftpError } from '../protocol/error-codes.js';
import { encodeDataHeader, encodeError, encodePacket, Opcode, type OptionMap } from '../protocol/packet.js';
import { RetransmitTimer } from './timers.js';
import { newCounters, type Datagram, type Outcome, type Session, type SessionCounters, type SessionEvent, type SessionInput, type SessionTimingConfig } from './types.js';

export interface ReadSessionConfig extends SessionTimingConfig {
  readonly blockSize: number;
  readonly windowSize: number;
  /** Options to acknowledge, or null to start sending DATA 1 at once. */
  readonly oack: OptionMap | null;
}

type State = 'oack' | 'sending' | 'done' | 'failed';

export class ReadSession implements Session {
  private state: State;
  private readonly timer: RetransmitTimer;
  private readonly out: Datagram[] = [];
  private readonly events: SessionEvent[] = [];
  readonly counters: SessionCounters = newCounters();

  // Source side: bytes received but not yet cut into blocks.
  private readonly pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private sourceEnded = false;
  private awaitingData = false;

  // Send side.
  private readonly window: Datagram[] = [];
  /** Absolute number of the oldest unacknowledged block. */
  private base = 1;
  /** Absolute number of the next block not yet built. */
  private nextBlock = 1;
  /** Absolute number of the final (short) block, once built. */
  private finalBlock: number | undefined;
  private readonly oackPacket: Uint8Array | undefined;

  constructor(private readonly cfg: ReadSessionConfig, now: number) {
    this.timer = new RetransmitTimer(cfg);
    if (cfg.oack) {
      this.state = 'oack';
      this.oackPacket = encodePacket({ op: Opcode.Oack, options: cfg.oack });
      this.send(this.oackPacket);
      this.timer.arm(now);
    } else {
      this.state = 'sending';
    }
    // Ask for the first window now, so it is ready by the time ACK 0 arrives.
    this.requestData();
  }

  get finished(): boolean {
    return this.state === 'done' || this.state === 'failed';
  }

  /** Absolute number of the last block acknowledged, for tests and stats. */
  get lastAcked(): number {
    return this.base - 1;
  }

  handle(input: SessionInput, now: number): void {
    if (this.finished) return;
    switch (input.type) {
      case 'packet':
        return this.onPacket(input.packet, now);
      case 'timeout':
        return this.onTimeout(now);
      case 'data':
        this.awaitingData = false;
        if (input.chunk.length > 0) {
          this.pending.push(input.chunk);
          this.pendingBytes += input.chunk.length;
        }
        return this.pump(now);
      case 'end':
        this.awaitingData = false;
        this.sourceEnded = true;
        return this.pump(now);
      case 'sourceError':
        return this.fail(now, input.error.code === 'TFTP_FUNCTION_FAILED' ? 'function-error' : 'upstream-error', input.error);
      case 'committed':
        this.counters.ignored++;
        return;
    }
  }

  pollTransmit(): Datagram | undefined {
    return this.out.shift();
  }

  pollTimeout(): number | undefined {
    return this.finished ? undefined : this.timer.deadline;
  }

  pollEvent(): SessionEvent | undefined {
    return this.events.shift();
  }

  private onPacket(p: import('../protocol/packet.js').Packet, now: number): void {
    if (p.op === Opcode.Error) {
      // RFC 2347: a client that dislikes our OACK answers ERROR 8. UEFI firmware does this on
      // purpose (probing tsize) and then retries without options: not a failure.
      const outcome: Outcome = this.state === 'oack' && p.code === ErrorCode.OptionRefused ? 'option-probe' : 'client-abort';
      this.finish('failed', outcome, p.code, p.message);
      return;
    }
    if (p.op !== Opcode.Ack) {
      this.counters.ignored++;
      return;
    }
    if (this.state === 'oack') {
      if (p.block !== 0) {
        this.counters.ignored++;
        return;
      }
      this.state = 'sending';
      this.timer.progress();
      this.timer.disarm();
      this.pump(now);
      return;
    }
    this.onAck(p.block, now);
  }

  private onAck(wireBlock: number, now: number): void {
    const inFlight = this.nextBlock - this.base;
    // Distance from the last acknowledged block, modulo the 16-bit wire number (rollover).
    const advance = (wireBlock - (this.base - 1)) & 0xffff;
    if (advance === 0) {
      // Duplicate ACK: never answered with data (Sorcerer's Apprentice, RFC 1123 4.2.3.1).
      this.counters.duplicates++;
      return;
    }
    if (advance > inFlight) {
      this.counters.ignored++;
      return;
    }
    this.window.splice(0, advance);
    this.base += advance;
    this.timer.progress();
    if (this.finalBlock !== undefined && this.base > this.finalBlock) {
      this.finish('done');
      return;
    }
    if (this.window.length > 0) {
      // RFC 7440: an ACK inside the window means the client missed the block after it; the
      // next window starts there, so resend what is still in flight.
      for (const pkt of this.window) {
        this.send(pkt);
        this.counters.retransmits++;
      }
    }
    this.timer.disarm();
    this.pump(now);
  }

  private onTimeout(now: number): void {
    if (this.timer.deadline === undefined || now < this.timer.deadline) return;
    if (!this.timer.expire(now)) {
      this.finish('failed', 'timeout');
      return;
    }
    if (this.state === 'oack' && this.oackPacket) {
      this.send(this.oackPacket);
      this.counters.retransmits++;
      return;
    }
    for (const pkt of this.window) {
      this.send(pkt);
      this.counters.retransmits++;
    }
  }

  /** Builds and sends new blocks while the window has room and bytes are available. */
  private pump(now: number): void {
    if (this.state !== 'sending') {
      this.requestData();
      return;
    }
    const { blockSize, windowSize } = this.cfg;
    let sent = false;
    while (this.window.length < windowSize && this.finalBlock === undefined) {
      if (this.pendingBytes < blockSize && !this.sourceEnded) break;
      const payload = this.take(Math.min(blockSize, this.pendingBytes));
      // Header and payload go out as one datagram in two parts: the payload is never copied.
      const pkt: Datagram = [encodeDataHeader(this.nextBlock & 0xffff), payload];
      if (payload.length < blockSize) this.finalBlock = this.nextBlock;
      this.nextBlock++;
      this.window.push(pkt);
      this.send(pkt);
      this.counters.blocks++;
      this.counters.bytes += payload.length;
      sent = true;
    }
    if ((sent || this.window.length > 0) && this.timer.deadline === undefined) this.timer.arm(now);
    this.requestData();
  }

  /**
   * Asks the driver for more bytes when less than a window is buffered. The request goes out
   * as soon as the buffer dips below one window, so the next window's bytes are read while the
   * client is still acknowledging this one; at most about two windows are ever held.
   */
  private requestData(): void {
    if (this.sourceEnded || this.awaitingData || this.finished) return;
    const window = this.cfg.windowSize * this.cfg.blockSize;
    if (this.pendingBytes >= window) return;
    this.awaitingData = true;
    this.events.push({ type: 'needData', minBytes: window });
  }

  /** Removes exactly n bytes from the pending queue, copying only when a block spans chunks. */
  private take(n: number): Uint8Array {
    this.pendingBytes -= n;
    const head = this.pending[0];
    if (head && head.length >= n) {
      if (head.length === n) this.pending.shift();
      else this.pending[0] = head.subarray(n);
      return head.subarray(0, n);
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.pending[0];
      const k = Math.min(chunk.length, n - filled);
      out.set(chunk.subarray(0, k), filled);
      filled += k;
      if (k === chunk.length) this.pending.shift();
      else this.pending[0] = chunk.subarray(k);
    }
    return out;
  }

  private fail(now: number, outcome: Outcome, error: TftpError): void {
    void now;
    this.send(encodeError(error.tftpCode, error.message));
    this.finish('failed', outcome, error.tftpCode, error.message);
  }

  private send(pkt: Datagram): void {
    this.out.push(pkt);
    this.counters.packetsSent++;
  }

  private finish(state: 'done' | 'failed', outcome?: Outcome, errorCode?: number, errorMessage?: string): void {
    this.state = state;
    this.timer.disarm();
    this.window.length = 0;
    this.pending.length = 0;
    if (state === 'done') this.events.push({ type: 'done' });
    else this.events.push({ type: 'failed', outcome: outcome ?? 'upstream-error', errorCode: errorCode as ErrorCode | undefined, errorMessage });
  }
}
