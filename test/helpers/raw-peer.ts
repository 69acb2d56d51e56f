/**
 * A byte-level TFTP peer for tests that must see exact datagrams: one real dgram socket on
 * loopback, a queue of what it received, and waits that are always bounded. Used where the
 * library client would hide the detail under test: which port a reply came from, what exactly
 * is in a DATA block or an ERROR, how many datagrams an unacknowledged request produced, a
 * client that stops ACKing or vanishes.
 *
 * Two ways to read a datagram: `parse(r.msg)` and the builders below (`rrq`, `ack`, ...) are
 * written here by hand, independently of the gateway's codec (interop, fuzz and reflection
 * tests); `r.packet` decodes with the gateway's codec (integration tests).
 */
import dgram from 'node:dgram';
import { decodePacket, encodeAck, encodeData, encodeError, encodePacket, type OptionMap, type Packet, type TransferMode } from '../../gateway/src/protocol/packet.js';

/** One datagram received: its bytes and sender; `packet` decodes it (throws if malformed). */
export class Received {
  constructor(
    readonly msg: Buffer,
    readonly address: string,
    readonly port: number,
  ) {}

  get raw(): Buffer {
    return this.msg;
  }

  get from(): { address: string; port: number } {
    return { address: this.address, port: this.port };
  }

  get packet(): Packet {
    return decodePacket(this.msg);
  }
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
  /** Every datagram received, taken or not. */
  readonly received: Received[] = [];
  private readonly waiters: ((r: Received) => void)[] = [];
  private readonly queue: Received[] = [];
  private closed = false;

  private constructor(
    readonly socket: dgram.Socket,
    /** Where `send` and the request/ACK/DATA/ERROR helpers go unless told otherwise. */
    readonly serverAddress: string,
  ) {
    socket.on('message', (msg, rinfo) => {
      const r = new Received(msg, rinfo.address, rinfo.port);
      this.received.push(r);
      const w = this.waiters.shift();
      if (w) w(r);
      else this.queue.push(r);
    });
    // A closed port on loopback can answer with ICMP; the tests look at datagrams only.
    socket.on('error', () => {});
  }

  /** A socket bound to port 0 on `address` (a loopback address), talking to `address`. */
  static async open(address = '127.0.0.1'): Promise<RawPeer> {
    const socket = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, address, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    return new RawPeer(socket, address);
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(msg: Uint8Array, port: number, address = this.serverAddress): Promise<void> {
    return new Promise((resolve, reject) => this.socket.send(msg, port, address, (err) => (err ? reject(err) : resolve())));
  }

  /** Fire and forget, for the fuzzers and the helpers below: no promise per datagram. */
  sendNow(msg: Uint8Array, port: number, address = this.serverAddress): void {
    this.socket.send(msg, port, address);
  }

  rrq(port: number, filename: string, options: OptionMap = {}, mode: TransferMode = 'octet'): void {
    this.sendNow(encodePacket({ op: 1, filename, mode, options }), port);
  }

  wrq(port: number, filename: string, options: OptionMap = {}, mode: TransferMode = 'octet'): void {
    this.sendNow(encodePacket({ op: 2, filename, mode, options }), port);
  }

  ack(port: number, block: number): void {
    this.sendNow(encodeAck(block), port);
  }

  data(port: number, block: number, payload: Uint8Array): void {
    this.sendNow(encodeData(block, payload), port);
  }

  error(port: number, code: number, message: string): void {
    this.sendNow(encodeError(code, message), port);
  }

  /** The next datagram not yet taken, or a rejection after `timeoutMs`. */
  next(timeoutMs = 2000): Promise<Received> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`RawPeer: no datagram within ${timeoutMs} ms on port ${this.port}`));
      }, timeoutMs);
      const w = (r: Received) => {
        clearTimeout(t);
        resolve(r);
      };
      this.waiters.push(w);
    });
  }

  /** The next datagram, which must have opcode `op`; returns it narrowed. */
  async expect<K extends Packet['op']>(op: K, timeoutMs = 3000): Promise<Received & { packet: Extract<Packet, { op: K }> }> {
    const r = await this.next(timeoutMs);
    if (r.packet.op !== op) throw new Error(`RawPeer: expected opcode ${op}, got ${JSON.stringify(describe(r.packet))}`);
    return r as Received & { packet: Extract<Packet, { op: K }> };
  }

  /**
   * Resolves when nothing arrives for windowMs; rejects with what arrived otherwise. The one
   * place a test waits out a fixed time: proving that no answer comes needs a deadline.
   */
  async silentFor(windowMs: number): Promise<void> {
    let r: Received;
    try {
      r = await this.next(windowMs);
    } catch {
      return;
    }
    throw new Error(`RawPeer: expected silence, got ${JSON.stringify(describe(r.packet))} from port ${r.port}`);
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

function describe(p: Packet): unknown {
  return p.op === 3 ? { op: 3, block: p.block, bytes: p.data.length } : p;
}

/** Polls `pred` every few ms until it holds; rejects after timeoutMs (a bounded loop). */
export async function waitUntil(pred: () => boolean, timeoutMs = 3000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Deterministic pseudo-random bytes (xorshift32), so failures reproduce. */
export function seededBytes(length: number, seed = 0x2545f491): Buffer {
  const out = Buffer.allocUnsafe(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/**
 * Byte-for-byte comparison that stays fast on large buffers (deep equality walks every
 * element) and says where the first difference is.
 */
export function sameBytes(actual: Uint8Array | undefined, expected: Uint8Array): string {
  if (!actual) return 'no data';
  if (Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength).equals(expected)) return 'same';
  let i = 0;
  while (i < actual.length && i < expected.length && actual[i] === expected[i]) i++;
  return `differ: ${actual.length} bytes vs ${expected.length} expected, first difference at offset ${i}`;
}
