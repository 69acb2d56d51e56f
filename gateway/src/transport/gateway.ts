/**
 * The gateway: listening sockets, the admission of new requests, and the table of sessions.
 *
 * A datagram on a listening socket goes to one of three places (as quinn's Endpoint::handle):
 *  - an existing session (single-port mode, keyed by peer address and port),
 *  - a new request to accept or refuse (RRQ/WRQ),
 *  - an immediate reply: ERROR 5 to DATA/ACK from an unknown peer, ERROR 4 to a malformed
 *    request; anything else is dropped and counted. Nothing the network sends can throw.
 *
 * In the default mode each session gets its own socket (its TID), bound to the local address
 * the request arrived on; a stranger's datagram there gets ERROR 5 and the transfer goes on.
 */
import type dgram from 'node:dgram';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { ErrorCode, TftpError, toWireError } from '../protocol/error-codes.js';
import { decodePacket, encodeError, Opcode, type RequestPacket } from '../protocol/packet.js';
import { negotiate, parseRefuseList, type NegotiationLimits } from '../protocol/options.js';
import { normalizePath, type RequestPath } from '../request/path.js';
import type { Endpoint, RequestHandler, SessionTags, TftpRequest } from '../request/request.js';
import { ReadSession } from '../session/read-session.js';
import { WriteSession } from '../session/write-session.js';
import { newCounters, type Session, type SessionTimingConfig } from '../session/types.js';
import type { GatewayConfig } from '../config/schema.js';
import type { ByteReader, ByteWriter } from '../sources/types.js';
import { buildRecord, refusalOutcome, type NegotiatedSummary, type SessionRecord } from '../stats/session-record.js';
import { newServerCounters, type ServerCounters } from '../stats/counters.js';
import { bindSessionSocket, bindUdp, expandHosts, type ListenAddress } from './bind.js';
import { SocketPool } from './socket-pool.js';
import { TokenBucket } from '../admission/token-bucket.js';
import { ClientFilter } from './cidr.js';
import { SessionDriver, type SessionEnd } from './session-driver.js';
import { Admission, REASON_OF_LIMIT, type AdmissionTicket, type RefusalLimit, type RefusalReason } from '../admission/admission.js';
import { sessionBufferBytes } from '../admission/buffer-budget.js';
import { BudgetedSession } from '../admission/budgeted-session.js';
import { RefusalSampler, type SuppressedSummary } from '../admission/refusal-sampler.js';

interface Listener {
  socket: dgram.Socket;
  local: Endpoint;
}

interface ActiveSession {
  readonly key: string;
  readonly peerAddress: string;
  /** The request datagram, to tell a retransmission (same bytes) from a new request. */
  readonly requestBytes: Buffer;
  driver: SessionDriver | undefined;
  /** A different request from the same peer address and port replaced this one. */
  superseded: boolean;
  released: boolean;
  /** Its slots at admission (sessions, per client, per prefix) and its buffer reservation. */
  readonly ticket: AdmissionTicket;
}

/**
 * What a 'busy' refusal says on the wire (ERROR 0). Rate-limited and denied requests get no
 * answer: those are the floods, and an answer to a spoofed source address is reflection.
 */
const BUSY_MESSAGES: Partial<Record<RefusalLimit, string>> = {
  sessions: 'server busy, try again later',
  buffers: 'server busy, try again later',
  client: 'too many sessions from this client',
  prefix: 'too many sessions from this network',
};

export interface GatewayHooks {
  /** Called with every finished session's record (fbtftp's session-stats callback). */
  onSession?: (record: SessionRecord) => void;
}

const peerKey = (address: string, port: number) => `${address}|${port}`;

/** Busy requests looked at again after one turn of the event loop; past this, refused at once. */
const MAX_DEFERRED = 1024;

/** The request's path for a refusal record: normalised when it can be, raw otherwise. */
function safePath(filename: string): RequestPath {
  try {
    return normalizePath(filename);
  } catch (e) {
    return { raw: filename, normalized: '', invalid: e };
  }
}

