/**
 * A session's own socket: its TID (RFC 1350 §4), bound to the local address the request
 * arrived on (NIC firmware drops DATA from any other address), taken from the pool of finished
 * sessions' sockets when one is idle, and sized for the negotiated window.
 *
 * Also the one place that knows whether the port is a secret: a blind spoofer must guess it
 * only when there are many to guess from (see ReadSession, "Proven peers"). Not so in
 * single-port mode, with a narrow portRange, or when sockets are reused (a spoofer may have
 * seen the idle ports in its own sessions).
 *
 * watchTid() routes what arrives there: the peer's datagrams to the session, a stranger's to
 * the (rate-limited) ERROR 5 reply. A bug handling one datagram ends that session, never the
 * gateway.
 */
import type dgram from 'node:dgram';
import type { Logger } from 'pino';
import type { Datagram } from '../session/types.js';
import type { Endpoint } from './endpoint.js';
import { bindSessionSocket } from './bind.js';
import { SocketPool } from './socket-pool.js';
import { WindowSender, type Peer, type SendPathMode } from './batch-send/window-sender.js';
import type { SendPath } from './batch-send/send-path-stats.js';

/** Linux's usual net.core.wmem_default / rmem_default. */
const DEFAULT_SOCKET_BUFFER_BYTES = 212_992;

/** A portRange narrower than this is guessable: ACKs there prove nothing. */
const MIN_SECRET_PORTS = 4096;

export interface TidSocketConfig {
  singlePort: boolean;
  sessionSocketPool: number;
  socketBufferBytes: number;
  portRange?: string;
  /** How DATA windows leave (batch-send/window-sender.ts); absent: 'auto'. */
  sendPath?: SendPathMode;
}

export class TidSockets {
  /** Finished sessions' sockets, reused (at random, from a large idle set) by later sessions. */
  private readonly pool: SocketPool;
  private readonly portRange: { low: number; high: number } | undefined;
  /** A valid ACK at a session's port is evidence that the peer reads our packets. */
  readonly portIsSecret: boolean;
  /** Sends a session's windows: UDP GSO runs where usable, dgram otherwise. */
  private readonly windows: WindowSender;

  constructor(
    private readonly config: TidSocketConfig,
    log?: Pick<Logger, 'info' | 'warn'>,
  ) {
    this.windows = new WindowSender(config.sendPath ?? 'auto', { log });
    // Reused at random, and only once a quarter of the pool is idle (see SocketPool).
    this.pool = new SocketPool(config.sessionSocketPool, Math.max(1, Math.ceil(config.sessionSocketPool / 4)));
    if (config.portRange) {
      const [low, high] = config.portRange.split('-').map(Number);
      this.portRange = { low, high };
    }
    this.portIsSecret =
      !config.singlePort && config.sessionSocketPool === 0 && (this.portRange === undefined || this.portRange.high - this.portRange.low + 1 >= MIN_SECRET_PORTS);
  }

  /**
   * A socket for a new session on `local`, sized for its window: at once when the bind finished
   * inside the call (the usual case, transport/bind.ts bindUdpSoon), else a promise. Throws (or
   * rejects) when none can be bound.
   */
  open(local: Endpoint, window: { windowSize: number; blockSize: number }): dgram.Socket | Promise<dgram.Socket> {
    // Larger socket buffers only where a window would not fit the kernel's default (~208 KiB,
    // and a datagram is charged about twice its length): two setsockopt calls saved on every
    // small transfer.
    const windowBytes = window.windowSize * (window.blockSize + 4);
    const bufferBytes = windowBytes * 4 > DEFAULT_SOCKET_BUFFER_BYTES ? this.config.socketBufferBytes : 0;
    const reused = this.pool.take(local.address);
    if (reused && bufferBytes > 0) {
      reused.setRecvBufferSize(bufferBytes);
      reused.setSendBufferSize(bufferBytes);
    }
    return reused ?? bindSessionSocket(local.address, local.family, this.portRange, bufferBytes);
  }

  /** Settles with the send path once detection at start is done (windows go through dgram until then). */
  get sendPathReady(): Promise<SendPath> {
    return this.windows.ready;
  }

  /** The send path windows take now ('gso' or 'plain'), for the listening log line. */
  get sendPath(): SendPath {
    return this.windows.currentPath;
  }

  /**
   * Sends what the session polled out in one drain (a window, or one packet) to its peer, in
   * order, from `socket`: the session's TID socket, or the listening socket in single-port mode.
   */
  sendWindow(socket: dgram.Socket, datagrams: readonly Datagram[], peer: Peer): void {
    this.windows.sendWindow(socket, datagrams, peer);
  }

  /** A session's socket back, for reuse (or closed when the pool is off or full). */
  give(localAddress: string, socket: dgram.Socket): void {
    this.pool.give(localAddress, socket);
  }

  close(): void {
    this.pool.close();
  }
}

export interface TidRoutes {
  /** The peer's datagram; throws only on a bug. */
  onPeerDatagram(msg: Buffer): void;
  /** RFC 1350: a packet from a stranger's TID gets ERROR 5; our transfer is unharmed. */
  onStranger(rinfo: dgram.RemoteInfo): void;
  /** A bug while handling the peer's datagram. */
  onInternalError(e: unknown): void;
  onSocketError(err: Error): void;
}

/** Routes a session socket's datagrams: the peer's to the session, anyone else's to onStranger. */
export function watchTid(socket: dgram.Socket, peer: Endpoint, routes: TidRoutes): void {
  socket.on('message', (msg, rinfo) => {
    if (rinfo.port !== peer.port || rinfo.address !== peer.address) {
      routes.onStranger(rinfo);
      return;
    }
    try {
      routes.onPeerDatagram(msg);
    } catch (e) {
      routes.onInternalError(e);
    }
  });
  socket.on('error', (err) => routes.onSocketError(err));
}
