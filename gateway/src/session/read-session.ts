/**
 * Read session (RRQ): the server sends a file. Pure state machine, no I/O, no clock.
 * (About 400 lines on purpose: a fifth is this theory of operation, the why of every send that
 * the reflection bounds depend on, kept beside the code; the accounting is send-window.ts and
 * the source buffer byte-queue.ts.)
 *
 * States:
 *   oack     OACK sent, waiting for ACK 0 (RFC 2347). ERROR 8 here is a UEFI option probe.
 *   sending  DATA in flight; `window` holds every sent-but-unacknowledged block, encoded.
 *   done / failed
 *
 * Inputs: packets from the peer, timeouts, bytes from the source (`data`, `end`, `sourceError`),
 * and `repeatRequest` (the peer sent its request again). Outputs: datagrams (pollTransmit), one
 * deadline (pollTimeout), events (pollEvent).
 *
 * Invariants:
 *  - Block numbers are absolute internally and wrap 65535 -> 0 on the wire (rollover).
 *  - window[i] is block `base + i`; at most `sendWindow` blocks are in flight, and never more
 *    than `maxWindowBytes` of payload (RFC 7440 windows, bounded per session).
 *  - The last block is shorter than blockSize, possibly empty.
 *
 * Sending and resending. TFTP is a UDP reflection vector: whatever a peer's datagram makes us
 * send, a spoofer can make us send to a victim. So every send is accounted for:
 *  - An ACK that moves `base` forward sends only blocks never sent before (the room it freed
 *    in the window). It never resends per ACK: a client ACKing every block gets each block once.
 *  - Already-sent blocks go again on a timeout (paced by our clock, bounded by the retry count:
 *    the whole window to a proven peer, the first unacknowledged block to an unproven one), or
 *    once per window position (`base`) on an ACK that signals loss: RFC 7440 receivers ACK
 *    early only on a gap, and the next window then starts right after the ACKed block.
 *  - Those loss-signal resends are triggered by the peer's own packets, so they come out of a
 *    retransmit budget: min(one window, 64 KiB) when the peer is proven, then earned at 1/16 of
 *    each newly acknowledged byte, never above one window. A peer that ACKs every block (each
 *    ACK is "inside the window") makes us send at most about 1 + 1/16 of the file plus 64 KiB.
 *    An RFC 7440 client on a lossy link whose budget has run out recovers on our timeout
 *    instead (one timeout per loss).
 *  - A duplicate ACK from a proven peer never causes a send (Sorcerer's Apprentice, RFC 1123
 *    4.2.3.1). From an unproven peer it gets the first unacknowledged block once more, since
 *    our timer resends little to such a peer: one datagram per datagram it sent.
 *
 * Proven peers. A peer is proven when we have evidence that it receives what we send, as
 * opposed to a spoofer who sends ACKs from a victim's address without seeing our packets.
 *  - Per-session port (`ackIsEvidence`): the session's port is chosen at random by the kernel,
 *    so an ACK that reaches it came from someone who read our first packet (a blind spoofer
 *    would have to guess among ~28,000 ephemeral ports). The first ACK (ACK 0 of the OACK, or
 *    ACK 1) opens the full window; the first acknowledged DATA block proves the peer.
 *  - Single-port mode: the port is the listening port and block numbers are predictable, so
 *    nothing in TFTP is secret and any ACK can be forged blind. The window opens as TCP's slow
 *    start does: `slowStartBlocks` at first, one more block per block acknowledged (doubling per
 *    round trip), up to the full window; the peer counts as proven once it has acknowledged a
 *    full window. A blind spoofer who follows that schedule still gets at most one window per
 *    forged ACK, which is why single-port mode caps window bytes lower (see docs/RELIABILITY.md).
 *    RFC 7440 clients ACK only at the end of their window, so with windowsize > slowStartBlocks
 *    each slow-start round waits for the client's own timeout: the price of single-port mode.
 *  - Before the first ACK our timer resends the first packet (OACK or DATA 1) at most
 *    `firstPacketRetries` times, and a repeated request (`repeatRequest`) gets it once more.
 *    After an ACK but before proof, each timeout resends the first unacknowledged block only,
 *    at most `unprovenRetries` times in a row: one forged ACK 0 cannot buy a window of
 *    retransmits, and a client that lost its final ACK still gets the last block again.
 *  - Read-ahead follows the send window: before the peer acknowledged anything we ask the
 *    source for `slowStartBlocks` blocks only, never a full window (memory for unproven peers).
 *
 * Progress: a ProgressGuard ends a session that moves too few bytes per interval, or lasts too
 * long, with ERROR 0 and outcome `too-slow` (time spent waiting on our own source excepted).
 *
 * Transitions (TRANSITIONS below, the one place they live; see transitions.ts):
 *
 *   input \ state   oack                        sending
 *   packet:ack      ACK 0 -> sending, else ign. onAck (advance, finish after the last block)
 *   packet:error    finish: option-probe (8) or client-abort   finish: client-abort
 *   packet:data/other  ignored                  ignored
 *   timeout         resend OACK or give up      resend (budgeted) or give up
 *   data / end      buffer (read-ahead)         buffer, send new blocks
 *   sourceError     ERROR to the peer, finish   ERROR to the peer, finish
 *   repeatRequest   OACK again (before an ACK)  DATA 1 again before an ACK, else duplicate
 *   committed       ignored                     ignored
 *
 * done / failed take no input. Every end goes through finish(): it settles the state, stops
 * the timer, releases the buffers and emits the one `done` or `failed` event.
 * The window's accounting (blocks in flight, window size, proof, retransmit budget) is
 * send-window.ts; this file decides when to send, that one how much.
 */
