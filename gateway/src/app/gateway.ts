/**
 * The gateway: wires the transport, admission and the accept step together, and owns their
 * lifecycle (start, graceful stop). The path of a request:
 *
 *   transport/listener.ts      datagram in; demultiplexed to a session, a reply, or a request
 *   admission/session-table.ts retransmission, new request, or a superseded session
 *   admission/request-gate.ts  allow/deny, rates, session caps -> a verdict (refusals.ts if no)
 *   accept/open-session.ts     handler, negotiation, buffers, TID socket, session, driver
 *   transport/session-driver.ts the session's datagrams, timer and source bytes until the end
 *   stats/session-bus.ts       the record: counters -> log -> hooks
 *
 * In the default mode each session gets its own socket (its TID, transport/tid-socket.ts),
 * bound to the local address the request arrived on; a stranger's datagram there gets ERROR 5
 * and the transfer goes on.
 */
import type dgram from 'node:dgram';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { ErrorCode } from '../protocol/error-codes.js';
import { Opcode, type RequestPacket } from '../protocol/packet.js';
import { normalizePath, type RequestPath } from '../protocol/path.js';
import type { RequestHandler } from '../handlers/request.js';
import type { Endpoint } from '../transport/endpoint.js';
import type { TftpRequest } from '../transport/tftp-request.js';
import type { GatewayConfig } from '../config/schema.js';
import { newServerCounters, type ServerCounters } from '../stats/counters.js';
import { SessionBus, type SessionHooks } from '../stats/session-bus.js';
import { Admission } from '../admission/admission.js';
import { AdmissionRefusals } from '../admission/refusals.js';
import { RequestGate } from '../admission/request-gate.js';
import { peerKey, SessionTable, type SessionEntry } from '../admission/session-table.js';
import { openSession, refuseRequest, type AcceptContext } from '../accept/open-session.js';
import { SessionPlan } from '../accept/session-plan.js';
import { Listeners, type ListeningSocket } from '../transport/listener.js';
import { replyError, StrangerReplies } from '../transport/stranger-replies.js';
import { TidSockets } from '../transport/tid-socket.js';

/** Called with every finished session's record (fbtftp's session-stats callback). */
export type GatewayHooks = SessionHooks;

/** The request's path for a refusal record: normalised when it can be, raw otherwise. */
function safePath(filename: string): RequestPath {
  try {
    return normalizePath(filename);
  } catch (e) {
    return { raw: filename, normalized: '', invalid: e };
  }
}

let requestSeq = 0;
const pidTag = process.pid.toString(36);

function makeRequest(kind: 'read' | 'write', path: RequestPath, packet: RequestPacket, peer: Endpoint, local: Endpoint): TftpRequest {
  return { id: `${pidTag}-${(++requestSeq).toString(36)}`, kind, path, mode: packet.mode, options: packet.options, peer, local };
}

export class Gateway {
  readonly counters: ServerCounters = newServerCounters();
  /** Names this gateway in session records, stats and metrics. */
  readonly id: string;
  private readonly listeners: Listeners;
  /** Sessions (and requests being admitted) by peer address|port. */
  private readonly table: SessionTable;
  /** Rate limits, concurrent-session limits and the buffer budget (gateway/src/admission). */
  private readonly admission: Admission;
  private readonly gate: RequestGate;
  private readonly refusals: AdmissionRefusals;
  private readonly tids: TidSockets;
  private readonly accept: AcceptContext;
  private accepting = false;

  constructor(
    private readonly config: GatewayConfig,
    private readonly handler: RequestHandler,
    private readonly log: Logger,
    hooks: GatewayHooks = {},
  ) {
    this.id = config.gatewayId ?? `${hostname()}-${process.pid}`;
    const bus = new SessionBus(this.counters, log, hooks);
    this.admission = new Admission(config, performance.now());
    this.gate = new RequestGate(config, this.admission);
    this.refusals = new AdmissionRefusals({ refusalLogSamples: config.refusalLogSamples, refusalLogIntervalMs: config.refusalLogIntervalMs, gatewayId: this.id }, this.counters, bus, log);
    this.table = new SessionTable(this.admission, this.counters);
    this.tids = new TidSockets(config, log);
    const strangers = new StrangerReplies(config.strangerRepliesPerSecond, this.counters);
    this.accept = {
      gatewayId: this.id,
      singlePort: config.singlePort,
      handler,
      plan: new SessionPlan(config, this.tids.portIsSecret),
      counters: this.counters,
      bus,
      admission: this.admission,
      refusals: this.refusals,
      table: this.table,
      tids: this.tids,
      strangers,
      log,
      isAccepting: () => this.accepting,
    };
    this.listeners = new Listeners(config, this.counters, strangers, log, {
      sessionOf: (peer) => this.table.get(peerKey(peer.address, peer.port))?.driver,
      onRequest: (via, packet, rinfo, msg) => this.onRequest(via, packet, rinfo, msg),
    });
  }

