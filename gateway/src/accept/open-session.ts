/**
 * The accept step: an admitted request becomes a running session, or a refusal.
 *
 *   request -> handler.openRead/openWrite -> negotiate (session-plan.ts) -> buffer reservation
 *           -> the session's TID socket (transport/tid-socket.ts) -> pure session + driver
 *           -> record on the session bus when it ends
 *
 * The transport hands us an admitted request (its table entry holds the admission ticket) and
 * leaves accept/refuse to us, as quinn-proto's Endpoint::handle returns an Incoming to its
 * caller. Every exit closes what was opened and releases the entry exactly once:
 *  - the handler or negotiation fails: ERROR on the wire and a record (refuseRequest);
 *  - the buffers do not fit or no socket can be bound: refused 'busy';
 *  - shutdown began, or the client asked for something else meanwhile: dropped silently.
 */
import type dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { ErrorCode, TftpError, toWireError } from '../protocol/error-codes.js';
import type { Negotiated } from '../protocol/options.js';
import type { SessionTags } from '../handlers/request.js';
import { newCounters, type Session } from '../session/types.js';
import type { ByteReader, ByteWriter, OpenedRead } from '../sources/types.js';
import { refusalOutcome } from '../session/outcome.js';
import { buildRecord } from '../stats/session-record.js';
import { BudgetedSession } from '../admission/budgeted-session.js';
import type { SessionEntry } from '../admission/session-table.js';
import { SessionDriver } from '../transport/session-driver.js';
import { replyError } from '../transport/stranger-replies.js';
import { watchTid } from '../transport/tid-socket.js';
import type { AcceptContext, Arrival } from './accept-context.js';
import { RunningSession, type Opened } from './running-session.js';

export type { AcceptContext, Arrival } from './accept-context.js';

/** What a request has opened before it has a socket: closed again on every exit but a session. */
interface Opening {
  readonly startedAt: number;
  readonly tags: SessionTags;
  reader: ByteReader | undefined;
  writer: ByteWriter | undefined;
}

/**
 * Undefined when the request was settled inside the call: a file the handler answered at once
 * (a hot-file cache hit) and a socket bound at once start the session in the tick its request
 * arrived in, with no promise or microtask (issue 13, docs/PERFORMANCE.md "A cached file
 * starts in the tick of its request"). Otherwise a promise that settles when the step is done;
 * it rejects (and a synchronous call throws) only on a bug.
 */
export function openSession(ctx: AcceptContext, arrival: Arrival): Promise<void> | undefined {
  const { request } = arrival;
  const opening: Opening = { startedAt: performance.now(), tags: {}, reader: undefined, writer: undefined };
  let opened: OpenedRead | ByteWriter | PromiseLike<OpenedRead | ByteWriter>;
  try {
    if (request.kind === 'read') opened = ctx.handler.openRead(request, opening.tags);
    else if (!ctx.handler.openWrite) throw new TftpError(ErrorCode.AccessViolation, 'writes are disabled');
    else opened = ctx.handler.openWrite(request, opening.tags);
  } catch (e) {
    refuseRequest(ctx, arrival, e, opening.startedAt, opening.tags);
    return undefined;
  }
  // Any thenable: a handler given to createGateway need not return a native promise.
  if (!isThenable(opened)) return negotiate(ctx, arrival, opening, opened);
  return Promise.resolve(opened).then(
    (o) => negotiate(ctx, arrival, opening, o),
    (e: unknown) => refuseRequest(ctx, arrival, e, opening.startedAt, opening.tags),
  );
}

function isThenable<T>(v: T | PromiseLike<T>): v is PromiseLike<T> {
  return typeof (v as { then?: unknown }).then === 'function';
}

/** The handler has answered: negotiate the options, reserve the buffers, then find a socket. */
function negotiate(ctx: AcceptContext, arrival: Arrival, opening: Opening, opened: OpenedRead | ByteWriter): Promise<void> | undefined {
  const { request, packet, via } = arrival;
  if (request.kind === 'read') {
    opening.reader = (opened as OpenedRead).reader;
    opening.tags.source = (opened as OpenedRead).source;
  } else {
    opening.writer = opened as ByteWriter;
    opening.tags.source ??= 'folder';
  }
  const reader = opening.reader;
  let negotiated: Negotiated;
  try {
    // tsize is only exact in octet mode: netascii changes the length.
    negotiated = ctx.plan.negotiate(request.kind, packet.options, request.mode === 'octet' ? reader?.size : undefined);
  } catch (e) {
    return closeOpened(opening).then(() => refuseRequest(ctx, arrival, e, opening.startedAt, opening.tags));
  }
  // Admission (issue 9 §2): the window and read-ahead buffers come from a global budget.
  if (!reserveBuffers(ctx, arrival, negotiated, reader?.size, opening.startedAt)) return closeOpened(opening);
  if (ctx.singlePort) return launch(ctx, arrival, opening, negotiated, via.socket);
  let socket: dgram.Socket | Promise<dgram.Socket>;
  try {
    socket = ctx.tids.open(via.local, negotiated);
  } catch (e) {
    return noSocket(ctx, arrival, opening, e);
  }
  if (!(socket instanceof Promise)) return launch(ctx, arrival, opening, negotiated, socket);
  return socket.then(
    (s) => launch(ctx, arrival, opening, negotiated, s),
    (e: unknown) => noSocket(ctx, arrival, opening, e),
  );
}