/** Linux's usual net.core.wmem_default / rmem_default. */
const DEFAULT_SOCKET_BUFFER_BYTES = 212_992;

/** A portRange narrower than this is guessable: ACKs there prove nothing. */
const MIN_SECRET_PORTS = 4096;

let requestSeq = 0;
const pidTag = process.pid.toString(36);

export class Gateway {
  readonly counters: ServerCounters = newServerCounters();
  /** Names this gateway in session records, stats and metrics. */
  readonly id: string;
  private readonly listeners: Listener[] = [];
  /** Sessions (and requests being admitted) by peer address|port. */
  private readonly sessions = new Map<string, ActiveSession>();
  /** Rate limits, concurrent-session limits and the buffer budget (gateway/src/admission). */
  private readonly admission: Admission;
  /** Refusal log lines and records: the first few per reason per interval, then a summary. */
  private readonly refusalSampler: RefusalSampler<RefusalReason>;
  private refusalSummaryTimer: NodeJS.Timeout | undefined;
  /** Requests refused busy once, waiting one turn of the event loop to be decided again. */
  private readonly deferred = new Set<string>();
  /** Finished sessions' sockets, reused (at random, from a large idle set) by later sessions. */
  private readonly pool: SocketPool;
  /** ERROR 5 replies to strangers, all sockets together: a spoofer cannot make them a flood. */
  private readonly strangerReplies: TokenBucket;
  /** Payload bytes in flight per session (single-port mode has its own, lower cap). */
  private readonly windowBytesCap: number;
  /** A valid ACK at a session's port is evidence that the peer reads our packets. */
  private readonly ackIsEvidence: boolean;
  private readonly filter: ClientFilter;
  private readonly limits: NegotiationLimits;
  private readonly timing: SessionTimingConfig;
  private readonly portRange: { low: number; high: number } | undefined;
  private accepting = false;
  private drainWaiters: (() => void)[] = [];

  constructor(
    private readonly config: GatewayConfig,
    private readonly handler: RequestHandler,
    private readonly log: Logger,
    private readonly hooks: GatewayHooks = {},
  ) {
    this.id = config.gatewayId ?? `${hostname()}-${process.pid}`;
    this.filter = new ClientFilter(config.allow, config.deny);
    this.admission = new Admission(config, performance.now());
    this.refusalSampler = new RefusalSampler({ samplesPerInterval: config.refusalLogSamples, intervalMs: config.refusalLogIntervalMs });
    this.limits = { maxBlockSize: config.maxBlockSize, maxWindowSize: config.maxWindowSize, refuse: parseRefuseList(config.refuse) };
    this.timing = {
      timeoutMs: config.timeoutMs,
      maxRetries: config.retries,
      firstPacketRetries: config.firstPacketRetries,
      backoffFactor: config.backoffFactor,
      maxTimeoutMs: config.maxTimeoutMs,
      unprovenRetries: config.unprovenRetries,
      minProgressBytes: config.minProgressBytes,
      progressIntervalMs: config.progressIntervalMs,
      maxSessionMs: config.maxSessionMs,
    };
    // Reused at random, and only once a quarter of the pool is idle (see SocketPool).
    this.pool = new SocketPool(config.sessionSocketPool, Math.max(1, Math.ceil(config.sessionSocketPool / 4)));
    this.windowBytesCap = config.singlePort ? config.singlePortMaxWindowBytes : config.maxWindowBytes;
    this.strangerReplies = new TokenBucket({ ratePerSecond: config.strangerRepliesPerSecond, burst: Math.max(1, config.strangerRepliesPerSecond) }, performance.now());
    if (config.portRange) {
      const [low, high] = config.portRange.split('-').map(Number);
      this.portRange = { low, high };
    }
    // The port is only a secret a blind spoofer must guess when there are many to guess from:
    // not in single-port mode, nor with a narrow portRange, nor when sockets are reused (a
    // spoofer may have seen the idle ports in its own sessions). See ReadSession, "Proven peers".
    this.ackIsEvidence =
      !config.singlePort && config.sessionSocketPool === 0 && (this.portRange === undefined || this.portRange.high - this.portRange.low + 1 >= MIN_SECRET_PORTS);
  }

