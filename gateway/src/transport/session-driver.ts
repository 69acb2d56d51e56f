/**
 * Drives one pure session: feeds it datagrams, timeouts and source bytes; sends what it
 * polls out; keeps exactly one timer. All I/O of a session lives here and nowhere else.
 *
 * The timer is lazy (as undici's fast timers and quinn's timer table): re-arming to a later
 * deadline does not touch the timer; when it fires early it re-arms for the remainder. That
 * keeps setTimeout/clearTimeout off the per-ACK hot path.
 */
import { performance } from 'node:perf_hooks';
import { ErrorCode, TftpError } from '../protocol/error-codes.js';
import { toTftpError } from '../errors/to-tftp-error.js';
import { decodePacket } from '../protocol/packet.js';
import { NetasciiDecoder, NetasciiEncoder } from '../protocol/netascii.js';
import type { Datagram, Outcome, Session, SessionEvent, SessionInput } from '../session/types.js';
import { sendPolled } from './send-polled.js';
import type { ByteReader, ByteWriter } from '../sources/types.js';
import { anySendQueued } from './batch-send/queued-sends.js';

export interface SessionEnd {
  outcome: Outcome;
  errorCode?: number;
  errorMessage?: string;
  /** The underlying failure, for logs only. */
  cause?: unknown;
}

export interface DriverIo {
  send(datagram: Datagram): void;
  /**
   * Everything the session polled out in one drain, in order (a DATA window, or one packet).
   * When given, it replaces `send` so the transport can batch a window (UDP GSO,
   * transport/batch-send); the session decided what goes, this only decides how. Read buffers
   * are reused only with it: the window sender reports sends left queued in libuv
   * (batch-send/queued-sends.ts), which `send` cannot. It must not keep `datagrams` after it
   * returns: the driver reuses the array of a one-datagram window.
   */
  sendWindow?(datagrams: readonly Datagram[]): void;
  reader?: ByteReader;
  writer?: ByteWriter;
  netascii: boolean;
  /** Called once, when the session's outcome is known. */
  onEnd(end: SessionEnd): void;
  /** Called once, when the session needs nothing more (after dallying, for uploads). */
  onClose(): void;
}

// The one error map (errors/to-tftp-error.ts): the same text before and after the first block.
const asTftpError: (e: unknown) => TftpError = toTftpError;

const END_OF_SOURCE: SessionInput = { type: 'end' };
const SETTLED: Promise<void> = Promise.resolve();

export class SessionDriver {
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private wantAt: number | undefined;
  private ended = false;
  private closed = false;
  // Uploads only; one settled promise shared by every driver until its first write.
  private writeChain: Promise<void> = SETTLED;
  private readonly encoder: NetasciiEncoder | undefined;
  private readonly decoder: NetasciiDecoder | undefined;
  private lastCause: unknown;
  /** What an in-memory reader returned during the current drain, for drain to hand in next. */
  private readyInput: SessionInput | undefined;

  constructor(private readonly session: Session, private readonly io: DriverIo) {
    if (io.netascii) {
      if (io.reader) this.encoder = new NetasciiEncoder();
      if (io.writer) this.decoder = new NetasciiDecoder();
    }
  }

  /** Sends whatever the new session already queued (its OACK, ACK 0 or first DATA). */
  start(): void {
    this.drain();
  }

  /** A datagram from the session's peer. Undecodable ones are ignored (UDP may corrupt). */
  onDatagram(msg: Buffer): boolean {
    if (this.closed) return false;
    let packet;
    try {
      packet = decodePacket(msg);
    } catch {
      return false;
    }
    this.session.handle({ type: 'packet', packet }, performance.now());
    this.drain();
    return true;
  }

  /** The peer sent the same request again (same bytes, address and port): see 'repeatRequest'. */
  repeatRequest(): void {
    this.feed({ type: 'repeatRequest' });
  }

  /** Ends the session from outside without a word to the peer (it has moved on). */
  cancel(outcome: Outcome): void {
    if (this.closed) return;
    this.end({ outcome });
    this.close();
  }

  /** Ends the session from outside (shutdown): ERROR to the peer, then close. */
  abort(code: number, message: string, outcome: Outcome): void {
    if (this.closed) return;
    this.session.handle({ type: 'sourceError', error: new TftpError(code as ErrorCode, message) }, performance.now());
    this.drainSends();
    this.end({ outcome, errorCode: code, errorMessage: message, cause: this.lastCause });
    this.close();
  }

  private drain(): void {
    for (;;) {
      this.drainSends();
      let ev: SessionEvent | undefined;
      while ((ev = this.session.pollEvent()) !== undefined) this.onEvent(ev);
      // Bytes an in-memory reader gave at once (fetch): handled here, in this loop, rather than
      // from inside onEvent, so the session is never re-entered while its events are drained.
      const input = this.readyInput;
      if (input === undefined) break;
      this.readyInput = undefined;
      this.session.handle(input, performance.now());
    }
    if (this.session.finished) {
      this.close();
      return;
    }
    this.arm(this.session.pollTimeout());
  }