/** No socket could be bound: the request is refused busy. */
function noSocket(ctx: AcceptContext, arrival: Arrival, opening: Opening, e: unknown): Promise<void> {
  const busy = new TftpError(ErrorCode.NotDefined, 'server busy, try again later', { cause: e });
  return closeOpened(opening).then(() => refuseRequest(ctx, arrival, busy, opening.startedAt, opening.tags));
}

/** The session starts, unless shutdown began or the client asked for something else meanwhile. */
function launch(ctx: AcceptContext, arrival: Arrival, opening: Opening, negotiated: Negotiated, socket: dgram.Socket): Promise<void> | undefined {
  const { entry, via } = arrival;
  if (!ctx.isAccepting() || entry.superseded) {
    // Shutdown began, or the client asked for something else, while we were setting up.
    if (socket !== via.socket) ctx.tids.give(via.local.address, socket);
    return closeOpened(opening).then(() => ctx.table.release(entry));
  }
  const { reader, writer, startedAt, tags } = opening;
  start(ctx, arrival, { socket, reader, writer, negotiated, startedAt, tags });
  return undefined;
}

/** Closes what a request opened before it became a session (a function, not a closure per request). */
async function closeOpened(opening: Opening): Promise<void> {
  await opening.reader?.close();
  await opening.writer?.abort();
}

/** The pure session, its driver, and (outside single-port mode) its own socket's routes. */
function start(ctx: AcceptContext, arrival: Arrival, opened: Opened): void {
  const { entry, request } = arrival;
  const { reader, negotiated } = opened;
  const session = ctx.plan.session(request.kind, negotiated, performance.now());
  ctx.counters.sessionsStarted++;
  ctx.counters.sessionsActive++;
  const running = new RunningSession(ctx, arrival, opened, session);
  const driver = new SessionDriver(followBudget(ctx, entry, session, negotiated.blockSize, request.mode === 'octet' ? reader?.size : undefined), running);
  running.driver = driver;
  entry.driver = driver;
  entry.ownSocket = running.ownSocket;
  // The same request again once our last packet is out is the peer's next transfer (issue 13).
  entry.lastBlockSent = () => session.lastBlockSent === true;
  if (running.ownSocket) watchTid(opened.socket, request.peer, running);
  driver.start();
}

/** Refuses a request before any session exists: ERROR on the wire, a record on the bus. */
export function refuseRequest(ctx: AcceptContext, arrival: Omit<Arrival, 'packet'>, e: unknown, startedAt: number, tags?: SessionTags): void {
  const { entry, request, via } = arrival;
  if (entry.superseded) {
    ctx.table.release(entry);
    return;
  }
  const wire = toWireError(e);
  replyError(via.socket, request.peer, wire.code, wire.message);
  const outcome = refusalOutcome(wire.code, e);
  if (!ctx.bus.wantsRecord(outcome)) {
    ctx.bus.counted(outcome);
    ctx.table.release(entry);
    return;
  }
  // Not `{ ...newCounters(), packetsSent: 1 }`: a spread followed by more properties is slow on
  // Node 20 (accept/session-plan.ts), and not-found refusals are everyday traffic (GRUB probes).
  const counters = newCounters();
  counters.packetsSent = 1;
  const durationMs = performance.now() - startedAt;
  ctx.bus.finished(
    buildRecord({ gateway: ctx.gatewayId, request, negotiated: undefined, counters, durationMs, outcome, errorCode: wire.code, errorMessage: wire.message, tags }),
    e instanceof TftpError ? e.cause : e,
  );
  ctx.table.release(entry);
}

/**
 * Reserves a session's window and read-ahead buffers from the global budget, once its options
 * are negotiated (issue 9 §2). False when they do not fit: the request has been refused 'busy'
 * (sampled log line and record) and the caller closes what it opened.
 */
function reserveBuffers(ctx: AcceptContext, arrival: Arrival, negotiated: Negotiated, sourceBytes: number | undefined, startedAt: number): boolean {
  const { entry, request, via } = arrival;
  if (ctx.admission.reserveBuffers(entry.ticket, ctx.plan.reservationBytes(request, negotiated, sourceBytes))) {
    ctx.counters.bufferBytesReserved = ctx.admission.budget.reservedBytes;
    ctx.counters.bufferBytesReservedPeak = ctx.admission.budget.peakBytes;
    return true;
  }
  ctx.table.release(entry);
  if (!entry.superseded) {
    ctx.refusals.refuse(
      'buffers',
      entry.ticket.prefix,
      () => request,
      (code, message) => replyError(via.socket, request.peer, code, message),
      performance.now() - startedAt,
    );
  }
  return false;
}

/**
 * The session as the driver sees it: its buffer reservation grows with its window, and a
 * window the budget cannot cover ends it busy (admission/budgeted-session.ts).
 */
function followBudget(ctx: AcceptContext, entry: SessionEntry, session: Session, blockSize: number, sourceBytes: number | undefined): Session {
  return new BudgetedSession(session, {
    blockSize,
    sourceBytes,
    reservedBytes: entry.ticket.bufferBytes,
    reserve: (bytes) => {
      if (ctx.admission.reserveBuffers(entry.ticket, bytes)) {
        ctx.counters.bufferBytesReserved = ctx.admission.budget.reservedBytes;
        ctx.counters.bufferBytesReservedPeak = ctx.admission.budget.peakBytes;
        return true;
      }
      ctx.refusals.countWindowRefusal();
      return false;
    },
  });
}