import { ErrorCode } from '../protocol/error-codes.js';
import { encodeDataHeader, encodeError, encodePacket, Opcode, type OptionMap } from '../protocol/packet.js';
import { ByteQueue } from './byte-queue.js';
import { Fifo } from './fifo.js';
import { outcomeFor } from './outcome.js';
import { PROGRESS_ERROR_TEXT, ProgressGuard } from './progress.js';
import { SendWindow } from './send-window.js';
import { FIRST_PACKET_SILENT_WAITS, RetransmitTimer } from './timers.js';
import { dispatch, type TransitionRow } from './transitions.js';
import { newCounters, type Datagram, type Outcome, type Session, type SessionCounters, type SessionEvent, type SessionInput, type SessionTimingConfig } from './types.js';

export interface ReadSessionConfig extends SessionTimingConfig {
  readonly blockSize: number;
  readonly windowSize: number;
  /** Options to acknowledge, or null to start sending DATA 1 at once. */
  readonly oack: OptionMap | null;
  /** Most payload bytes in flight: the window is min(windowSize, maxWindowBytes / blockSize), at least 1 block. Absent: no cap. */
  readonly maxWindowBytes?: number;
  /** Send window (blocks) before the peer is proven; absent: the full window at once. */
  readonly slowStartBlocks?: number;
  /** An ACK could only come from a peer that reads our packets (a random per-session port). Default true. */
  readonly ackIsEvidence?: boolean;
}

type LiveState = 'oack' | 'sending';
type State = LiveState | 'done' | 'failed';

export class ReadSession implements Session {
  /** The rows both live states share: only an ACK means something else before the OACK's ACK. */
  private static readonly COMMON: Omit<TransitionRow<ReadSession>, 'packet:ack'> = {
    'packet:error': (s, i) => s.onPeerError(i.packet.code, i.packet.message),
    'packet:data': 'ignored',
    'packet:other': 'ignored',
    timeout: (s, _i, now) => s.onTimeout(now),
    data: (s, i, now) => s.onData(i.chunk, now),
    end: (s, _i, now) => s.onEnd(now),
    sourceError: (s, i) => s.fail(outcomeFor(i.error), i.error.tftpCode, i.error.message),
    repeatRequest: (s) => s.onRepeatRequest(),
    committed: 'ignored',
    written: 'ignored',
  };

