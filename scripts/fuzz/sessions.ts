/**
 * Session fuzz: the pure read and write machines driven through the public Session interface
 * (gateway/src/session/types.ts) by a scripted peer that mixes correct, duplicate, early,
 * late, wrapped and absurd packets, arbitrary timings and source behaviour.
 *
 * Invariants checked on every case:
 *  - handle() and the poll* calls never throw;
 *  - every deadline is a finite time no earlier than `now` (or undefined);
 *  - one input never makes the session send more than 2 × windowsize + 2 datagrams, and no
 *    DATA carries more than blksize bytes;
 *  - a peer that never ACKs gets at most 1 + firstPacketRetries datagrams plus one per datagram
 *    it sent (reflection bound), and an honest peer that ACKs every block in order gets at
 *    most the file × 17/16 plus one window (issue 9 §1);
 *  - an upload hands the sink exactly the in-order prefix of what the peer sent, never more
 *    than maxBytes;
 *  - at most one terminal event (done / failed), and the session finishes: fed only timeouts
 *    (with its source and sink answering), it reaches `finished` within a bounded number of steps.
 */
import { ErrorCode, TftpError } from '../../gateway/src/protocol/error-codes.js';
import { decodePacket, encodeData, encodeError, Opcode, type OptionMap, type Packet } from '../../gateway/src/protocol/packet.js';
import { ReadSession } from '../../gateway/src/session/read-session.js';
import { datagramBytes, type Session, type SessionInput } from '../../gateway/src/session/types.js';
import { WriteSession } from '../../gateway/src/session/write-session.js';
import { hostileDatagram, type Rand } from '../../test/robustness/datagrams.js';

