/**
 * A raw TFTP peer for tests that need to see exact datagrams: which port a reply came from,
 * the ERROR code on the wire, how many datagrams an unacknowledged request produced.
 * Packets are built and parsed here by hand, independently of the gateway's codec.
 */
import dgram from 'node:dgram';

export interface Received {
  msg: Buffer;
  address: string;
  port: number;
}

/** What a reply says, as far as the tests care. */
export interface Parsed {
  op: number;
  block?: number;
  code?: number;
  message?: string;
  data?: Buffer;
  options?: Record<string, string>;
}

const OP_NAMES = ['?', 'RRQ', 'WRQ', 'DATA', 'ACK', 'ERROR', 'OACK'];

export function parse(msg: Buffer): Parsed {
  const op = msg.length >= 2 ? msg.readUInt16BE(0) : -1;
  switch (op) {
    case 3:
      return { op, block: msg.readUInt16BE(2), data: msg.subarray(4) };
    case 4:
      return { op, block: msg.readUInt16BE(2) };
    case 5: {
      const end = msg.indexOf(0, 4);
      return { op, code: msg.readUInt16BE(2), message: msg.subarray(4, end < 0 ? msg.length : end).toString('utf8') };
    }
    case 6: {
      const parts = msg.subarray(2).toString('latin1').split('\0');
      const options: Record<string, string> = {};
      for (let i = 0; i + 1 < parts.length; i += 2) options[parts[i].toLowerCase()] = parts[i + 1];
      return { op, options };
    }
    default:
      return { op };
  }
}

export function opName(op: number): string {
  return OP_NAMES[op] ?? `op${op}`;
}

/** RRQ (op 1) or WRQ (op 2): filename, mode, then option name/value pairs, each NUL-ended. */
export function request(op: 1 | 2, filename: string, mode = 'octet', options: Record<string, string | number> = {}): Buffer {
  const parts = [filename, mode];
  for (const [k, v] of Object.entries(options)) parts.push(k, String(v));
  return Buffer.concat([u16(op), ...parts.map((p) => Buffer.from(`${p}\0`, 'latin1'))]);
}

export const rrq = (filename: string, options: Record<string, string | number> = {}, mode = 'octet') => request(1, filename, mode, options);
export const wrq = (filename: string, options: Record<string, string | number> = {}, mode = 'octet') => request(2, filename, mode, options);
export const data = (block: number, bytes: Uint8Array) => Buffer.concat([u16(3), u16(block & 0xffff), bytes]);
export const ack = (block: number) => Buffer.concat([u16(4), u16(block & 0xffff)]);
export const error = (code: number, message: string) => Buffer.concat([u16(5), u16(code), Buffer.from(`${message}\0`, 'utf8')]);

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

/** A UDP socket with a queue of what it received; `next()` waits for one datagram. */
export class RawPeer {
  readonly received: Received[] = [];
  private readonly waiters: ((r: Received) => void)[] = [];
  private readonly queue: Received[] = [];
  private closed = false;

  private constructor(readonly socket: dgram.Socket) {
    socket.on('message', (msg, rinfo) => {
      const r = { msg, address: rinfo.address, port: rinfo.port };
      this.received.push(r);
      const w = this.waiters.shift();
      if (w) w(r);
      else this.queue.push(r);
    });
    // A closed port on loopback can answer with ICMP; the tests look at datagrams only.
    socket.on('error', () => {});
  }

  static async open(address = '127.0.0.1'): Promise<RawPeer> {
    const socket = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, address, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    return new RawPeer(socket);
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(msg: Uint8Array, port: number, address = '127.0.0.1'): Promise<void> {
    return new Promise((resolve, reject) => this.socket.send(msg, port, address, (err) => (err ? reject(err) : resolve())));
  }

  /** Fire and forget, for the fuzzers: no promise per datagram. */
  sendNow(msg: Uint8Array, port: number, address = '127.0.0.1'): void {
    this.socket.send(msg, port, address);
  }

  /** The next datagram not yet taken, or a rejection after `timeoutMs`. */
  next(timeoutMs = 2000): Promise<Received> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`no datagram within ${timeoutMs} ms on port ${this.port}`));
      }, timeoutMs);
      const w = (r: Received) => {
        clearTimeout(t);
        resolve(r);
      };
      this.waiters.push(w);
    });
  }

  /** Drops whatever is queued and not yet taken. */
  drain(): Received[] {
    return this.queue.splice(0);
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