  /** State x input -> handler: every transition of a read session, in one place. */
  private static readonly TRANSITIONS: Readonly<Record<LiveState, TransitionRow<ReadSession>>> = {
    oack: { ...ReadSession.COMMON, 'packet:ack': (s, i, now) => s.onOackAck(i.packet.block, now) },
    sending: { ...ReadSession.COMMON, 'packet:ack': (s, i, now) => s.onAck(i.packet.block, now) },
  };

  private state: State;
  private readonly timer: RetransmitTimer;
  private readonly guard: ProgressGuard;
  private readonly out = new Fifo<Datagram>();
  private readonly events: SessionEvent[] = [];
  readonly counters: SessionCounters = newCounters();

  // Source side: bytes received but not yet cut into blocks.
  private readonly pending = new ByteQueue();
  private sourceEnded = false;
  private awaitingData = false;

  // Send side. Block k of the window is block `base + k`.
  private readonly window: SendWindow;
  /** Absolute number of the oldest unacknowledged block. */
  private base = 1;
  /** Absolute number of the next block not yet built. */
  private nextBlock = 1;
  /** Absolute number of the final (short) block, once built. */
  private finalBlock: number | undefined;
  private readonly oackPacket: Uint8Array | undefined;

  constructor(private readonly cfg: ReadSessionConfig, now: number) {
    this.timer = new RetransmitTimer(cfg);
    this.guard = new ProgressGuard(cfg, now);
    this.window = new SendWindow(cfg);
    if (cfg.oack) {
      this.state = 'oack';
      this.oackPacket = encodePacket({ op: Opcode.Oack, options: cfg.oack });
      this.send(this.oackPacket);
      this.timer.arm(now);
    } else {
      this.state = 'sending';
    }
    // Ask for the first (slow-start) window now, so it is ready by the time ACK 0 arrives.
    this.requestData();
    this.guard.waiting(now, this.state === 'sending');
  }

  get finished(): boolean {
    return this.state === 'done' || this.state === 'failed';
  }

  /**
   * The final (short) DATA block has been sent to a peer that acknowledged one of our packets,
   * or the session is over (see Session). Before any ACK, a repeat of the request may be a
   * retransmission (DATA 1 of a one-block file is also its last block): it gets DATA 1 again,
   * one answer per request datagram, which also serves a client that reused its port.
   */
  get lastBlockSent(): boolean {
    return (this.finalBlock !== undefined && this.window.peerAcked) || this.finished;
  }

  /** Absolute number of the last block acknowledged, for tests and stats. */
  get lastAcked(): number {
    return this.base - 1;
  }

  /** The send window now (blocks), for tests. */
  get windowBlocks(): number {
    return this.window.limitBlocks;
  }

  /** The peer has shown that it receives our packets, for tests. */
  get peerProven(): boolean {
    return this.window.peerProven;
  }

  handle(input: SessionInput, now: number): void {
    if (this.finished) return;
    dispatch(ReadSession.TRANSITIONS[this.state as LiveState], this, input, now);
    // Time with nothing in flight, waiting for the source, is not the peer's slowness.
    this.guard.waiting(now, this.state === 'sending' && this.window.inFlight === 0 && this.awaitingData);
  }

  pollTransmit(): Datagram | undefined {
    return this.out.shift();
  }

  pollTimeout(): number | undefined {
    if (this.finished) return undefined;
    const t = this.timer.deadline;
    const g = this.guard.deadline;
    if (t === undefined) return g;
    return g === undefined ? t : Math.min(t, g);
  }

  pollEvent(): SessionEvent | undefined {
    return this.events.shift();
  }