const int = (rand: Rand, lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
const pick = <T>(rand: Rand, items: readonly T[]): T => items[Math.floor(rand() * items.length)];

export interface SessionStats {
  readCases: number;
  writeCases: number;
  inputs: number;
  datagrams: number;
  outcomes: Record<string, number>;
}

class CaseFailure extends Error {}

/** FUZZ_TRACE=1 prints every input and output of a case (use with --cases 1). */
const trace = process.env.FUZZ_TRACE ? (...a: unknown[]) => console.log('  trace', ...a) : () => {};

function timing(rand: Rand) {
  const timeoutMs = pick(rand, [10, 100, 1000, int(rand, 10, 5000)]);
  const progress = rand() < 0.3;
  return {
    timeoutMs,
    maxRetries: int(rand, 0, 6),
    firstPacketRetries: int(rand, 0, 3),
    unprovenRetries: rand() < 0.5 ? int(rand, 0, 4) : undefined,
    backoffFactor: pick(rand, [1, 1.5, 2]),
    maxTimeoutMs: timeoutMs * pick(rand, [1, 2, 5, 10]),
    minProgressBytes: progress ? pick(rand, [1, 512, 65536]) : undefined,
    progressIntervalMs: progress ? pick(rand, [100, 1000, 10_000]) : undefined,
    maxSessionMs: rand() < 0.2 ? pick(rand, [50, 1000, 60_000]) : undefined,
  };
}

/** What a case observed, checked as it goes. */
class Observer {
  now: number;
  sent = 0;
  dataPayload = 0;
  terminal = 0;
  outcome = 'none';
  peerDatagrams = 0;
  repeats = 0;
  steps = 0;
  received: Packet[] = [];
  needData: number | undefined;
  writeEnd = false;
  written: Uint8Array[] = [];
  writtenBytes = 0;

  constructor(
    readonly s: Session,
    start: number,
    readonly blockSize: number,
    readonly windowSize: number,
    readonly stats: SessionStats,
  ) {
    this.now = start;
    this.drain('construct');
  }

  fail(why: string): never {
    throw new CaseFailure(`${why} (step ${this.steps}, now ${this.now}, sent ${this.sent}, outcome ${this.outcome})`);
  }

  input(i: SessionInput, label: string): void {
    this.steps++;
    this.stats.inputs++;
    trace(`t=${this.now}`, label, i.type === 'packet' ? JSON.stringify(i.packet, (k, v) => (k === 'data' ? `${v.length} bytes [${Buffer.from(v).subarray(0, 4).toString('hex')}]` : v)) : i.type);
    try {
      this.s.handle(i, this.now);
    } catch (e) {
      this.fail(`handle(${label}) threw ${(e as Error)?.stack ?? e}`);
    }
    this.drain(label);
  }

  private drain(label: string): void {
    let n = 0;
    for (let d = this.s.pollTransmit(); d !== undefined; d = this.s.pollTransmit()) {
      n++;
      this.sent++;
      this.stats.datagrams++;
      const bytes = datagramBytes(d);
      let p: Packet;
      try {
        p = decodePacket(bytes);
      } catch (e) {
        this.fail(`${label}: sent an undecodable datagram: ${(e as Error).message}`);
      }
      if (p.op === Opcode.Data) {
        if (p.data.length > this.blockSize) this.fail(`${label}: DATA ${p.block} carries ${p.data.length} > blksize ${this.blockSize}`);
        this.dataPayload += p.data.length;
      }
      this.received.push(p);
      trace('    sent', JSON.stringify(p, (k, v) => (k === 'data' ? `${v.length} bytes` : v)));
    }
    if (n > 2 * this.windowSize + 2) this.fail(`${label}: one input made ${n} datagrams (window ${this.windowSize})`);
    for (let e = this.s.pollEvent(); e !== undefined; e = this.s.pollEvent()) {
      if (e.type === 'needData') this.needData = e.minBytes;
      else if (e.type === 'writeData') {
        this.written.push(e.chunk);
        trace('    writeData', e.chunk.length, Buffer.from(e.chunk).subarray(0, 4).toString('hex'));
        this.writtenBytes += e.chunk.length;
      } else if (e.type === 'writeEnd') this.writeEnd = true;
      else {
        this.terminal++;
        this.outcome = e.type === 'done' ? 'ok' : e.outcome;
        if (this.terminal > 1) this.fail(`${label}: a second terminal event (${e.type})`);
      }
    }
    const t = this.s.pollTimeout();
    if (t !== undefined && (!Number.isFinite(t) || t < this.now)) this.fail(`${label}: deadline ${t} is before now ${this.now}`);
    if (this.s.finished && this.terminal === 0) this.fail(`${label}: finished without a done/failed event`);
  }

  /** Moves time forward; fires the timeout when its deadline has passed. */
  advance(ms: number): void {
    this.now += ms;
    const t = this.s.pollTimeout();
    if (t !== undefined && this.now >= t) this.input({ type: 'timeout' }, 'timeout');
  }

  /** Jumps to the next deadline and fires it; false when there is none. */
  fireNext(): boolean {
    const t = this.s.pollTimeout();
    if (t === undefined) return false;
    this.now = Math.max(this.now, t);
    this.input({ type: 'timeout' }, 'timeout');
    return true;
  }

  peer(bytes: Uint8Array | Packet, label: string): void {
    this.peerDatagrams++;
    let p: Packet;
    if (bytes instanceof Uint8Array) {
      try {
        p = decodePacket(bytes);
      } catch {
        return; // the driver drops what does not decode (and answers it, outside the session)
      }
    } else p = bytes;
    this.input({ type: 'packet', packet: p }, label);
  }
}

/** A source of `size` bytes that answers needData with random-sized chunks, or fails. */
class Source {
  fed = 0;
  ended = false;
  constructor(
    readonly size: number,
    private readonly failAt: number | undefined,
  ) {}
  serve(o: Observer, rand: Rand): void {
    if (o.needData === undefined || o.s.finished) return;
    const min = o.needData;
    o.needData = undefined;
    if (this.failAt !== undefined && this.fed >= this.failAt) {
      o.input({ type: 'sourceError', error: new TftpError(ErrorCode.NotDefined, 'upstream unavailable', { code: 'TFTP_UPSTREAM_FAILED' }) }, 'sourceError');
      return;
    }
    const remaining = this.size - this.fed;
    if (remaining > 0) {
      const n = Math.min(remaining, Math.max(1, min + (rand() < 0.5 ? 0 : int(rand, 0, min * 2))));
      this.fed += n;
      o.input({ type: 'data', chunk: new Uint8Array(n) }, 'data');
    }
    if (this.fed === this.size && !this.ended && (remaining === 0 || rand() < 0.5)) {
      this.ended = true;
      o.input({ type: 'end' }, 'end');
    }
  }
}

function oackFor(rand: Rand, blockSize: number, windowSize: number): OptionMap | null {
  if (rand() < 0.4) return null;
  const o: OptionMap = {};
  if (blockSize !== 512 || rand() < 0.5) o.blksize = String(blockSize);
  if (windowSize > 1) o.windowsize = String(windowSize);
  if (rand() < 0.3) o.tsize = '0';
  return Object.keys(o).length ? o : null;
}

/** One read-session case; throws CaseFailure on a broken invariant. */
export function readCase(rand: Rand, stats: SessionStats): void {
  stats.readCases++;
  const blockSize = pick(rand, [8, 9, 512, 1468, int(rand, 8, 2000)]);
  const windowSize = pick(rand, [1, 1, 2, 4, 8, 64]);
  const t = timing(rand);
  const cfg = {
    ...t,
    blockSize,
    windowSize,
    oack: oackFor(rand, blockSize, windowSize),
    maxWindowBytes: rand() < 0.3 ? pick(rand, [blockSize, 4 * blockSize, 65536]) : undefined,
    slowStartBlocks: rand() < 0.5 ? int(rand, 1, 4) : undefined,
    ackIsEvidence: rand() < 0.5,
  };
  // Now and then past 65,535 blocks at blksize 8 (block-number rollover); small files otherwise.
  const size = rand() < 0.01 ? 65536 * 8 + 3 : pick(rand, [0, blockSize - 1, blockSize, blockSize * int(rand, 1, 5), int(rand, 0, 200 * blockSize)]);
  const source = new Source(size, rand() < 0.1 ? int(rand, 0, size) : undefined);
  const mode = pick(rand, ['honest', 'mixed', 'mixed', 'mixed', 'silent', 'noAck'] as const);
  const start = pick(rand, [0, 1e6, rand() * 1e9]);
  const o = new Observer(new ReadSession(cfg, start), start, blockSize, windowSize, stats);

  let lastInOrder = 0; // absolute, what an honest peer has received in order
  let cursor = 0; // index into o.received
  let peerAcks = 0;
  const steps = mode === 'honest' ? 200_000 : int(rand, 0, 120);
  for (let i = 0; i < steps && !o.s.finished; i++) {
    source.serve(o, rand);
    if (mode === 'honest') {
      // ACK each DATA (and the OACK) in order as it arrives; time passes only when idle.
      if (cursor < o.received.length) {
        const p = o.received[cursor++];
        if (p.op === Opcode.Oack && lastInOrder === 0) o.peer({ op: Opcode.Ack, block: 0 }, 'ack0');
        else if (p.op === Opcode.Data && p.block === ((lastInOrder + 1) & 0xffff)) {
          lastInOrder++;
          o.peer({ op: Opcode.Ack, block: p.block }, 'ack');
        }
        continue;
      }
      if (!o.fireNext() && o.needData === undefined) break;
      continue;
    }
    const r = rand();
    if (mode === 'silent' || r < 0.25) o.advance(pick(rand, [0, 1, t.timeoutMs / 2, t.timeoutMs, 3 * t.timeoutMs, int(rand, 0, 100_000)]));
    else if (r < 0.3) {
      o.repeats++;
      o.input({ type: 'repeatRequest' }, 'repeatRequest');
    } else if (mode === 'noAck' || r < 0.45) {
      // Anything but an ACK: hostile datagrams, ERRORs (code 8 is the UEFI probe), DATA, OACK.
      const bytes = hostileDatagram(rand);
      if (bytes.length >= 2 && bytes[1] === Opcode.Ack && bytes[0] === 0) continue;
      if (mode === 'noAck' && rand() < 0.9) continue; // mostly silence for the no-ACK bound
      o.peer(bytes, 'junk');
    } else {
      // An ACK: the right one, a duplicate, one from the future, a wrapped or absurd one.
      const lastData = [...o.received].reverse().find((p) => p.op === Opcode.Data) as { block: number } | undefined;
      const near = lastData ? lastData.block : 0;
      const block = pick(rand, [near, near, near - 1, near + 1, near - int(rand, 0, 70), 0, 65535, int(rand, 0, 65535)]) & 0xffff;
      peerAcks++;
      o.peer({ op: Opcode.Ack, block }, 'ack');
    }
  }
  if (mode === 'noAck' || (mode === 'silent' && peerAcks === 0)) {
    // Reflection bound: one datagram per datagram the peer sent, beyond the first flight and
    // the first packet's retransmits (an ERROR reply counts as one more). The first flight is
    // the OACK, or the slow-start window of DATA (the full window when the config sets no
    // slow start: the gateway always sets one, the machine allows either).
    const fullWindow = Math.max(1, Math.min(windowSize, cfg.maxWindowBytes === undefined ? windowSize : Math.floor(cfg.maxWindowBytes / blockSize)));
    const firstFlight = cfg.oack ? 1 : Math.min(fullWindow, cfg.slowStartBlocks ?? fullWindow);
    const bound = firstFlight + t.firstPacketRetries + o.repeats + o.peerDatagrams + 1;
    if (o.sent > bound) o.fail(`a peer that never ACKed got ${o.sent} datagrams (bound ${bound})`);
  }
  finish(o, source, rand);
  if (mode === 'honest' && o.outcome === 'ok') {
    const bound = (size * 17) / 16 + windowSize * blockSize + blockSize;
    if (o.dataPayload > bound) o.fail(`an honest peer made us send ${o.dataPayload} payload bytes for a ${size}-byte file (bound ${Math.round(bound)})`);
  }
  stats.outcomes[`read:${o.outcome}`] = (stats.outcomes[`read:${o.outcome}`] ?? 0) + 1;
}

/** Drives a session to its end with timeouts only, its source and sink answering. */
function finish(o: Observer, source: Source | undefined, rand: Rand, commit?: () => void): void {
  for (let guard = 0; guard < 10_000; guard++) {
    if (o.s.finished) return;
    source?.serve(o, rand);
    commit?.();
    if (o.s.finished) return;
    if (!o.fireNext()) {
      if (o.needData !== undefined || (o.writeEnd && commit)) continue;
      o.fail('not finished, and no deadline and nothing owed to it: the session would hang');
    }
  }
  o.fail('not finished after 10,000 timeouts');
}

/** One write-session case. */
export function writeCase(rand: Rand, stats: SessionStats): void {
  stats.writeCases++;
  const blockSize = pick(rand, [8, 512, 1468, int(rand, 8, 2000)]);
  const windowSize = pick(rand, [1, 1, 2, 4, 16]);
  const t = timing(rand);
  const maxBytes = pick(rand, [0, 100, 4096, 1_000_000]);
  const cfg = { ...t, blockSize, windowSize, oack: oackFor(rand, blockSize, windowSize), maxBytes };
  const size = pick(rand, [0, blockSize - 1, blockSize, blockSize * int(rand, 1, 4), int(rand, 0, 50 * blockSize)]);
  const file = new Uint8Array(size);
  for (let i = 0; i < size; i++) file[i] = (i * 31 + (i >> 8)) & 0xff;
  const blocks = Math.floor(size / blockSize) + 1; // the last one short, possibly empty
  const block = (n: number) => file.subarray((n - 1) * blockSize, Math.min(size, n * blockSize));
  const start = pick(rand, [0, 1e6, rand() * 1e9]);
  const o = new Observer(new WriteSession(cfg, start), start, blockSize, windowSize, stats);
  const commitFails = rand() < 0.1;
  let commitDelay = int(rand, 0, 3);
  const commit = () => {
    if (!o.writeEnd || o.s.finished) return;
    if (commitDelay-- > 0) return;
    o.writeEnd = false;
    if (commitFails) o.input({ type: 'sourceError', error: new TftpError(ErrorCode.DiskFull, 'disk full or allocation exceeded') }, 'commitFailed');
    else o.input({ type: 'committed' }, 'committed');
  };

  let next = 1; // the peer's next block to send
  const steps = int(rand, 0, 150);
  for (let i = 0; i < steps && !o.s.finished; i++) {
    commit();
    const r = rand();
    if (r < 0.2) o.advance(pick(rand, [0, 1, t.timeoutMs, 3 * t.timeoutMs, int(rand, 0, 100_000)]));
    else if (r < 0.25) {
      o.repeats++;
      o.input({ type: 'repeatRequest' }, 'repeatRequest');
    } else if (r < 0.35) {
      // Junk that happens to be a well-formed DATA is real data to the session: leave it out,
      // or the prefix check below would blame the session for the peer's own bytes.
      const junk = hostileDatagram(rand);
      if (!(junk.length >= 4 && junk[0] === 0 && junk[1] === Opcode.Data)) o.peer(junk, 'junk');
    }
    else if (r < 0.4) {
      // A block larger than blksize, a block from far away, or an ERROR.
      const k = int(rand, 0, 2);
      if (k === 0) o.peer(encodeData(next & 0xffff, new Uint8Array(blockSize + int(rand, 1, 4))), 'oversize');
      else if (k === 1) {
        // Any block number, with that block's true bytes (files here stay far below 65,536
        // blocks, so a number past the last block is never expected and may carry anything).
        const n = int(rand, 0, 65535);
        o.peer(encodeData(n, n >= 1 && n <= blocks ? block(n) : new Uint8Array(int(rand, 0, blockSize)).fill(0xee)), 'far');
      }
      else o.peer(encodeError(int(rand, 0, 8), 'peer error'), 'error');
    } else {
      // In-order DATA mostly; duplicates and a little reordering too. Same bytes per block.
      const n = Math.max(1, Math.min(blocks, pick(rand, [next, next, next, next - 1, next + 1])));
      o.peer(encodeData(n & 0xffff, block(n)), 'data');
      if (n === next && next <= blocks) next++;
    }
    // An honest peer goes back to the block after the last ACK it saw (go-back-N).
    const lastAck = [...o.received].reverse().find((p) => p.op === Opcode.Ack) as { block: number } | undefined;
    if (lastAck && rand() < 0.3) next = Math.max(1, Math.min(blocks + 1, lastAck.block + 1));
  }
  finish(o, undefined, rand, commit);
  // The sink got exactly an in-order prefix of the file, within maxBytes.
  if (o.writtenBytes > maxBytes) o.fail(`wrote ${o.writtenBytes} bytes, more than maxBytes ${maxBytes}`);
  const got = Buffer.concat(o.written);
  if (!got.equals(Buffer.from(file.subarray(0, got.length)))) o.fail('the bytes handed to the sink are not an in-order prefix of what the peer sent');
  if (o.outcome === 'ok' && got.length !== size) o.fail(`ok with ${got.length} of ${size} bytes`);
  stats.outcomes[`write:${o.outcome}`] = (stats.outcomes[`write:${o.outcome}`] ?? 0) + 1;
}

export { CaseFailure };
