/**
 * Write session (WRQ): the server receives a file. Pure state machine, no I/O, no clock.
 * (About 320 lines on purpose: a quarter is this theory of operation and the transition table,
 * the one place every transition lives, kept beside the handlers they name; the receive-side
 * accounting is already its own file, receive-window.ts.)
 *
 * States:
 *   receiving  ACK 0 or OACK sent; DATA expected. Every in-order block is handed to the driver
 *              (`writeData`). With windowsize > 1 (RFC 7440) we ACK at the end of each window,
 *              on the final block, and on the first gap (ACK of the last in-order block).
 *   committing the final short block arrived; waiting for the driver to commit (`committed`)
 *              before the final ACK, so a failed commit can still be reported with ERROR.
 *   dallying   final ACK sent; we linger one timeout to re-ACK a retransmitted final block
 *              (RFC 1350: the final ACK may be lost).
 *   done / failed
 *
 * Invariants: block numbers are absolute internally and wrap on the wire; a duplicate DATA is
 * answered with the last ACK again (never with anything else); a block longer than blksize is
 * an illegal operation.
 *
 * Unproven peers: before the first DATA our timer resends the OACK / ACK 0 at most
 * `firstPacketRetries` times, and a repeated WRQ (`repeatRequest`) gets it once more: one reply
 * per request datagram. A ProgressGuard ends an upload that moves too few bytes per interval,
 * or lasts too long, with ERROR 0 and outcome `too-slow`.
 *
 * Backpressure (maxUnwrittenBytes): the driver reports each write the sink finished
 * (`written`); while more than the limit is received but unwritten, the ACK ending a window is
 * held (no timer, retransmissions unanswered) until the sink catches up. That accounting (next
 * block, window position, gap, backpressure) is receive-window.ts; this file decides what to
 * send, that one where the transfer stands.
 *
 * Transitions (TRANSITIONS below, the one place they live; see transitions.ts):
 *
 *   input \ state   receiving                  committing             dallying
 *   packet:data     onData (store, ACK, gap)   old block: ACK again   old block: ACK again
 *   packet:error    finish: option-probe/abort finish: client-abort   finish: done
 *   packet:ack/other ignored                   ignored                ignored
 *   timeout         re-ACK or give up          (no timer)             finish: done
 *   committed       noop                       final ACK -> dallying  noop
 *   written         count; a held ACK goes     count                  noop
 *                   once under the limit
 *   sourceError     ERROR to the peer, finish  ERROR, finish          ERROR, finish
 *   repeatRequest   first reply again (once    duplicate              duplicate
 *                   per WRQ, before DATA 1)
 *   data / end      ignored                    ignored                ignored
 *
 * done / failed take no input. Every end goes through finish(). The outcome is reported once:
 * `done` when the commit succeeds (the upload is stored; dallying only re-ACKs), or `failed`.
 */
import { ErrorCode, type TftpError } from '../protocol/error-codes.js';
import { encodeAck, encodeError, encodePacket, Opcode, type DataPacket, type OptionMap } from '../protocol/packet.js';
import { Fifo } from './fifo.js';
import { PROGRESS_ERROR_TEXT, ProgressGuard } from './progress.js';
import { outcomeFor } from './outcome.js';
import { ReceiveWindow, type ReceiveWindowConfig } from './receive-window.js';
import { FIRST_PACKET_SILENT_WAITS, RetransmitTimer } from './timers.js';
import { dispatch, type TransitionRow } from './transitions.js';
import { newCounters, type Datagram, type Outcome, type Session, type SessionCounters, type SessionEvent, type SessionInput, type SessionTimingConfig } from './types.js';

/** windowSize and maxUnwrittenBytes (backpressure) are the receive window's: receive-window.ts. */
export interface WriteSessionConfig extends SessionTimingConfig, ReceiveWindowConfig {
  readonly blockSize: number;
  readonly oack: OptionMap | null;
  /** Largest upload accepted, in bytes; beyond it ERROR 3. */
  readonly maxBytes: number;
}

type LiveState = 'receiving' | 'committing' | 'dallying';
type State = LiveState | 'done' | 'failed';

export class WriteSession implements Session {
  /** The rows all three live states share: they differ only in DATA, ERROR, committed, written. */
  private static readonly COMMON: Omit<TransitionRow<WriteSession>, 'packet:data' | 'packet:error' | 'committed' | 'written'> = {
    'packet:ack': 'ignored',
    'packet:other': 'ignored',
    timeout: (s, _i, now) => s.onTimeout(now),
    sourceError: (s, i) => s.onSourceError(i.error),
    repeatRequest: (s) => s.onRepeatRequest(),
    data: 'ignored',
    end: 'ignored',
  };