  private onData(chunk: Uint8Array, now: number): void {
    this.awaitingData = false;
    this.pending.push(chunk);
    this.pump(now);
  }

  private onEnd(now: number): void {
    this.awaitingData = false;
    this.sourceEnded = true;
    this.pump(now);
  }

  /**
   * The peer sent its request again: our first packet was lost (or it is impatient). Before any
   * ACK it gets the first packet once more, one reply per request; afterwards it is ignored.
   */
  private onRepeatRequest(): void {
    if (this.window.peerAcked) {
      this.counters.duplicates++;
      return;
    }
    const first = this.state === 'oack' ? this.oackPacket : this.window.oldest?.datagram;
    if (first === undefined) return; // DATA 1 goes out as soon as the source answers
    this.send(first);
    this.counters.retransmits++;
  }

  private onPeerError(code: number, message: string): void {
    // RFC 2347: a client that dislikes our OACK answers ERROR 8. UEFI firmware does this on
    // purpose (probing tsize) and then retries without options: not a failure.
    const outcome: Outcome = this.state === 'oack' && code === ErrorCode.OptionRefused ? 'option-probe' : 'client-abort';
    this.finish('failed', outcome, code, message);
  }

  /** RFC 2347: ACK 0 acknowledges the OACK; data transfer starts. */
  private onOackAck(block: number, now: number): void {
    if (block !== 0) {
      this.counters.ignored++;
      return;
    }
    this.state = 'sending';
    this.window.acknowledge(0);
    this.timer.progress();
    this.timer.disarm();
    this.pump(now);
  }

  private onAck(wireBlock: number, now: number): void {
    const inFlight = this.nextBlock - this.base;
    // Distance from the last acknowledged block, modulo the 16-bit wire number (rollover).
    const advance = (wireBlock - (this.base - 1)) & 0xffff;
    if (advance === 0) {
      this.counters.duplicates++;
      // Sorcerer's Apprentice (RFC 1123 4.2.3.1): a proven peer's duplicate ACK sends nothing.
      // An unproven peer gets few resends from our timer, so its repeated ACK is how it asks
      // for the block it missed: one block per datagram it sent.
      const oldest = this.window.oldest;
      if (!this.window.peerProven && this.window.peerAcked && oldest !== undefined) {
        this.send(oldest.datagram);
        this.counters.retransmits++;
      }
      return;
    }
    if (advance > inFlight) {
      this.counters.ignored++;
      return;
    }
    this.window.acknowledge(advance);
    this.base += advance;
    this.timer.progress();
    if (this.finalBlock !== undefined && this.base > this.finalBlock) {
      this.finish('done');
      return;
    }
    // RFC 7440: an ACK inside the window means the client missed the block after it and
    // restarts its window there. Resend once per position, within the budget; new blocks follow.
    if (this.window.takeFastResend(this.base)) this.resend(0);
    this.timer.disarm();
    this.pump(now);
  }

  /** Resends the window from `base`: the first `free` blocks at no cost, the rest within the budget. */
  private resend(free: number): void {
    for (const datagram of this.window.resend(free)) {
      this.send(datagram);
      this.counters.retransmits++;
    }
  }

