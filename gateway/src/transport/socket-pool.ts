/**
 * Idle session sockets kept for reuse. Binding and closing a UDP socket costs two system calls
 * and a libuv handle each; for a boot storm of small files (grub.cfg, iPXE scripts) that was a
 * fifth of the gateway's CPU. A finished session's socket goes back here instead, bound to the
 * same local address, and the next session takes it.
 *
 * A late datagram from the previous peer (a repeated final ACK) may reach the next session on
 * that port: it is a stranger there and gets ERROR 5, which is harmless to a finished peer.
 * Sockets are unref'd while idle so they never keep the process alive.
 */
import type dgram from 'node:dgram';

export class SocketPool {
  private readonly idle = new Map<string, dgram.Socket[]>();
  private closed = false;

  constructor(private readonly maxIdlePerAddress: number) {}

  take(localAddress: string): dgram.Socket | undefined {
    const list = this.idle.get(localAddress);
    const socket = list?.pop();
    socket?.ref();
    return socket;
  }

  /** Keeps the socket for reuse, or closes it when the pool is full or shut. */
  give(localAddress: string, socket: dgram.Socket): void {
    socket.removeAllListeners('message');
    socket.removeAllListeners('error');
    // An error on an idle socket (e.g. an ICMP report) must not be unhandled.
    socket.on('error', () => {});
    let list = this.idle.get(localAddress);
    if (!list) this.idle.set(localAddress, (list = []));
    if (this.closed || list.length >= this.maxIdlePerAddress) {
      socket.close();
      return;
    }
    socket.unref();
    list.push(socket);
  }

  close(): void {
    this.closed = true;
    for (const list of this.idle.values()) for (const s of list.splice(0)) s.close();
  }
}