  /** State x input -> handler: every transition of a write session, in one place. */
  private static readonly TRANSITIONS: Readonly<Record<LiveState, TransitionRow<WriteSession>>> = {
    receiving: {
      ...WriteSession.COMMON,
      'packet:data': (s, i, now) => s.onData(i.packet, now),
      'packet:error': (s, i) => s.onPeerError(i.packet.code, i.packet.message),
      committed: 'noop',
      written: (s, i, now) => s.onWritten(i.bytes, now),
    },
    committing: {
      ...WriteSession.COMMON,
      'packet:data': (s, i) => s.onDataAfterEnd(i.packet),
      'packet:error': (s, i) => s.onPeerError(i.packet.code, i.packet.message),
      committed: (s, _i, now) => s.onCommitted(now),
      // Counted only: the final ACK waits for the commit, which waits for every write.
      written: (s, i) => s.window.written(i.bytes),
    },
    dallying: {
      ...WriteSession.COMMON,
      'packet:data': (s, i) => s.onDataAfterEnd(i.packet),
      // The peer gave up after our final ACK: the upload is stored, nothing more to do.
      'packet:error': (s) => s.finish('done'),
      committed: 'noop',
      written: 'noop',
    },
  };

  private state: State = 'receiving';
  private readonly timer: RetransmitTimer;
  private readonly guard: ProgressGuard;
  private readonly out = new Fifo<Uint8Array>();
  private readonly events: SessionEvent[] = [];
  readonly counters: SessionCounters = newCounters();

  private readonly window: ReceiveWindow;
  /** What we last sent (OACK, ACK 0 or an ACK), resent on timeout or duplicate. */
  private lastReply: Uint8Array;
  private readonly oackPacket: Uint8Array | undefined;
  /** The outcome (`done` or `failed`) has been reported; it is reported once. */
  private reported = false;

  constructor(private readonly cfg: WriteSessionConfig, now: number) {
    this.timer = new RetransmitTimer(cfg);
    this.guard = new ProgressGuard(cfg, now);
    this.window = new ReceiveWindow(cfg);
    this.oackPacket = cfg.oack ? encodePacket({ op: Opcode.Oack, options: cfg.oack }) : undefined;
    this.lastReply = this.oackPacket ?? encodeAck(0);
    this.send(this.lastReply);
    this.timer.arm(now);
  }

  get finished(): boolean {
    return this.state === 'done' || this.state === 'failed';
  }

  /** The final ACK has been sent (we dally for its loss), or the session is over (see Session). */
  get lastBlockSent(): boolean {
    return this.state === 'dallying' || this.finished;
  }

  handle(input: SessionInput, now: number): void {
    if (this.finished) return;
    dispatch(WriteSession.TRANSITIONS[this.state as LiveState], this, input, now);
  }

  pollTransmit(): Datagram | undefined {
    return this.out.shift();
  }

  pollTimeout(): number | undefined {
    if (this.finished || this.state === 'committing') return undefined;
    const t = this.timer.deadline;
    // The progress rules apply while the peer owes us DATA, not while we dally after the end.
    const g = this.state === 'receiving' ? this.guard.deadline : undefined;
    if (t === undefined) return g;
    return g === undefined ? t : Math.min(t, g);
  }

  pollEvent(): SessionEvent | undefined {
    return this.events.shift();
  }

  /** The driver stored the upload: the final ACK goes out, and we dally for its loss. */
  private onCommitted(now: number): void {
    this.reply(encodeAck(this.window.ackBlock));
    this.state = 'dallying';
    this.report({ type: 'done' });
    this.timer.arm(now);
  }

  private onSourceError(error: TftpError): void {
    // A function reading the upload itself (accepted()) that throws or hangs is function-error.
    this.fail(error.tftpCode === ErrorCode.DiskFull ? 'disk-full' : outcomeFor(error), error);
  }

  /** The WRQ again before any DATA: our OACK / ACK 0 was lost. One reply per request. */
  private onRepeatRequest(): void {
    if (this.state === 'receiving' && this.window.expected === 1) {
      this.send(this.lastReply);
      this.counters.retransmits++;
    } else {
      this.counters.duplicates++;
    }
  }

  private onPeerError(code: number, message: string): void {
    const outcome: Outcome = code === ErrorCode.OptionRefused && this.window.expected === 1 ? 'option-probe' : 'client-abort';
    this.finish('failed', { type: 'failed', outcome, errorCode: code as ErrorCode, errorMessage: message });
  }

  /** DATA after the final block: an old block means our ACK was lost; anything else is ignored. */
  private onDataAfterEnd(p: DataPacket): void {
    if (this.window.place(p.block) === 'next') {
      this.counters.ignored++;
      return;
    }
    this.counters.duplicates++;
    this.resend();
  }

