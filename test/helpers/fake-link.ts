/**
 * A fake link and a fake clock that join a scripted TFTP client to a pure session, in the
 * spirit of h11's ConnectionPair (h11/tests/helpers.py) and quinn-proto's Pair
 * (quinn-proto/src/tests/util.rs). No sockets, no timers, no sleeps: time only moves when the
 * loop jumps to the next delivery or deadline, so thousands of transfers run in a second.
 *
 * Pieces:
 *  - `ScriptedReceiver`: a client downloading from a ReadSession. It ACKs per RFC 1350 / 7440:
 *    at the end of each window, on the final (short) block, on a gap (the last in-order block),
 *    on a duplicate (the last in-order block again), and on its own timeout.
 *  - `ScriptedSender`: a client uploading to a WriteSession, sending windows per RFC 7440 and
 *    resuming after whatever block an ACK names.
 *  - `FakeLink`: datagrams in flight with a latency, and knobs to drop (predicate or seeded
 *    probability), duplicate and reorder them.
 *  - `ReadPair` / `WritePair`: the loop. It drains the session and the client after every step,
 *    answers the session's events (a source for `needData`, a sink for `writeData`/`writeEnd`),
 *    then jumps the clock to the earliest of: the next delivery, the next scheduled input, the
 *    session's deadline, the client's deadline. It is bounded by `maxSteps`.
 *
 * All randomness comes from `seed`; property tests pass fast-check's integers in, so fast-check
 * prints everything needed to replay a failure.
 */
import type { TftpError } from '../../gateway/src/protocol/error-codes.js';
import { decodePacket, encodeAck, encodeData, Opcode, type Packet } from '../../gateway/src/protocol/packet.js';
import { ReadSession, type ReadSessionConfig } from '../../gateway/src/session/read-session.js';
import { datagramBytes, type Outcome, type Session, type SessionEvent, type SessionInput, type SessionTimingConfig } from '../../gateway/src/session/types.js';
import { WriteSession, type WriteSessionConfig } from '../../gateway/src/session/write-session.js';
import { prng as seededRandom } from './seeded.js';

// ---------------------------------------------------------------------------------------------
// Randomness

/** Seeded floats in [0, 1): the one PRNG of the test suite (mulberry32, test/helpers/seeded.ts). */
export { seededRandom };