  private onTimeout(now: number): void {
    const g = this.guard.deadline;
    if (g !== undefined && now >= g) {
      const verdict = this.guard.check(now, this.window.ackedBytes);
      if (verdict) {
        this.fail('too-slow', ErrorCode.NotDefined, PROGRESS_ERROR_TEXT[verdict]);
        return;
      }
    }
    if (this.timer.deadline === undefined || now < this.timer.deadline) return;
    const { maxRetries } = this.cfg;
    const firstResends = Math.min(maxRetries, this.cfg.firstPacketRetries);
    const limit = !this.window.peerAcked ? Math.min(maxRetries, firstResends + FIRST_PACKET_SILENT_WAITS)
      : !this.window.peerProven ? Math.min(maxRetries, this.cfg.unprovenRetries ?? maxRetries)
      : maxRetries;
    const resendsSoFar = this.timer.timeouts;
    if (!this.timer.expire(now, limit)) {
      this.finish('failed', 'timeout');
      return;
    }
    // Past the first packet's resend budget: listen on, send nothing (timers.ts).
    if (!this.window.peerAcked && resendsSoFar >= firstResends) return;
    if (this.state === 'oack' && this.oackPacket) {
      this.send(this.oackPacket);
      this.counters.retransmits++;
      return;
    }
    const oldest = this.window.oldest;
    if (oldest === undefined) return;
    // An unproven peer gets the first unacknowledged block only (a client that has the last
    // block and lost its final ACK waits for exactly that); a proven one the window, budgeted.
    if (this.window.peerProven) {
      // RFC 7440: the receiver discards blocks after a gap, so the whole window goes again.
      // Timeouts are paced by our clock and bounded by maxRetries, not by the peer's packets.
      this.resend(this.window.inFlight);
      return;
    }
    this.send(oldest.datagram);
    this.counters.retransmits++;
  }

  /** Builds and sends new blocks while the window has room and bytes are available. */
  private pump(now: number): void {
    if (this.state !== 'sending') {
      this.requestData();
      return;
    }
    const { blockSize } = this.cfg;
    let sent = false;
    while (this.window.hasRoom && this.finalBlock === undefined) {
      if (this.pending.bytes < blockSize && !this.sourceEnded) break;
      const payload = this.pending.take(Math.min(blockSize, this.pending.bytes));
      // Header and payload go out as one datagram in two parts: the payload is never copied.
      const datagram: Datagram = [encodeDataHeader(this.nextBlock & 0xffff), payload];
      if (payload.length < blockSize) this.finalBlock = this.nextBlock;
      this.nextBlock++;
      this.window.push(datagram, payload.length);
      this.send(datagram);
      this.counters.blocks++;
      this.counters.bytes += payload.length;
      sent = true;
    }
    if ((sent || this.window.inFlight > 0) && this.timer.deadline === undefined) this.timer.arm(now);
    this.requestData();
  }

  /**
   * Asks the driver for more bytes when less than the send window is buffered. The request goes
   * out as soon as the buffer dips below one window, so the next window's bytes are read while
   * the client is still acknowledging this one; at most about two windows are ever held. The
   * window is the slow-start one until the peer has acknowledged something: no read-ahead of a
   * full window for a request that may be spoofed.
   */
  private requestData(): void {
    if (this.sourceEnded || this.awaitingData || this.finished) return;
    const window = this.window.limitBlocks * this.cfg.blockSize;
    if (this.pending.bytes >= window) return;
    this.awaitingData = true;
    // Acknowledged blocks have left the window and `pending` holds only unsent bytes, so every
    // source byte before ackedBytes is ours no more: its buffer may be reused (sources/types.ts).
    this.events.push({ type: 'needData', minBytes: window, releasedBytes: this.window.ackedBytes });
  }

  /** Ends the session with ERROR to the peer (a failure on our side). */
  private fail(outcome: Outcome, code: number, message: string): void {
    this.send(encodeError(code, message));
    this.finish('failed', outcome, code, message);
  }

  private send(pkt: Datagram): void {
    this.out.push(pkt);
    this.counters.packetsSent++;
  }

  /** Every end of a read session: the final state, no timer, no buffers, one event. */
  private finish(state: 'done' | 'failed', outcome?: Outcome, errorCode?: number, errorMessage?: string): void {
    this.state = state;
    this.timer.disarm();
    this.window.clear();
    this.pending.clear();
    if (state === 'done') this.events.push({ type: 'done' });
    else this.events.push({ type: 'failed', outcome: outcome ?? 'upstream-error', errorCode: errorCode as ErrorCode | undefined, errorMessage });
  }
}