  get activeSessions(): number {
    return this.sessions.size;
  }

  /** Binds every listening socket; resolves with what is bound (port 0 becomes the real port). */
  async start(): Promise<Endpoint[]> {
    const addrs = expandHosts(this.config.hosts);
    if (addrs.length === 0) throw new Error('no local address matches the configured hosts');
    let port = this.config.port;
    for (const a of addrs) {
      const socket = await this.bindListener(a, port);
      const bound = socket.address();
      // With port 0, the first listener picks the port and the others follow it.
      if (port === 0) port = bound.port;
      const listener: Listener = { socket, local: { address: a.address, port: bound.port, family: a.family } };
      socket.on('message', (msg, rinfo) => {
        try {
          this.onListenerMessage(listener, msg, rinfo);
        } catch (e) {
          // A bug must cost one datagram, never the gateway.
          this.counters.malformedPackets++;
          this.log.error({ event: 'internalError', err: e, peer: rinfo.address }, 'datagram handling failed');
        }
      });
      socket.on('error', (err) => this.log.error({ event: 'socketError', err, local: listener.local }, 'listener socket error'));
      this.listeners.push(listener);
    }
    this.accepting = true;
    return this.listeners.map((l) => l.local);
  }

  private async bindListener(a: ListenAddress, port: number): Promise<dgram.Socket> {
    try {
      return await bindUdp({ address: a.address, family: a.family, port, exclusive: false, bufferBytes: this.config.socketBufferBytes });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const hint =
        code === 'EACCES' ? 'ports below 1024 need root or CAP_NET_BIND_SERVICE; use e.g. --port 6969'
        : code === 'EADDRINUSE' ? 'another server is listening there; stop it or pick another --port'
        : code === 'EADDRNOTAVAIL' ? 'that address is not on this machine; see `ip addr`'
        : 'check --host and --port';
      throw new Error(`cannot listen on ${a.address} port ${port}: ${(e as Error).message} (${hint})`);
    }
  }

  /** Stops accepting, lets sessions finish up to graceMs, then aborts the rest. */
  async stop(graceMs: number): Promise<void> {
    this.accepting = false;
    if (!this.config.singlePort) for (const l of this.listeners) l.socket.close();
    if (this.sessions.size > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, graceMs);
        this.drainWaiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    for (const s of [...this.sessions.values()]) s.driver?.abort(ErrorCode.NotDefined, 'server shutting down', 'shutdown');
    if (this.config.singlePort) for (const l of this.listeners) l.socket.close();
    this.pool.close();
    this.listeners.length = 0;
    // Refusals held back by sampling still get their summary line before the process goes.
    if (this.refusalSummaryTimer) clearTimeout(this.refusalSummaryTimer);
    this.refusalSummaryTimer = undefined;
    this.logSuppressed(this.refusalSampler.drain(performance.now()));
  }