  private onData(p: DataPacket, now: number): void {
    switch (this.window.place(p.block)) {
      case 'repeat':
        // The peer did not get our ACK: repeat it (only a DATA triggers this, so no storm).
        this.counters.duplicates++;
        this.resend();
        return;
      case 'gap':
        // RFC 7440: on a gap, ACK the last block received in order; the sender resumes there.
        this.window.gapAnswered();
        this.reply(encodeAck(this.window.ackBlock));
        this.timer.arm(now);
        return;
      case 'ignore':
        this.counters.ignored++;
        return;
    }
    if (p.data.length > this.cfg.blockSize) {
      return this.fail('illegal-operation', { tftpCode: ErrorCode.IllegalOperation, message: 'block larger than blksize' } as TftpError);
    }
    if (this.counters.bytes + p.data.length > this.cfg.maxBytes) {
      return this.fail('disk-full', { tftpCode: ErrorCode.DiskFull, message: 'upload too large' } as TftpError);
    }
    this.window.accept();
    this.counters.blocks++;
    this.counters.bytes += p.data.length;
    this.timer.progress();
    if (p.data.length > 0) this.events.push({ type: 'writeData', chunk: p.data });
    if (p.data.length < this.cfg.blockSize) {
      this.state = 'committing';
      this.timer.disarm();
      this.events.push({ type: 'writeEnd' });
      return;
    }
    const windowEnd = this.window.endOfWindow(this.counters.bytes);
    if (windowEnd === 'hold') {
      this.timer.disarm();
      return;
    }
    if (windowEnd === 'ack') this.reply(encodeAck(this.window.ackBlock));
    if (!this.window.ackHeld) this.timer.arm(now);
  }

  /** The sink took more bytes: a held ACK goes out once what it has not taken fits again. */
  private onWritten(bytes: number, now: number): void {
    this.window.written(bytes);
    if (!this.window.release(this.counters.bytes)) return;
    this.reply(encodeAck(this.window.ackBlock));
    this.timer.arm(now);
  }

  private onTimeout(now: number): void {
    const g = this.guard.deadline;
    if (this.state === 'receiving' && g !== undefined && now >= g) {
      const verdict = this.guard.check(now, this.counters.bytes);
      if (verdict) {
        return this.fail('too-slow', { tftpCode: ErrorCode.NotDefined, message: PROGRESS_ERROR_TEXT[verdict] });
      }
    }
    if (this.timer.deadline === undefined || now < this.timer.deadline) return;
    if (this.state === 'dallying') {
      this.finish('done');
      return;
    }
    const firstResends = Math.min(this.cfg.maxRetries, this.cfg.firstPacketRetries);
    const limit = this.window.expected > 1 ? this.cfg.maxRetries : Math.min(this.cfg.maxRetries, firstResends + FIRST_PACKET_SILENT_WAITS);
    const resendsSoFar = this.timer.timeouts;
    if (!this.timer.expire(now, limit)) {
      this.finish('failed', { type: 'failed', outcome: 'timeout' });
      return;
    }
    // Past the first packet's resend budget: listen on, send nothing (timers.ts).
    if (this.window.expected === 1 && resendsSoFar >= firstResends) return;
    // Nothing arrived for a whole timeout: tell the sender where we are.
    this.window.restart();
    this.reply(encodeAck(this.window.ackBlock), this.window.expected === 1 ? this.lastReply : undefined);
    this.counters.retransmits++;
  }

  private reply(pkt: Uint8Array, override?: Uint8Array): void {
    this.lastReply = override ?? pkt;
    this.send(this.lastReply);
  }

  private resend(): void {
    if (this.lastReply === this.oackPacket && this.window.expected > 1) {
      // RFC 2347: the OACK answers the WRQ only, and DATA 1 has acknowledged it. Within the
      // first window answer with an ACK; while committing the only right ACK is the final one,
      // which waits for the commit, so say nothing.
      if (this.state !== 'receiving') return;
      this.lastReply = encodeAck(this.window.ackBlock);
    }
    this.send(this.lastReply);
    this.counters.retransmits++;
  }

  /** Ends the session with ERROR to the peer (a failure on our side). */
  private fail(outcome: Outcome, error: Pick<TftpError, 'tftpCode' | 'message'>): void {
    this.send(encodeError(error.tftpCode, error.message));
    this.finish('failed', { type: 'failed', outcome, errorCode: error.tftpCode, errorMessage: error.message });
  }

  private send(pkt: Uint8Array): void {
    this.out.push(pkt);
    this.counters.packetsSent++;
  }

  /** Every end of a write session: the final state, no timer, and the outcome unless already reported. */
  private finish(state: 'done' | 'failed', failure?: Extract<SessionEvent, { type: 'failed' }>): void {
    this.state = state;
    this.timer.disarm();
    if (failure) this.report(failure);
  }

  /** Reports the outcome; only the first report counts (a commit settles it before dallying). */
  private report(event: Extract<SessionEvent, { type: 'done' | 'failed' }>): void {
    if (this.reported) return;
    this.reported = true;
    this.events.push(event);
  }
}
