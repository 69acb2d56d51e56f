/**
 * A byte-level TFTP peer for integration tests: one real dgram socket, a queue of decoded
 * datagrams, and waits that are always bounded. Used where the library client would hide the
 * detail under test (who answers from which port, what exactly is in a DATA block, a client
 * that stops ACKing or vanishes).
 */
import dgram from 'node:dgram';
import { decodePacket, encodeAck, encodeData, encodeError, encodePacket, type OptionMap, type Packet, type TransferMode } from '../../gateway/src/protocol/packet.js';

export interface Received {
  packet: Packet;
  raw: Buffer;
  from: { address: string; port: number };
}

export class RawPeer {
  private readonly queue: Received[] = [];
  private waiter: ((r: Received) => void) | undefined;
  private closed = false;

  private constructor(readonly socket: dgram.Socket, readonly serverAddress: string) {
    socket.on('message', (raw, rinfo) => {
      let packet: Packet;
      try {
        packet = decodePacket(raw);
      } catch {
        return;
      }
      const r = { packet, raw, from: { address: rinfo.address, port: rinfo.port } };
      const w = this.waiter;
      if (w) {
        this.waiter = undefined;
        w(r);
      } else {
        this.queue.push(r);
      }
    });
  }

  static async open(serverAddress = '127.0.0.1'): Promise<RawPeer> {
    const v6 = serverAddress.includes(':');
    const socket = dgram.createSocket(v6 ? 'udp6' : 'udp4');
    await new Promise<void>((resolve) => socket.bind(0, v6 ? '::1' : '127.0.0.1', resolve));
    return new RawPeer(socket, serverAddress);
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(bytes: Uint8Array, port: number): void {
    this.socket.send(bytes, port, this.serverAddress);
  }

  rrq(port: number, filename: string, options: OptionMap = {}, mode: TransferMode = 'octet'): void {
    this.send(encodePacket({ op: 1, filename, mode, options }), port);
  }

  wrq(port: number, filename: string, options: OptionMap = {}, mode: TransferMode = 'octet'): void {
    this.send(encodePacket({ op: 2, filename, mode, options }), port);
  }

  ack(port: number, block: number): void {
    this.send(encodeAck(block), port);
  }

  data(port: number, block: number, payload: Uint8Array): void {
    this.send(encodeData(block, payload), port);
  }

  error(port: number, code: number, message: string): void {
    this.send(encodeError(code, message), port);
  }

  /** The next datagram; rejects when none arrives within timeoutMs. */
  next(timeoutMs = 3000): Promise<Received> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.waiter) return Promise.reject(new Error('RawPeer: only one next() at a time'));
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`RawPeer: nothing received within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiter = (r) => {
        clearTimeout(t);
        resolve(r);
      };
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
    throw new Error(`RawPeer: expected silence, got ${JSON.stringify(describe(r.packet))} from port ${r.from.port}`);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.close();
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
