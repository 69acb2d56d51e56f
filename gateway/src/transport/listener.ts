/**
 * The listening sockets (port 69, or the configured one, on every configured address) and the
 * demultiplexing of what arrives there, as quinn-proto's Endpoint::handle: a datagram goes to
 *  (a) an existing session (single-port mode, keyed by peer address and port),
 *  (b) a new request (RRQ/WRQ), handed to the gateway's accept path with the socket it came in on,
 *  (c) an immediate reply: ERROR 5 to DATA/ACK from an unknown peer (through the shared
 *      stranger-reply rate), ERROR 4 to something shaped like a request that does not decode;
 *      anything else (ERROR, a stray OACK, junk) is dropped; what did not decode is counted.
 * Nothing the network sends can throw out of here: a bug costs one datagram, is counted as an
 * internal error and logged, never the gateway.
 */
import cluster from 'node:cluster';
import type dgram from 'node:dgram';
import type { Logger } from 'pino';
import { ErrorCode, type TftpError } from '../protocol/error-codes.js';
import { decodePacket, Opcode, type RequestPacket } from '../protocol/packet.js';
import type { Endpoint } from './endpoint.js';
import type { ServerCounters } from '../stats/counters.js';
import { bindUdp, expandHosts, listenError, listenSharing, type ListenAddress } from './bind.js';
import { replyError, type StrangerReplies } from './stranger-replies.js';

export interface ListeningSocket {
  readonly socket: dgram.Socket;
  readonly local: Endpoint;
}

export interface ListenerConfig {
  hosts: readonly string[];
  port: number;
  socketBufferBytes: number;
  singlePort: boolean;
  /**
   * Gateway processes (serve --processes). In a cluster worker on Node 22.12+ (bind.ts
   * listenSharing 'reusePort') this process binds its own socket with SO_REUSEPORT instead of
   * sharing the cluster primary's.
   */
  processes?: number;
}

export interface Demux {
  /** Single-port mode: the running session of this peer; onDatagram is false when it did not decode. */
  sessionOf(key: { address: string; port: number }): { onDatagram(msg: Buffer): boolean } | undefined;
  /** A decoded RRQ/WRQ (accept or refuse is the caller's). */
  onRequest(via: ListeningSocket, packet: RequestPacket, rinfo: dgram.RemoteInfo, msg: Buffer): void;
}

const opcodeOf = (msg: Buffer): number => (msg.length >= 2 ? (msg[0] << 8) | msg[1] : 0);

export class Listeners {
  private readonly sockets: ListeningSocket[] = [];

  constructor(
    private readonly config: ListenerConfig,
    private readonly counters: ServerCounters,
    private readonly strangers: StrangerReplies,
    private readonly log: Logger,
    private readonly demux: Demux,
  ) {}

  /** Binds every listening socket; resolves with what is bound (port 0 becomes the real port). */
  async start(): Promise<Endpoint[]> {
    const addrs = expandHosts(this.config.hosts);
    if (addrs.length === 0) throw new Error('no local address matches the configured hosts');
    let port = this.config.port;
    for (const a of addrs) {
      const socket = await this.bind(a, port);
      const bound = socket.address();
      // With port 0, the first listener picks the port and the others follow it.
      if (port === 0) port = bound.port;
      const listener: ListeningSocket = { socket, local: { address: a.address, port: bound.port, family: a.family } };
      socket.on('message', (msg, rinfo) => {
        try {
          this.onMessage(listener, msg, rinfo);
        } catch (e) {
          // A bug must cost one datagram, never the gateway.
          this.counters.internalErrors++;
          this.log.error({ event: 'internalError', err: e, peer: rinfo.address }, 'datagram handling failed');
        }
      });
      socket.on('error', (err) => this.log.error({ event: 'socketError', err, local: listener.local }, 'listener socket error'));
      this.sockets.push(listener);
    }
    return this.sockets.map((l) => l.local);
  }

  close(): void {
    for (const l of this.sockets) l.socket.close();
    this.sockets.length = 0;
  }

  private async bind(a: ListenAddress, port: number): Promise<dgram.Socket> {
    const reusePort = cluster.isWorker && listenSharing(this.config.processes ?? 1) === 'reusePort';
    try {
      // exclusive with SO_REUSEPORT: a cluster worker binds its own socket rather than asking the
      // primary for a shared handle (which would hand every process the same socket again).
      return await bindUdp({ address: a.address, family: a.family, port, exclusive: reusePort, reusePort, bufferBytes: this.config.socketBufferBytes });
    } catch (e) {
      throw listenError(a.address, port, e);
    }
  }

  private onMessage(listener: ListeningSocket, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.config.singlePort) {
      const op = opcodeOf(msg);
      // Requests go to admission, which tells retransmissions from new requests.
      if (op !== Opcode.Rrq && op !== Opcode.Wrq) {
        const session = this.demux.sessionOf(rinfo);
        if (session) {
          if (!session.onDatagram(msg)) this.counters.malformedPackets++;
          return;
        }
      }
    }
    let packet;
    try {
      packet = decodePacket(msg);
    } catch (e) {
      this.counters.malformedPackets++;
      const op = opcodeOf(msg);
      // Something shaped like a request deserves an answer; random junk is dropped.
      if (op === Opcode.Rrq || op === Opcode.Wrq) replyError(listener.socket, rinfo, ErrorCode.IllegalOperation, (e as TftpError).message);
      return;
    }
    switch (packet.op) {
      case Opcode.Rrq:
      case Opcode.Wrq:
        this.demux.onRequest(listener, packet, rinfo, msg);
        return;
      case Opcode.Data:
      case Opcode.Ack:
        this.strangers.answer(listener.socket, rinfo);
        return;
      default:
        // Never answer an ERROR (no error loops) or a stray OACK.
        return;
    }
  }
}