  private drainSends(): void {
    sendPolled(this.session, this.io);
  }

  private onEvent(ev: SessionEvent): void {
    switch (ev.type) {
      case 'needData':
        return this.fetch(ev.minBytes, ev.releasedBytes);
      case 'writeData': {
        const chunk = this.decoder ? this.decoder.decode(ev.chunk) : ev.chunk;
        // DATA payloads alias the datagram buffer; Node allocates one per message, so keeping
        // the view until the write completes is safe.
        const writer = this.io.writer!;
        this.writeChain = this.writeChain.then(() => writer.write(chunk));
        // The session may hold a window's ACK until the sink has taken the bytes (backpressure):
        // counted in wire bytes, as the session counts them (netascii changes the length).
        const bytes = ev.chunk.length;
        this.writeChain.then(
          () => this.feed({ type: 'written', bytes }),
          (e) => this.feedError(e),
        );
        return;
      }
      case 'writeEnd': {
        const writer = this.io.writer!;
        const tail = this.decoder?.flush();
        this.writeChain
          .then(async () => {
            if (tail && tail.length > 0) await writer.write(tail);
            await writer.commit();
          })
          .then(
            () => this.feed({ type: 'committed' }),
            (e) => this.feedError(e),
          );
        return;
      }
      case 'done':
        return this.end({ outcome: 'ok' });
      case 'failed':
        return this.end({ outcome: ev.outcome, errorCode: ev.errorCode, errorMessage: ev.errorMessage, cause: this.lastCause });
    }
  }

  private fetch(minBytes: number, releasedBytes: number | undefined): void {
    const reader = this.io.reader!;
    if (releasedBytes !== undefined && this.canRelease()) reader.release?.(releasedBytes);
    if (reader.readNow !== undefined) {
      // Bytes already in memory (a cached file, generated content): no promise, no microtask.
      // The session asks again only after it has this input (it awaits one read at a time).
      const chunk = reader.readNow(minBytes);
      this.readyInput = chunk === null ? END_OF_SOURCE : { type: 'data', chunk: this.encoder ? this.encoder.encode(chunk) : chunk };
      return;
    }
    reader.read(minBytes).then(
      (chunk) => {
        if (chunk === null) this.feed({ type: 'end' });
        else this.feed({ type: 'data', chunk: this.encoder ? this.encoder.encode(chunk) : chunk });
      },
      (e) => this.feedError(e),
    );
  }

  private feed(input: Parameters<Session['handle']>[0]): void {
    if (this.closed) return;
    this.guard(() => {
      this.session.handle(input, performance.now());
      this.drain();
    });
  }

  /**
   * Runs a step from a promise callback or timer, where a throw would become an unhandled
   * rejection or exception and take the process down: a bug ends this session only.
   */
  private guard(step: () => void): void {
    try {
      step();
    } catch (e) {
      this.lastCause = e;
      try {
        this.abort(ErrorCode.NotDefined, 'internal error', 'internal-error');
      } catch {
        /* already closing */
      }
    }
  }

  private feedError(e: unknown): void {
    this.lastCause = e;
    this.feed({ type: 'sourceError', error: asTftpError(e) });
  }

  private end(end: SessionEnd): void {
    if (this.ended) return;
    this.ended = true;
    this.io.onEnd(end);
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.ended) this.end({ outcome: 'shutdown' });
    // The session holds nothing any more: its read buffers may go back to the pool.
    if (this.canRelease()) this.io.reader?.release?.(Infinity);
    void this.io.reader?.close();
    // An upload that did not complete leaves nothing behind (abort is a no-op after commit).
    if (this.io.writer) void this.writeChain.catch(() => {}).then(() => this.io.writer!.abort());
    this.io.onClose();
  }

  /**
   * Whether source bytes the session dropped may be reused now (sources/read-buffer-pool.ts).
   * Not with netascii: the session counts encoded bytes, not the source's. Only when sends go
   * through sendWindow (the window sender notes what libuv queued: batch-send/queued-sends.ts)
   * and nothing is queued anywhere, since a queued DATA still points at its payload.
   */
  private canRelease(): boolean {
    return this.encoder === undefined && this.io.sendWindow !== undefined && !anySendQueued();
  }

  private arm(deadline: number | undefined): void {
    this.wantAt = deadline;
    if (deadline === undefined) return;
    if (this.timer !== undefined && this.timerAt <= deadline) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerAt = deadline;
    this.timer = setTimeout(SessionDriver.fire, Math.max(0, deadline - performance.now()), this);
  }

  /** One function for every driver's timer (the driver rides as its argument): no closure per session. */
  private static fire(driver: SessionDriver): void {
    driver.onTimer();
  }

  private onTimer(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    if (this.closed || this.wantAt === undefined) return;
    const now = performance.now();
    if (now < this.wantAt) {
      this.arm(this.wantAt);
      return;
    }
    this.guard(() => {
      this.session.handle({ type: 'timeout' }, now);
      this.drain();
    });
  }
}