  /** How DATA windows leave: 'gso' (UDP_SEGMENT batches) or 'plain' (one dgram send each). */
  get sendPath(): string {
    return this.tids.sendPath;
  }

  get activeSessions(): number {
    return this.table.size;
  }

  /** Binds every listening socket; resolves with what is bound (port 0 becomes the real port). */
  async start(): Promise<Endpoint[]> {
    // The send path probe (a real GSO send between two loopback sockets, ~20 ms) settles first,
    // so the first window already leaves the way the log line says.
    await this.tids.sendPathReady;
    const bound = await this.listeners.start();
    this.accepting = true;
    return bound;
  }

  /** Stops accepting, lets sessions finish up to graceMs, then aborts the rest. */
  async stop(graceMs: number): Promise<void> {
    this.accepting = false;
    // Single-port sessions talk through the listening sockets: those close last.
    if (!this.config.singlePort) this.listeners.close();
    await this.table.drained(graceMs);
    for (const s of this.table.all()) s.driver?.abort(ErrorCode.NotDefined, 'server shutting down', 'shutdown');
    if (this.config.singlePort) this.listeners.close();
    this.tids.close();
    this.refusals.stop();
  }

  /** A decoded RRQ/WRQ from the listener: a retransmission, or a new request to admit. */
  private onRequest(via: ListeningSocket, packet: RequestPacket, rinfo: dgram.RemoteInfo, msg: Buffer): void {
    if (!this.accepting) return;
    const key = peerKey(rinfo.address, rinfo.port);
    if (this.table.arrive(key, msg) === 'duplicate') return;
    if (rinfo.port === 0) return;
    this.admit(via, packet, rinfo, msg, key, false);
  }

  /** Admission proper (allow/deny, rates, session limits), then the accept step. */
  private admit(via: ListeningSocket, packet: RequestPacket, rinfo: dgram.RemoteInfo, msg: Buffer, key: string, retry: boolean): void {
    const kind = packet.op === Opcode.Rrq ? 'read' : 'write';
    const peer: Endpoint = { address: rinfo.address, port: rinfo.port, family: rinfo.family as 'IPv4' | 'IPv6' };
    const verdict = this.gate.decide(rinfo.address, performance.now(), retry);
    if (!verdict.admitted) {
      // Busy now may be free after the datagrams already received (issue 13): decide once more.
      if (verdict.reason === 'busy' && !retry && this.table.defer(key, () => this.accepting && this.admit(via, packet, rinfo, msg, key, true))) return;
      this.refusals.refuse(
        verdict.limit,
        verdict.prefix,
        // Built only for a refusal that is sampled: a flood costs no request objects.
        () => makeRequest(kind, safePath(packet.filename), packet, peer, via.local),
        (code, message) => replyError(via.socket, rinfo, code, message),
      );
      return;
    }
    const entry = this.table.add(key, rinfo.address, msg, verdict.ticket);
    let path: RequestPath;
    try {
      path = normalizePath(packet.filename);
    } catch (e) {
      path = { raw: packet.filename, normalized: '', invalid: e };
      if (!this.handler.rewritesRawPath) {
        refuseRequest(this.accept, { entry, request: makeRequest(kind, path, packet, peer, via.local), via }, e, performance.now());
        return;
      }
    }
    const request = makeRequest(kind, path, packet, peer, via.local);
    let setup: Promise<void> | undefined;
    try {
      setup = openSession(this.accept, { entry, request, packet, via });
    } catch (e) {
      this.setupFailed(e, request.id, entry);
      return;
    }
    setup?.catch((e) => this.setupFailed(e, request.id, entry));
  }

  /** A bug while setting a session up: counted and logged, and its slot released. */
  private setupFailed(e: unknown, id: string, entry: SessionEntry): void {
    this.counters.internalErrors++;
    this.log.error({ event: 'internalError', err: e, id }, 'session setup failed');
    this.table.release(entry);
  }
}