  private onListenerMessage(listener: Listener, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.config.singlePort) {
      const s = this.sessions.get(peerKey(rinfo.address, rinfo.port));
      const op = msg.length >= 2 ? (msg[0] << 8) | msg[1] : 0;
      // Requests go to admission, which tells retransmissions from new requests.
      if (s?.driver && op !== Opcode.Rrq && op !== Opcode.Wrq) {
        if (!s.driver.onDatagram(msg)) this.counters.malformedPackets++;
        return;
      }
    }
    let packet;
    try {
      packet = decodePacket(msg);
    } catch (e) {
      this.counters.malformedPackets++;
      const op = msg.length >= 2 ? (msg[0] << 8) | msg[1] : 0;
      // Something shaped like a request deserves an answer; random junk is dropped.
      if (op === Opcode.Rrq || op === Opcode.Wrq) {
        this.reply(listener.socket, rinfo, ErrorCode.IllegalOperation, (e as TftpError).message);
      }
      return;
    }
    switch (packet.op) {
      case Opcode.Rrq:
      case Opcode.Wrq:
        this.admit(listener, packet, rinfo, msg);
        return;
      case Opcode.Data:
      case Opcode.Ack:
        this.counters.strangerPackets++;
        this.replyToStranger(listener.socket, rinfo);
        return;
      default:
        // Never answer an ERROR (no error loops) or a stray OACK.
        return;
    }
  }

  private reply(socket: dgram.Socket, to: { address: string; port: number }, code: number, message: string): void {
    if (to.port === 0) return;
    socket.send(encodeError(code, message), to.port, to.address);
  }

  /**
   * RFC 1350: a stranger's DATA/ACK gets ERROR 5. Each reply is a datagram a spoofer can aim
   * at a victim, so they share one global token bucket (strangerRepliesPerSecond); beyond it
   * they are counted and dropped.
   */
  private replyToStranger(socket: dgram.Socket, to: { address: string; port: number }): void {
    if (!this.strangerReplies.take(performance.now())) {
      this.counters.strangerRepliesSuppressed++;
      return;
    }
    this.reply(socket, to, ErrorCode.UnknownTransferId, 'unknown transfer id');
  }

  private admit(listener: Listener, packet: RequestPacket, rinfo: dgram.RemoteInfo, msg: Buffer): void {
    if (!this.accepting) return;
    const key = peerKey(rinfo.address, rinfo.port);
    if (this.deferred.has(key)) {
      // Its first copy is waiting one turn of the event loop for a slot (admitChecked).
      this.counters.duplicateRequests++;
      return;
    }
    const existing = this.sessions.get(key);
    if (existing) {
      if (existing.requestBytes.equals(msg)) {
        // The client repeated its request before our first reply reached it: the session sends
        // its first packet again (once per request datagram, and only before any ACK).
        this.counters.duplicateRequests++;
        existing.driver?.repeatRequest();
        return;
      }
      // A different request from the same address and port (firmware that reuses a fixed
      // source port after a reboot): the client has given up on the old transfer, so it ends
      // silently, or it would keep answering the new request with the old file's blocks.
      this.supersede(existing);
    }
    if (rinfo.port === 0) return;
    this.admitChecked(listener, packet, rinfo, msg, key, false);
  }

  /** Admission proper (allow/deny, rates, session limits), then the session starts. */
  private admitChecked(listener: Listener, packet: RequestPacket, rinfo: dgram.RemoteInfo, msg: Buffer, key: string, retry: boolean): void {
    const kind = packet.op === Opcode.Rrq ? 'read' : 'write';
    const peer: Endpoint = { address: rinfo.address, port: rinfo.port, family: rinfo.family as 'IPv4' | 'IPv6' };
    // Built only for a refusal that is sampled: a flood costs no request objects.
    const refusedRequest = () => this.makeRequest(kind, safePath(packet.filename), packet, peer, listener.local);
    if (!this.filter.permits(rinfo.address)) {
      // Dropped without a word: an answer would only help scanners and reflectors.
      this.refuseAtAdmission(listener, 'deny-list', this.admission.prefixOf(rinfo.address), rinfo, refusedRequest);
      return;
    }
    const verdict = this.admission.admit(rinfo.address, performance.now(), { rateChecked: retry });
    if (!verdict.admitted) {
      if (verdict.reason === 'busy' && !retry && this.deferred.size < MAX_DEFERRED) {
        // Issue 13: a client that has its last block sends the final ACK (to the session's port)
        // and at once its next request (to ours), and the event loop may hand us the request
        // first, while the finished session still holds its slot: a load below
        // maxSessionsPerClient was refused busy. Decide again once the datagrams already
        // received have been handled (setImmediate runs after the poll phase).
        this.deferred.add(key);
        setImmediate(() => {
          this.deferred.delete(key);
          if (this.accepting && !this.sessions.has(key)) this.admitChecked(listener, packet, rinfo, msg, key, true);
        });
        return;
      }
      this.refuseAtAdmission(listener, verdict.limit, verdict.prefix, rinfo, refusedRequest);
      return;
    }
    const entry: ActiveSession = {
      key,
      peerAddress: rinfo.address,
      requestBytes: Buffer.from(msg),
      driver: undefined,
      superseded: false,
      released: false,
      ticket: verdict.ticket,
    };
    this.sessions.set(key, entry);

    let path: RequestPath;
    try {
      path = normalizePath(packet.filename);
    } catch (e) {
      path = { raw: packet.filename, normalized: '', invalid: e };
      if (!this.handler.rewritesRawPath) {
        const request = this.makeRequest(kind, path, packet, peer, listener.local);
        this.refuse(listener, entry, request, e, performance.now());
        return;
      }
    }
    const request = this.makeRequest(kind, path, packet, peer, listener.local);
    this.open(listener, entry, request, packet).catch((e) => {
      this.log.error({ event: 'internalError', err: e, id: request.id }, 'session setup failed');
      this.release(entry);
    });
  }

  private makeRequest(kind: 'read' | 'write', path: RequestPath, packet: RequestPacket, peer: Endpoint, local: Endpoint): TftpRequest {
    return { id: `${pidTag}-${(++requestSeq).toString(36)}`, kind, path, mode: packet.mode, options: packet.options, peer, local };
  }

  private async open(listener: Listener, entry: ActiveSession, request: TftpRequest, packet: RequestPacket): Promise<void> {
    const startedAt = performance.now();
    let reader: ByteReader | undefined;
    let writer: ByteWriter | undefined;
    const tags: SessionTags = {};
    let negotiated;
    try {
      if (request.kind === 'read') {
        const opened = await this.handler.openRead(request, tags);
        reader = opened.reader;
        tags.source = opened.source;
      } else {
        if (!this.handler.openWrite) throw new TftpError(ErrorCode.AccessViolation, 'writes are disabled');
        writer = await this.handler.openWrite(request, tags);
        tags.source ??= 'folder';
      }
      // tsize is only exact in octet mode: netascii changes the length.
      const size = request.mode === 'octet' ? reader?.size : undefined;
      // Single-port mode: every ACK can be forged blind and each buys up to a block, so blocks
      // are kept to an Ethernet frame by default (singlePortMaxBlockSize; docs/RELIABILITY.md).
      const limits = this.config.singlePort ? { ...this.limits, maxBlockSize: Math.min(this.limits.maxBlockSize, this.config.singlePortMaxBlockSize) } : this.limits;
      negotiated = negotiate(request.kind, packet.options, limits, size);
      // Bytes in flight per session are bounded (issue 9): the OACK states the lowered
      // windowsize, since an RFC 7440 client ACKs once per window and would wait for the rest.
      const fit = Math.max(1, Math.floor(this.windowBytesCap / negotiated.blockSize));
      if (negotiated.windowSize > fit) {
        negotiated = negotiate(request.kind, packet.options, { ...limits, maxWindowSize: Math.min(limits.maxWindowSize, fit) }, size);
      }
    } catch (e) {
      await reader?.close();
      await writer?.abort();
      this.refuse(listener, entry, request, e, startedAt, tags);
      return;
    }
    // Admission (issue 9 §2): the window and read-ahead buffers come from a global budget.
    if (!this.reserveBuffers(listener, entry, request, negotiated, reader?.size, startedAt)) {
      await reader?.close();
      await writer?.abort();
      return;
    }
    let socket = listener.socket;
    if (!this.config.singlePort) {
      try {
        // Larger socket buffers only where a window would not fit the kernel's default
        // (~208 KiB, and a datagram is charged about twice its length): two setsockopt calls
        // saved on every small transfer.
        const windowBytes = negotiated.windowSize * (negotiated.blockSize + 4);
        const bufferBytes = windowBytes * 4 > DEFAULT_SOCKET_BUFFER_BYTES ? this.config.socketBufferBytes : 0;
        const reused = this.pool.take(listener.local.address);
        if (reused && bufferBytes > 0) {
          reused.setRecvBufferSize(bufferBytes);
          reused.setSendBufferSize(bufferBytes);
        }
        socket = reused ?? (await bindSessionSocket(listener.local.address, listener.local.family, this.portRange, bufferBytes));
      } catch (e) {
        await reader?.close();
        await writer?.abort();
        this.refuse(listener, entry, request, new TftpError(ErrorCode.NotDefined, 'server busy, try again later', { cause: e }), startedAt, tags);
        return;
      }
    }
    if (!this.accepting || entry.superseded) {
      // Shutdown began, or the client asked for something else, while we were setting up.
      if (socket !== listener.socket) this.pool.give(listener.local.address, socket);
      await reader?.close();
      await writer?.abort();
      this.release(entry);
      return;
    }

    // The client's RFC 2349 timeout is acknowledged as asked, but our own retransmit timer is
    // capped by maxTimeoutMs: a spoofed "timeout 255" must not hold a session for minutes.
    const timing = negotiated.timeoutMs
      ? { ...this.timing, timeoutMs: Math.min(negotiated.timeoutMs, this.timing.maxTimeoutMs) }
      : this.timing;
    const session: Session =
      request.kind === 'read'
        ? new ReadSession(
            {
              ...timing,
              blockSize: negotiated.blockSize,
              windowSize: negotiated.windowSize,
              oack: negotiated.oack,
              maxWindowBytes: this.windowBytesCap,
              // Where ACKs prove nothing, a window smaller than the negotiated one stalls RFC 7440
              // clients (they ACK at the end of their window or on their own timeout: 1 MiB took
              // 4.3 s instead of 28 ms with atftp, windowsize 16): opt-in there (singlePortSlowStart).
              slowStartBlocks: this.ackIsEvidence || this.config.singlePortSlowStart ? this.config.slowStartBlocks : undefined,
              ackIsEvidence: this.ackIsEvidence,
            },
            performance.now(),
          )
        : new WriteSession(
            { ...timing, blockSize: negotiated.blockSize, windowSize: negotiated.windowSize, oack: negotiated.oack, maxBytes: this.config.maxUploadBytes },
            performance.now(),
          );
    this.counters.sessionsStarted++;
    this.counters.sessionsActive++;
    const peer = request.peer;
    const ownSocket = socket !== listener.socket;
    const driver = new SessionDriver(this.followBudget(entry, session, negotiated.blockSize, request.mode === 'octet' ? reader?.size : undefined), {
      send: (d) => socket.send(d as Uint8Array | Uint8Array[], peer.port, peer.address),
      reader,
      writer,
      netascii: request.mode === 'netascii',
      onEnd: (end) => {
        // The outcome is known: the slots go back now, not after an upload's dally.
        this.admission.release(entry.ticket);
        this.finish(request, end, startedAt, session, negotiated, tags);
      },
      onClose: () => {
        this.counters.sessionsActive--;
        if (ownSocket) this.pool.give(listener.local.address, socket);
        this.release(entry);
      },
    });
    entry.driver = driver;
    if (ownSocket) {
      socket.on('message', (msg, rinfo) => {
        if (rinfo.port !== peer.port || rinfo.address !== peer.address) {
          // RFC 1350: a packet from a stranger's TID gets ERROR 5; our transfer is unharmed.
          this.counters.strangerPackets++;
          this.replyToStranger(socket, rinfo);
          return;
        }
        try {
          if (!driver.onDatagram(msg)) this.counters.malformedPackets++;
        } catch (e) {
          this.log.error({ event: 'internalError', err: e, id: request.id }, 'session failed on a datagram');
          driver.abort(ErrorCode.NotDefined, 'internal error', 'upstream-error');
        }
      });
      socket.on('error', (err) => this.log.warn({ event: 'socketError', err, id: request.id }, 'session socket error'));
    }
    driver.start();
  }

  /** Refuses a request before any session exists: ERROR on the wire, a record in the stats. */
  private refuse(listener: Listener, entry: ActiveSession, request: TftpRequest, e: unknown, startedAt: number, tags?: SessionTags): void {
    if (entry.superseded) {
      this.release(entry);
      return;
    }
    const wire = toWireError(e);
    this.reply(listener.socket, request.peer, wire.code, wire.message);
    const counters = { ...newCounters(), packetsSent: 1 };
    const durationMs = performance.now() - startedAt;
    this.emit(
      buildRecord({ gateway: this.id, request, negotiated: undefined, counters, durationMs, outcome: refusalOutcome(wire.code, e), errorCode: wire.code, errorMessage: wire.message, tags }),
      e instanceof TftpError ? e.cause : e,
    );
    this.release(entry);
  }

  private finish(request: TftpRequest, end: SessionEnd, startedAt: number, session: Session, negotiated: NegotiatedSummary, tags: SessionTags): void {
    const c = session.counters;
    if (request.kind === 'read') this.counters.bytesSent += c.bytes;
    else this.counters.bytesReceived += c.bytes;
    this.counters.retransmits += c.retransmits;
    const durationMs = performance.now() - startedAt;
    this.emit(
      buildRecord({ gateway: this.id, request, negotiated, counters: c, durationMs, outcome: end.outcome, errorCode: end.errorCode, errorMessage: end.errorMessage, tags }),
      end.cause,
    );
  }

  private emit(record: SessionRecord, cause: unknown): void {
    this.counters.sessionsByOutcome[record.outcome] = (this.counters.sessionsByOutcome[record.outcome] ?? 0) + 1;
    const level = record.outcome === 'ok' || record.outcome === 'option-probe' || record.outcome === 'not-found' ? 'info' : 'warn';
    this.log[level]({ event: 'session', ...record, ...(cause ? { err: cause } : {}) }, 'session finished');
    try {
      this.hooks.onSession?.(record);
    } catch (e) {
      this.log.error({ event: 'hookError', err: e }, 'session hook threw');
    }
  }

  /**
   * Reserves a session's window and read-ahead buffers from the global budget, once its
   * options are negotiated (issue 9 §2). False when they do not fit: the caller closes what it
   * opened and the request has been refused 'busy' (sampled log line and record).
   */
  private reserveBuffers(listener: Listener, entry: ActiveSession, request: TftpRequest, negotiated: NegotiatedSummary, sourceBytes: number | undefined, startedAt: number): boolean {
    // A read session's window starts at slowStartBlocks where an ACK proves the peer (a random
    // per-session port), and the reservation grows with it (followBudget); elsewhere the window
    // grows an ACK at a time, so the whole of it is reserved now rather than failing mid-transfer.
    const windowBlocks = request.kind === 'read' && this.ackIsEvidence ? Math.min(negotiated.windowSize, this.config.slowStartBlocks) : negotiated.windowSize;
    // netascii may double the bytes (every LF becomes CR LF), so the source size only bounds octet.
    const bytes = sessionBufferBytes({ blockSize: negotiated.blockSize, windowSize: windowBlocks, sourceBytes: request.mode === 'octet' ? sourceBytes : undefined });
    if (this.admission.reserveBuffers(entry.ticket, bytes)) {
      this.counters.bufferBytesReserved = this.admission.budget.reservedBytes;
      this.counters.bufferBytesReservedPeak = this.admission.budget.peakBytes;
      return true;
    }
    this.release(entry);
    if (!entry.superseded) {
      this.refuseAtAdmission(listener, 'buffers', entry.ticket.prefix, request.peer, () => request, performance.now() - startedAt);
    }
    return false;
  }

  /**
   * The session as the driver sees it: its buffer reservation grows with its window, and a
   * window the budget cannot cover ends it busy (admission/budgeted-session.ts).
   */
  private followBudget(entry: ActiveSession, session: Session, blockSize: number, sourceBytes: number | undefined): Session {
    return new BudgetedSession(session, {
      blockSize,
      sourceBytes,
      reservedBytes: entry.ticket.bufferBytes,
      reserve: (bytes) => {
        if (this.admission.reserveBuffers(entry.ticket, bytes)) {
          this.counters.bufferBytesReserved = this.admission.budget.reservedBytes;
          this.counters.bufferBytesReservedPeak = this.admission.budget.peakBytes;
          return true;
        }
        const c = this.counters;
        const limit: RefusalLimit = 'window-buffers';
        c.refusalsByLimit[limit] = (c.refusalsByLimit[limit] ?? 0) + 1;
        c.refusedBusy++;
        return false;
      },
    });
  }

  /**
   * A request refused by admission. Counted exactly, by rule; answered only when it is 'busy'
   * (rate-limited and denied requests are the floods, and an answer to a forged source address
   * is reflection); logged and recorded only when sampled, so a flood of refusals makes a
   * bounded number of lines and records plus one "suppressed K similar" summary per interval.
   */
  private refuseAtAdmission(listener: Listener, limit: RefusalLimit, prefix: string, to: { address: string; port: number }, request: () => TftpRequest, durationMs = 0): void {
    const reason = REASON_OF_LIMIT[limit];
    const c = this.counters;
    c.refusalsByLimit[limit] = (c.refusalsByLimit[limit] ?? 0) + 1;
    c.sessionsByOutcome[reason] = (c.sessionsByOutcome[reason] ?? 0) + 1;
    if (reason === 'busy') c.refusedBusy++;
    else if (reason === 'rate-limited') c.refusedRateLimited++;
    else c.deniedClients++;
    const message = BUSY_MESSAGES[limit];
    if (message) this.reply(listener.socket, to, ErrorCode.NotDefined, message);
    const { sample, summaries } = this.refusalSampler.offer(reason, performance.now());
    this.logSuppressed(summaries);
    if (!sample) {
      c.refusalLogsSuppressed[reason] = (c.refusalLogsSuppressed[reason] ?? 0) + 1;
      this.scheduleRefusalSummary();
      return;
    }
    const counters = { ...newCounters(), packetsSent: message ? 1 : 0 };
    const record = buildRecord({
      gateway: this.id,
      request: request(),
      negotiated: undefined,
      counters,
      durationMs,
      outcome: reason,
      errorCode: message ? ErrorCode.NotDefined : undefined,
      errorMessage: message,
    });
    this.log[reason === 'client-denied' ? 'info' : 'warn']({ event: 'session', ...record, limit, prefix, sampled: true }, 'request refused');
    try {
      this.hooks.onSession?.(record);
    } catch (e) {
      this.log.error({ event: 'hookError', err: e }, 'session hook threw');
    }
  }

  private logSuppressed(summaries: SuppressedSummary<RefusalReason>[]): void {
    for (const s of summaries) {
      this.log.warn(
        { event: 'refusalsSuppressed', reason: s.kind, suppressed: s.suppressed, sampled: s.sampled, intervalMs: Math.round(s.endMs - s.startMs) },
        `suppressed ${s.suppressed} similar`,
      );
    }
  }

  /** A summary is due when an interval with suppressed refusals ends, even if the flood stopped. */
  private scheduleRefusalSummary(): void {
    if (this.refusalSummaryTimer) return;
    const at = this.refusalSampler.nextSummaryAtMs();
    if (at === undefined) return;
    this.refusalSummaryTimer = setTimeout(() => {
      this.refusalSummaryTimer = undefined;
      this.logSuppressed(this.refusalSampler.flush(performance.now()));
      this.scheduleRefusalSummary();
    }, Math.max(0, at - performance.now()) + 1);
    this.refusalSummaryTimer.unref();
  }

  /** Ends a session replaced by a new request from its peer: nothing is sent to the peer. */
  private supersede(entry: ActiveSession): void {
    entry.superseded = true;
    entry.driver?.cancel('superseded');
    this.release(entry);
  }

  /** Frees an entry's slots, once; a newer entry under the same key is left alone. */
  private release(entry: ActiveSession): void {
    if (entry.released) return;
    entry.released = true;
    if (this.sessions.get(entry.key) === entry) this.sessions.delete(entry.key);
    this.admission.release(entry.ticket);
    this.counters.bufferBytesReserved = this.admission.budget.reservedBytes;
    if (this.sessions.size === 0 && this.drainWaiters.length > 0) {
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      for (const w of waiters) w();
    }
  }
}
