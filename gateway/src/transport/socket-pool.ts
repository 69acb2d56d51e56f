/**
 * Idle session sockets kept for reuse. Binding and closing a UDP socket costs two system calls
 * and a libuv handle each; for a boot storm of small files (grub.cfg, iPXE scripts) that was a
 * share of the gateway's CPU. A finished session's socket can go back here instead, bound to
 * the same local address, and a later session takes it.
 *
 * A session's port is also the only secret a blind spoofer lacks (RFC 1350 TIDs are meant to
 * be random; see the read session's "Proven peers"). Handing sockets out last-in-first-out
 * gave five sessions in a row the same port. So a socket is taken at random, and only while at
 * least `minIdleToReuse` sockets are idle: a guess from a port seen earlier then succeeds at
 * most once in `minIdleToReuse` tries. Below that a fresh socket is bound (port 0: Linux picks
 * a random ephemeral port). `maxIdlePerAddress` 0 turns reuse off.
 *
 * A late datagram from the previous peer (a repeated final ACK) may reach the next session on
 * that port: it is a stranger there and gets ERROR 5, which is harmless to a finished peer.
 * Sockets are unref'd while idle so they never keep the process alive.
 */
import { randomInt } from 'node:crypto';
import type dgram from 'node:dgram';

/** One listener for every idle socket's errors. */
const ignore = (): void => {};

export class SocketPool {
  private readonly idle = new Map<string, dgram.Socket[]>();
  private closed = false;

  constructor(
    private readonly maxIdlePerAddress: number,
    private readonly minIdleToReuse = 1,
  ) {}

  take(localAddress: string): dgram.Socket | undefined {
    const list = this.idle.get(localAddress);
    if (!list || list.length === 0 || list.length < this.minIdleToReuse) return undefined;
    const i = list.length === 1 ? 0 : randomInt(list.length);
    const socket = list[i];
    list[i] = list[list.length - 1];
    list.pop();
    socket.ref();
    return socket;
  }

  /** Keeps the socket for reuse, or closes it when the pool is full or shut. */
  give(localAddress: string, socket: dgram.Socket): void {
    let list = this.idle.get(localAddress);
    if (!list) this.idle.set(localAddress, (list = []));
    if (this.closed || list.length >= this.maxIdlePerAddress) {
      // Closed at once: it receives nothing more and reports no error, so its listeners stay
      // (with the pool off, the default, this is every session's socket: no listener churn).
      socket.close();
      return;
    }
    socket.removeAllListeners('message');
    socket.removeAllListeners('error');
    // An error on an idle socket (e.g. an ICMP report) must not be unhandled.
    socket.on('error', ignore);
    socket.unref();
    list.push(socket);
  }

  close(): void {
    this.closed = true;
    for (const list of this.idle.values()) for (const s of list.splice(0)) s.close();
  }
}
