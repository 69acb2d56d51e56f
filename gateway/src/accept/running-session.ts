/**
 * A running session's edges: what its driver (transport/session-driver.ts DriverIo) and its own
 * socket (transport/tid-socket.ts TidRoutes) call back into, as one object with methods rather
 * than a dozen closures made per request. A 1 KiB transfer is a few datagrams, so the objects
 * made to start one are a good share of its cost: each closure is an allocation, and V8
 * compiles each new closure lazily on its first call (issue 13, docs/PERFORMANCE.md "The 1 KiB row: allocations and two V8 flags").
 */
import type dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { ErrorCode } from '../protocol/error-codes.js';
import type { Negotiated } from '../protocol/options.js';
import type { SessionTags } from '../handlers/request.js';
import { isInterruptible } from '../handlers/body-writer.js';
import type { Datagram, Session } from '../session/types.js';
import type { ByteReader, ByteWriter } from '../sources/types.js';
import { buildRecord } from '../stats/session-record.js';
import type { DriverIo, SessionDriver, SessionEnd } from '../transport/session-driver.js';
import type { TidRoutes } from '../transport/tid-socket.js';
import type { AcceptContext, Arrival } from './accept-context.js';

export interface Opened {
  socket: dgram.Socket;
  reader: ByteReader | undefined;
  writer: ByteWriter | undefined;
  negotiated: Negotiated;
  startedAt: number;
  tags: SessionTags;
}

export class RunningSession implements DriverIo, TidRoutes {
  readonly reader: ByteReader | undefined;
  readonly writer: ByteWriter | undefined;
  readonly netascii: boolean;
  /** Set right after construction: the driver needs this object first. */
  driver!: SessionDriver;
  private readonly socket: dgram.Socket;
  /** The session has its own socket (its TID), not the listening one (single-port mode). */
  readonly ownSocket: boolean;

  constructor(
    private readonly ctx: AcceptContext,
    private readonly arrival: Arrival,
    private readonly opened: Opened,
    private readonly session: Session,
  ) {
    this.reader = opened.reader;
    this.writer = opened.writer;
    this.netascii = arrival.request.mode === 'netascii';
    this.socket = opened.socket;
    this.ownSocket = opened.socket !== arrival.via.socket;
  }

  // --- DriverIo ---------------------------------------------------------------------------

  send(d: Datagram): void {
    const peer = this.arrival.request.peer;
    this.socket.send(d as Uint8Array | Uint8Array[], peer.port, peer.address);
  }

  /**
   * A window leaves in as few sendmsg calls as the send path allows (transport/batch-send: UDP
   * GSO, or plain dgram sends); the session still decided every datagram in it.
   */
  sendWindow(ds: readonly Datagram[]): void {
    this.ctx.tids.sendWindow(this.socket, ds, this.arrival.request.peer);
  }

  onEnd(end: SessionEnd): void {
    const { ctx, arrival, opened, session } = this;
    const { entry, request } = arrival;
    // The outcome is known: the slots go back now, not after an upload's dally, and a request
    // waiting for one is woken (admission/session-table.ts).
    ctx.table.releaseSlots(entry);
    // A function reading the upload learns at once why it ended (handlers/body-writer.ts).
    const writer = this.writer;
    if (end.outcome !== 'ok' && isInterruptible(writer)) writer.interrupt(end.outcome);
    const c = session.counters;
    if (request.kind === 'read') ctx.counters.bytesSent += c.bytes;
    else ctx.counters.bytesReceived += c.bytes;
    ctx.counters.retransmits += c.retransmits;
    if (!ctx.bus.wantsRecord(end.outcome)) {
      ctx.bus.counted(end.outcome);
      return;
    }
    const durationMs = performance.now() - opened.startedAt;
    ctx.bus.finished(
      buildRecord({ gateway: ctx.gatewayId, request, negotiated: opened.negotiated, counters: c, durationMs, outcome: end.outcome, errorCode: end.errorCode, errorMessage: end.errorMessage, tags: opened.tags }),
      end.cause,
    );
  }

  onClose(): void {
    const { ctx, arrival } = this;
    ctx.counters.sessionsActive--;
    if (this.ownSocket) ctx.tids.give(arrival.via.local.address, this.socket);
    ctx.table.release(arrival.entry);
  }

  // --- TidRoutes (own socket only) ------------------------------------------------------------

  onPeerDatagram(msg: Buffer): void {
    if (!this.driver.onDatagram(msg)) this.ctx.counters.malformedPackets++;
  }

  onStranger(rinfo: dgram.RemoteInfo): void {
    this.ctx.strangers.answer(this.socket, rinfo);
  }

  onInternalError(e: unknown): void {
    this.ctx.counters.internalErrors++;
    this.ctx.log.error({ event: 'internalError', err: e, id: this.arrival.request.id }, 'session failed on a datagram');
    // A bug of ours, not the upstream's: outcome internal-error (wire text unchanged).
    this.driver.abort(ErrorCode.NotDefined, 'internal error', 'internal-error');
  }

  onSocketError(err: Error): void {
    this.ctx.log.warn({ event: 'socketError', err, id: this.arrival.request.id }, 'session socket error');
  }
}