/** Deterministic test bytes: block-ish patterns that make misplaced blocks visible. */
export function testFile(size: number, seed = 1): Uint8Array {
  const rnd = seededRandom(seed);
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (rnd() * 256) | 0;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Helpers for driving a session by hand

/** Drains everything a session has queued: datagrams (decoded) and events. */
export function drain(session: Session): { packets: Packet[]; events: SessionEvent[] } {
  const packets: Packet[] = [];
  const events: SessionEvent[] = [];
  for (let b = session.pollTransmit(); b; b = session.pollTransmit()) packets.push(decodePacket(datagramBytes(b)));
  for (let e = session.pollEvent(); e; e = session.pollEvent()) events.push(e);
  return { packets, events };
}

export const TIMING: SessionTimingConfig = {
  timeoutMs: 1000,
  maxRetries: 5,
  firstPacketRetries: 3,
  backoffFactor: 1,
  maxTimeoutMs: 1000,
};

// ---------------------------------------------------------------------------------------------
// The link

export type Direction = 'toClient' | 'toServer';

export interface Datagram {
  dir: Direction;
  packet: Packet;
  /** When it was handed to the link (ms, fake clock). */
  sentAt: number;
  /** Per-direction index of this send, from 0. */
  index: number;
  /** How many times a datagram with the same key (opcode and block) went this way before. */
  occurrence: number;
  /** `DATA:3`, `ACK:0`, `OACK`, `ERROR`, ... */
  key: string;
}

export interface LinkKnobs {
  seed?: number;
  /** One-way delay of every datagram (ms). Default 1. */
  latencyMs?: number;
  /** Probability that a datagram is lost. */
  lossRate?: number;
  /** Probability that a datagram arrives twice. */
  duplicateRate?: number;
  /** Probability that a datagram is held back by 1..reorderMaxDelayMs extra ms. */
  reorderRate?: number;
  /** Default 5 ms: keep it well under the retransmit timeout. */
  reorderMaxDelayMs?: number;
  /** Scripted loss: return true to drop this datagram (checked before lossRate). */
  drop?: (d: Datagram) => boolean;
  /** Scripted duplication: return true to deliver this datagram twice. */
  duplicate?: (d: Datagram) => boolean;
}

interface InFlight {
  deliverAt: number;
  seq: number;
  datagram: Datagram;
}

export function packetKey(p: Packet): string {
  switch (p.op) {
    case Opcode.Data:
      return `DATA:${p.block}`;
    case Opcode.Ack:
      return `ACK:${p.block}`;
    case Opcode.Error:
      return 'ERROR';
    case Opcode.Oack:
      return 'OACK';
    case Opcode.Rrq:
      return 'RRQ';
    case Opcode.Wrq:
      return 'WRQ';
  }
}

export interface TraceEntry extends Datagram {
  fate: 'delivered' | 'dropped';
  /** Set when the link delivered this datagram twice. */
  duplicated: boolean;
}

export class FakeLink {
  private readonly queue: InFlight[] = [];
  private seq = 0;
  private readonly index: Record<Direction, number> = { toClient: 0, toServer: 0 };
  private readonly seen: Record<Direction, Map<string, number>> = { toClient: new Map(), toServer: new Map() };
  private readonly rnd: () => number;
  private readonly latencyMs: number;
  private readonly reorderMaxDelayMs: number;
  /** Every datagram handed to the link, in order, with its fate. */
  readonly trace: TraceEntry[] = [];

  constructor(private readonly knobs: LinkKnobs = {}) {
    this.rnd = seededRandom(knobs.seed ?? 1);
    this.latencyMs = knobs.latencyMs ?? 1;
    this.reorderMaxDelayMs = knobs.reorderMaxDelayMs ?? 5;
  }

  send(dir: Direction, bytes: Uint8Array, now: number): void {
    const packet = decodePacket(bytes);
    const key = packetKey(packet);
    const seen = this.seen[dir];
    const occurrence = seen.get(key) ?? 0;
    seen.set(key, occurrence + 1);
    const entry: TraceEntry = { dir, packet, sentAt: now, index: this.index[dir]++, occurrence, key, fate: 'delivered', duplicated: false };
    const k = this.knobs;
    // Draw every random number whatever the scripted knobs say, so a predicate does not shift
    // the random stream of later datagrams.
    const lossDraw = this.rnd();
    const dupDraw = this.rnd();
    const reorderDraw = this.rnd();
    const delayDraw = this.rnd();
    const dupDelayDraw = this.rnd();
    this.trace.push(entry);
    if ((k.drop !== undefined && k.drop(entry)) || lossDraw < (k.lossRate ?? 0)) {
      entry.fate = 'dropped';
      return;
    }
    entry.duplicated = (k.duplicate !== undefined && k.duplicate(entry)) || dupDraw < (k.duplicateRate ?? 0);
    const extra = reorderDraw < (k.reorderRate ?? 0) ? 1 + Math.floor(delayDraw * this.reorderMaxDelayMs) : 0;
    this.enqueue(now + this.latencyMs + extra, entry);
    if (entry.duplicated) this.enqueue(now + this.latencyMs + Math.floor(dupDelayDraw * (this.reorderMaxDelayMs + 1)), entry);
  }

  private enqueue(deliverAt: number, datagram: Datagram): void {
    const item = { deliverAt, seq: this.seq++, datagram };
    // Keep the queue sorted by (deliverAt, seq): equal times deliver in send order.
    let i = this.queue.length;
    while (i > 0 && this.queue[i - 1].deliverAt > deliverAt) i--;
    this.queue.splice(i, 0, item);
  }

  get empty(): boolean {
    return this.queue.length === 0;
  }

  nextDeliveryAt(): number | undefined {
    return this.queue[0]?.deliverAt;
  }

  shift(): Datagram | undefined {
    return this.queue.shift()?.datagram;
  }

  /** Datagrams sent one way, optionally only those matching `key` (e.g. `DATA:3`). */
  sent(dir: Direction, key?: string | ((p: Packet) => boolean)): TraceEntry[] {
    return this.trace.filter(
      (t) => t.dir === dir && (key === undefined || (typeof key === 'string' ? t.key === key : key(t.packet))),
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Scripted clients

export interface ScriptedClient {
  handlePacket(p: Packet, now: number): void;
  handleTimeout(now: number): void;
  pollTransmit(): Uint8Array | undefined;
  pollTimeout(): number | undefined;
  readonly done: boolean;
}

export interface ReceiverOptions {
  blockSize: number;
  windowSize: number;
  /** The server answers with an OACK first (we asked for options and it accepted some). */
  expectOack: boolean;
  /** Default 2500 ms: longer than the server's, so the server drives recovery as in practice. */
  timeoutMs?: number;
  /** Timeouts in a row before the client gives up. Default 50. */
  maxTimeouts?: number;
}

/** Downloads from a ReadSession: a pure, RFC 1350 / RFC 7440 receiver. */
export class ScriptedReceiver implements ScriptedClient {
  private readonly out: Uint8Array[] = [];
  private readonly chunks: Uint8Array[] = [];
  private state: 'waiting' | 'receiving' | 'done' | 'gave-up' = 'waiting';
  /** Absolute number of the next block wanted. */
  private expected = 1;
  private sinceAck = 0;
  private gapAcked = false;
  private deadline: number | undefined;
  private timeouts = 0;
  private readonly timeoutMs: number;
  /** Things the server did that RFC 1350/2347/7440 forbid; tests expect none. */
  readonly violations: string[] = [];
  oacksReceived = 0;
  acksSent = 0;

  constructor(private readonly opts: ReceiverOptions) {
    this.timeoutMs = opts.timeoutMs ?? 2500;
  }

  get done(): boolean {
    return this.state === 'done';
  }

  get gaveUp(): boolean {
    return this.state === 'gave-up';
  }

  /** The file as reassembled so far. */
  get received(): Uint8Array {
    return new Uint8Array(Buffer.concat(this.chunks));
  }

  handlePacket(p: Packet, now: number): void {
    if (this.state === 'gave-up') return;
    if (p.op === Opcode.Oack) {
      this.oacksReceived++;
      if (!this.opts.expectOack) this.violations.push('OACK although no option was accepted');
      // A retransmitted OACK means our ACK 0 was lost: ACK 0 again, until DATA flows.
      if (this.expected === 1) {
        this.state = 'receiving';
        this.ack(now);
      }
      return;
    }
    if (p.op === Opcode.Error) {
      this.state = 'gave-up';
      this.deadline = undefined;
      return;
    }
    if (p.op !== Opcode.Data) {
      this.violations.push(`unexpected opcode ${p.op}`);
      return;
    }
    if (this.opts.expectOack && this.oacksReceived === 0) {
      this.violations.push(`DATA ${p.block} before the OACK`);
      return;
    }
    if (p.data.length > this.opts.blockSize) this.violations.push(`DATA ${p.block} longer than blksize`);
    if (this.state === 'waiting') this.state = 'receiving';
    const ahead = (p.block - this.expected) & 0xffff;
    if (this.state === 'receiving' && ahead === 0) {
      this.chunks.push(new Uint8Array(p.data));
      this.expected++;
      this.gapAcked = false;
      this.timeouts = 0;
      if (p.data.length < this.opts.blockSize) {
        // RFC 1350: the short block ends the transfer; ACK it and dally on duplicates.
        this.state = 'done';
        this.ack(now);
        this.deadline = undefined;
        return;
      }
      if (++this.sinceAck >= this.opts.windowSize) this.ack(now);
      return;
    }
    if (this.state === 'receiving' && ahead < 0x8000) {
      // RFC 7440: a gap; ACK the last block received in order, once per gap.
      if (!this.gapAcked) {
        this.gapAcked = true;
        this.ack(now);
      }
      return;
    }
    // An old block (or anything after the end): our ACK was lost, repeat it.
    this.ack(now);
    if (this.state === 'done') this.deadline = undefined;
  }

  handleTimeout(now: number): void {
    if (this.deadline === undefined || now < this.deadline || this.state !== 'receiving') return;
    if (++this.timeouts > (this.opts.maxTimeouts ?? 50)) {
      this.state = 'gave-up';
      this.deadline = undefined;
      return;
    }
    this.ack(now);
  }

  private ack(now: number): void {
    this.out.push(encodeAck((this.expected - 1) & 0xffff));
    this.acksSent++;
    // The server starts its next window right after whatever we ACK: count from here.
    this.sinceAck = 0;
    this.deadline = now + this.timeoutMs;
  }

  pollTransmit(): Uint8Array | undefined {
    return this.out.shift();
  }

  pollTimeout(): number | undefined {
    return this.state === 'receiving' ? this.deadline : undefined;
  }
}

export interface SenderOptions {
  file: Uint8Array;
  blockSize: number;
  windowSize: number;
  expectOack: boolean;
  /** Default 1000 ms. */
  timeoutMs?: number;
  /** Default 50. */
  maxTimeouts?: number;
  /** Overrides the payload of a block, e.g. to send an oversized one. */
  payloadOf?: (block: number, normal: Uint8Array) => Uint8Array;
}

/** Uploads to a WriteSession: a pure, RFC 1350 / RFC 7440 sender. */
export class ScriptedSender implements ScriptedClient {
  private readonly out: Uint8Array[] = [];
  private state: 'waiting' | 'sending' | 'done' | 'gave-up' = 'waiting';
  /** Absolute number of the oldest unacknowledged block. */
  private base = 1;
  /** Absolute number of the next block not yet sent. */
  private next = 1;
  readonly finalBlock: number;
  private deadline: number | undefined;
  private timeouts = 0;
  private readonly timeoutMs: number;
  readonly violations: string[] = [];
  dataSent = 0;

  constructor(private readonly opts: SenderOptions) {
    this.finalBlock = Math.floor(opts.file.length / opts.blockSize) + 1;
    this.timeoutMs = opts.timeoutMs ?? 1000;
  }

  get done(): boolean {
    return this.state === 'done';
  }

  get gaveUp(): boolean {
    return this.state === 'gave-up';
  }

  handlePacket(p: Packet, now: number): void {
    if (this.state === 'done' || this.state === 'gave-up') return;
    if (p.op === Opcode.Error) {
      this.state = 'gave-up';
      this.deadline = undefined;
      return;
    }
    if (this.state === 'waiting') {
      const ok = this.opts.expectOack ? p.op === Opcode.Oack : p.op === Opcode.Ack && p.block === 0;
      if (!ok) {
        this.violations.push(`unexpected first reply ${packetKey(p)}`);
        return;
      }
      this.state = 'sending';
      this.sendWindow(now);
      return;
    }
    if (p.op === Opcode.Oack) return; // a retransmitted OACK; our DATA is on its way
    if (p.op !== Opcode.Ack) {
      this.violations.push(`unexpected opcode ${p.op}`);
      return;
    }
    const advance = (p.block - (this.base - 1)) & 0xffff;
    const inFlight = this.next - this.base;
    // A duplicate ACK is never answered (Sorcerer's Apprentice); an ACK beyond what we sent is
    // nonsense and ignored.
    if (advance === 0 || advance > inFlight) return;
    this.base += advance;
    this.timeouts = 0;
    if (this.base > this.finalBlock) {
      this.state = 'done';
      this.deadline = undefined;
      return;
    }
    // RFC 7440: the next window starts right after the acknowledged block.
    this.next = this.base;
    this.sendWindow(now);
  }

  handleTimeout(now: number): void {
    if (this.deadline === undefined || now < this.deadline || this.state !== 'sending') return;
    if (++this.timeouts > (this.opts.maxTimeouts ?? 50)) {
      this.state = 'gave-up';
      this.deadline = undefined;
      return;
    }
    this.next = this.base;
    this.sendWindow(now);
  }

  private sendWindow(now: number): void {
    const last = Math.min(this.base + this.opts.windowSize - 1, this.finalBlock);
    for (; this.next <= last; this.next++) this.out.push(encodeData(this.next & 0xffff, this.payload(this.next)));
    this.deadline = now + this.timeoutMs;
  }

  private payload(block: number): Uint8Array {
    const { file, blockSize } = this.opts;
    const normal = file.subarray((block - 1) * blockSize, Math.min(block * blockSize, file.length));
    this.dataSent++;
    return this.opts.payloadOf ? this.opts.payloadOf(block, normal) : normal;
  }

  pollTransmit(): Uint8Array | undefined {
    return this.out.shift();
  }

  pollTimeout(): number | undefined {
    return this.state === 'sending' ? this.deadline : undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// The loop

export type StopReason = 'finished' | 'stalled' | 'max-steps';

export interface RunResult {
  stopReason: StopReason;
  steps: number;
  /** Fake clock when the loop stopped (ms). */
  now: number;
  /** The session's done/failed event, if any. */
  end: SessionEvent | undefined;
  outcome: Outcome | 'ok' | undefined;
}

interface Scheduled {
  at: number;
  seq: number;
  input: SessionInput;
}

abstract class Pair<S extends Session, C extends ScriptedClient> {
  now: number;
  readonly link: FakeLink;
  /** Every event the session emitted, in order. */
  readonly events: SessionEvent[] = [];
  end: SessionEvent | undefined;
  private readonly scheduled: Scheduled[] = [];
  private scheduledSeq = 0;
  private readonly maxSteps: number;

  protected constructor(
    readonly session: S,
    readonly client: C,
    opts: { link?: LinkKnobs; maxSteps?: number; startMs?: number },
  ) {
    this.now = opts.startMs ?? 0;
    this.link = new FakeLink(opts.link);
    this.maxSteps = opts.maxSteps ?? 1_000_000;
  }

  /** Feeds the session an input at `now + delayMs` (from the driver's side). */
  schedule(input: SessionInput, delayMs: number): void {
    const item = { at: this.now + delayMs, seq: this.scheduledSeq++, input };
    let i = this.scheduled.length;
    while (i > 0 && this.scheduled[i - 1].at > item.at) i--;
    this.scheduled.splice(i, 0, item);
  }

  /** Gives the session an input now, as the driver would, and drains what follows. */
  feed(input: SessionInput): void {
    this.session.handle(input, this.now);
    this.flush();
  }

  protected abstract onEvent(ev: SessionEvent): void;

  /** Called whenever the pair has drained the session; subclasses sample state here. */
  protected afterFlush(): void {}

  /** Moves every queued datagram onto the link and answers every queued event. */
  flush(): void {
    for (;;) {
      let moved = false;
      for (let b = this.session.pollTransmit(); b; b = this.session.pollTransmit()) {
        this.link.send('toClient', datagramBytes(b), this.now);
        moved = true;
      }
      for (let b = this.client.pollTransmit(); b; b = this.client.pollTransmit()) {
        this.link.send('toServer', b, this.now);
        moved = true;
      }
      const ev = this.session.pollEvent();
      if (ev) {
        this.events.push(ev);
        if (ev.type === 'done' || ev.type === 'failed') this.end ??= ev;
        this.onEvent(ev);
        moved = true;
      }
      if (!moved) {
        this.afterFlush();
        return;
      }
    }
  }

  /** Runs until the session is finished and nothing is in flight, nothing can happen, or maxSteps. */
  run(): RunResult {
    let steps = 0;
    const result = (stopReason: StopReason): RunResult => ({
      stopReason,
      steps,
      now: this.now,
      end: this.end,
      outcome: this.end?.type === 'done' ? 'ok' : this.end?.type === 'failed' ? this.end.outcome : undefined,
    });
    for (; steps < this.maxSteps; steps++) {
      this.flush();
      if (this.session.finished && this.link.empty && this.scheduled.length === 0) return result('finished');
      // The earliest thing that can happen; ties go to deliveries, then driver inputs, then
      // the session's timer, then the client's.
      let kind = -1;
      let at = Infinity;
      const consider = (k: number, t: number | undefined): void => {
        if (t !== undefined && t < at) {
          at = t;
          kind = k;
        }
      };
      consider(0, this.link.nextDeliveryAt());
      consider(1, this.scheduled[0]?.at);
      if (!this.session.finished) {
        consider(2, this.session.pollTimeout());
        consider(3, this.client.pollTimeout());
      }
      if (kind < 0) return result('stalled');
      this.now = Math.max(this.now, at);
      if (kind === 0) this.deliver();
      else if (kind === 1) this.session.handle(this.scheduled.shift()!.input, this.now);
      else if (kind === 2) this.session.handle({ type: 'timeout' }, this.now);
      else this.client.handleTimeout(this.now);
    }
    return result('max-steps');
  }

  private deliver(): void {
    const d = this.link.shift()!;
    if (d.dir === 'toClient') this.client.handlePacket(d.packet, this.now);
    else this.session.handle({ type: 'packet', packet: d.packet }, this.now);
  }
}

// ---- Read side ------------------------------------------------------------------------------

export interface SourceOptions {
  /**
   * Bytes per answer to `needData`: a number, 'minBytes' (what the session asked for, like a
   * stream read with a size hint), or a function of the request and a seeded random number.
   * Default 'minBytes'.
   */
  chunkBytes?: number | 'minBytes' | ((minBytes: number, rnd: () => number) => number);
  /** Also deliver `end` right after the last chunk, instead of on the next `needData`. */
  endWithLastChunk?: boolean;
  /** Answer each `needData` after this many ms of fake time. Default 0 (at once). */
  delayMs?: number;
  /** Fail with `error` once this many bytes were delivered. */
  failAfterBytes?: number;
  error?: TftpError;
  seed?: number;
}

export interface NeedDataRecord {
  at: number;
  minBytes: number;
  /** Bytes the session held, received but not yet cut into blocks, when it asked. */
  pendingBytes: number;
}

export interface ReadPairOptions {
  file: Uint8Array;
  session?: Partial<ReadSessionConfig>;
  client?: Partial<ReceiverOptions>;
  source?: SourceOptions;
  link?: LinkKnobs;
  maxSteps?: number;
  startMs?: number;
}

export class ReadPair extends Pair<ReadSession, ScriptedReceiver> {
  readonly file: Uint8Array;
  private delivered = 0;
  private ended = false;
  private readonly source: SourceOptions;
  private readonly rnd: () => number;
  readonly needData: NeedDataRecord[] = [];
  /** Most bytes the session ever held between a source answer and cutting them into blocks. */
  maxPendingBytes = 0;

  constructor(opts: ReadPairOptions) {
    const cfg: ReadSessionConfig = { ...TIMING, blockSize: 512, windowSize: 1, oack: null, ...opts.session };
    const startMs = opts.startMs ?? 0;
    const session = new ReadSession(cfg, startMs);
    const client = new ScriptedReceiver({
      blockSize: cfg.blockSize,
      windowSize: cfg.windowSize,
      expectOack: cfg.oack !== null,
      ...opts.client,
    });
    super(session, client, { link: opts.link, maxSteps: opts.maxSteps, startMs });
    this.file = opts.file;
    this.source = opts.source ?? {};
    this.rnd = seededRandom(this.source.seed ?? 7);
  }

  /** Bytes given to the session that it has not yet put into a DATA block. */
  get pendingBytes(): number {
    return this.delivered - this.session.counters.bytes;
  }

  protected onEvent(ev: SessionEvent): void {
    if (ev.type !== 'needData') return;
    this.needData.push({ at: this.now, minBytes: ev.minBytes, pendingBytes: this.pendingBytes });
    const answer = this.answer(ev.minBytes);
    if (answer.length === 0) return;
    const delay = this.source.delayMs ?? 0;
    for (const input of answer) {
      if (delay > 0) this.schedule(input, delay);
      else {
        this.session.handle(input, this.now);
        this.afterFlush();
      }
    }
  }

  /** What the source answers to one `needData`: one chunk, or `end`, or an error. */
  private answer(minBytes: number): SessionInput[] {
    const s = this.source;
    if (this.ended) return [];
    if (s.failAfterBytes !== undefined && this.delivered >= s.failAfterBytes) {
      this.ended = true;
      return [{ type: 'sourceError', error: s.error! }];
    }
    if (this.delivered >= this.file.length) {
      this.ended = true;
      return [{ type: 'end' }];
    }
    const c = s.chunkBytes ?? 'minBytes';
    let n = c === 'minBytes' ? minBytes : typeof c === 'number' ? c : c(minBytes, this.rnd);
    n = Math.max(1, n);
    if (s.failAfterBytes !== undefined) n = Math.min(n, s.failAfterBytes - this.delivered);
    const chunk = this.file.subarray(this.delivered, Math.min(this.delivered + n, this.file.length));
    this.delivered += chunk.length;
    const out: SessionInput[] = [{ type: 'data', chunk }];
    if (s.endWithLastChunk && this.delivered >= this.file.length) {
      this.ended = true;
      out.push({ type: 'end' });
    }
    return out;
  }

  protected override afterFlush(): void {
    this.maxPendingBytes = Math.max(this.maxPendingBytes, this.pendingBytes);
  }
}

// ---- Write side -----------------------------------------------------------------------------

export interface SinkOptions {
  /** Answer `writeEnd` with `committed` after this many ms. Default 0. */
  commitDelayMs?: number;
  /** 'never' leaves the upload uncommitted; a TftpError fails the commit. */
  commit?: 'ok' | 'never' | TftpError;
}

export interface WritePairOptions {
  file: Uint8Array;
  session?: Partial<WriteSessionConfig>;
  client?: Partial<SenderOptions>;
  sink?: SinkOptions;
  link?: LinkKnobs;
  maxSteps?: number;
  startMs?: number;
}

export class WritePair extends Pair<WriteSession, ScriptedSender> {
  private readonly chunks: Uint8Array[] = [];
  private readonly sink: SinkOptions;
  /** Fake time at which the sink saw `writeEnd`. */
  writeEndAt: number | undefined;

  constructor(opts: WritePairOptions) {
    const cfg: WriteSessionConfig = {
      ...TIMING,
      blockSize: 512,
      windowSize: 1,
      oack: null,
      maxBytes: Number.MAX_SAFE_INTEGER,
      ...opts.session,
    };
    const startMs = opts.startMs ?? 0;
    const session = new WriteSession(cfg, startMs);
    const client = new ScriptedSender({
      file: opts.file,
      blockSize: cfg.blockSize,
      windowSize: cfg.windowSize,
      expectOack: cfg.oack !== null,
      ...opts.client,
    });
    super(session, client, { link: opts.link, maxSteps: opts.maxSteps, startMs });
    this.sink = opts.sink ?? {};
  }

  /** What the sink has been handed so far. */
  get written(): Uint8Array {
    return new Uint8Array(Buffer.concat(this.chunks));
  }

  protected onEvent(ev: SessionEvent): void {
    if (ev.type === 'writeData') {
      this.chunks.push(new Uint8Array(ev.chunk));
      return;
    }
    if (ev.type !== 'writeEnd') return;
    this.writeEndAt = this.now;
    const commit = this.sink.commit ?? 'ok';
    if (commit === 'never') return;
    const input: SessionInput = commit === 'ok' ? { type: 'committed' } : { type: 'sourceError', error: commit };
    const delay = this.sink.commitDelayMs ?? 0;
    if (delay > 0) this.schedule(input, delay);
    else this.session.handle(input, this.now);
  }
}
