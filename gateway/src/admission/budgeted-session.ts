/**
 * A session whose buffer reservation follows its window (issue 9 §2).
 *
 * A read session holds about two windows of blocks (one in flight, one read ahead), but its
 * window starts small: before the peer has acknowledged anything it is `slowStartBlocks`
 * (read-session.ts). Reserving the negotiated worst case at once let a blind flood of ~512
 * spoofed RRQs fill the default budget with sessions that hold almost nothing. So a session
 * reserves what its window holds now, and more when the window opens (the first ACK on a
 * per-session port); if the budget cannot cover the larger window, the session ends at that
 * moment with ERROR 0 "server busy, try again later" (outcome `busy`) instead of sending it:
 * no DATA of the larger window goes out, and nothing more is read ahead.
 *
 * Pure: wraps a Session, reserves through a callback, reads no clock.
 */
import { ErrorCode, TftpError } from '../protocol/error-codes.js';
import { datagramBytes, type Datagram, type Session, type SessionCounters, type SessionEvent, type SessionInput } from '../session/types.js';
import { sessionBufferBytes } from './buffer-budget.js';

/** The window in blocks right now; read sessions have it, write sessions do not. */
type Windowed = Session & { readonly windowBlocks?: number };

export const BUSY_MESSAGE = 'server busy, try again later';

export interface BudgetedSessionOptions {
  blockSize: number;
  /** The source's size when known (a session never holds more than its file). */
  sourceBytes: number | undefined;
  /** Bytes already reserved for this session. */
  reservedBytes: number;
  /** Reserves `bytes` more; false when the budget cannot. */
  reserve(bytes: number): boolean;
}

export class BudgetedSession implements Session {
  private reserved: number;
  private refused = false;
  /** Events drained while refusing that are not read-ahead, handed out first. */
  private pending: SessionEvent[] = [];

  constructor(private readonly inner: Windowed, private readonly opts: BudgetedSessionOptions) {
    this.reserved = opts.reservedBytes;
  }

  /** What the window needs now: two windows of blocks, at most the source. */
  static bytesFor(blockSize: number, windowBlocks: number, sourceBytes: number | undefined): number {
    return sessionBufferBytes({ blockSize, windowSize: windowBlocks, sourceBytes });
  }

  get reservedBytes(): number {
    return this.reserved;
  }

  get finished(): boolean {
    return this.inner.finished;
  }

  get counters(): Readonly<SessionCounters> {
    return this.inner.counters;
  }

  handle(input: SessionInput, now: number): void {
    this.inner.handle(input, now);
    this.followWindow(now);
  }

  pollTransmit(): Datagram | undefined {
    return this.inner.pollTransmit();
  }

  pollTimeout(): number | undefined {
    return this.inner.pollTimeout();
  }

  pollEvent(): SessionEvent | undefined {
    const ev = this.pending.shift() ?? this.inner.pollEvent();
    // The inner session saw a source error; the record says why: no room.
    if (ev?.type === 'failed' && this.refused) return { ...ev, outcome: 'busy' };
    return ev;
  }

  private followWindow(now: number): void {
    if (this.refused || this.inner.finished || this.inner.windowBlocks === undefined) return;
    const want = BudgetedSession.bytesFor(this.opts.blockSize, this.inner.windowBlocks, this.opts.sourceBytes);
    if (want <= this.reserved) return;
    if (this.opts.reserve(want - this.reserved)) {
      this.reserved = want;
      return;
    }
    this.refused = true;
    // What the wider window queued has not been sent yet: drop it, and the read-ahead with it,
    // and take it off the session's counts (the record must say what went on the wire).
    const counts = this.inner.counters as SessionCounters;
    let d: Datagram | undefined;
    while ((d = this.inner.pollTransmit()) !== undefined) {
      counts.packetsSent--;
      const bytes = datagramBytes(d);
      if (bytes.length >= 4 && bytes[0] === 0 && bytes[1] === 3) {
        counts.blocks--;
        counts.bytes -= bytes.length - 4;
      }
    }
    const kept: SessionEvent[] = [];
    let ev: SessionEvent | undefined;
    while ((ev = this.inner.pollEvent()) !== undefined) if (ev.type !== 'needData') kept.push(ev);
    this.pending = kept;
    this.inner.handle({ type: 'sourceError', error: new TftpError(ErrorCode.NotDefined, BUSY_MESSAGE) }, now);
  }
}
