/**
 * Read session against the reflection attacks of issue 9, section 1, with a fake clock and no
 * sockets. Each case counts what the session sends against the file size (a connected client)
 * or against what the attacker sent (a spoofer), and prints the figure for docs/RELIABILITY.md.
 *
 * The attackers here are hand-written loops rather than the RFC-abiding ScriptedReceiver: they
 * ACK every block, every block twice, or a storm of stale, duplicate and new ACKs per block.
 */
import { describe, expect, it } from 'vitest';
import { decodePacket, encodeAck, Opcode, type Packet } from '../../../gateway/src/protocol/packet.js';
import { ReadSession, type ReadSessionConfig } from '../../../gateway/src/session/read-session.js';
import { datagramBytes } from '../../../gateway/src/session/types.js';
import { FIRST_PACKET_SILENT_WAITS } from '../../../gateway/src/session/timers.js';
import { drain, ReadPair, testFile, TIMING } from '../../helpers/fake-link.js';

const ACK_BYTES = 4;

interface AttackResult {
  /** Bytes of every datagram the session sent (UDP payloads). */
  sentBytes: number;
  /** DATA payload bytes sent, retransmits included. */
  dataPayloadBytes: number;
  /** Bytes of every datagram the peer sent (its ACKs). */
  peerBytes: number;
  outcome: string | undefined;
  session: ReadSession;
}

/**
 * Runs a session against a peer that answers every DATA it receives with `acksFor(block)` ACKs
 * (absolute block numbers). Delivery is instant and in order; time moves only to the next
 * deadline when nothing is in flight. `maxDatagrams` bounds the loop.
 */
function runAgainst(
  cfg: Partial<ReadSessionConfig>,
  file: Uint8Array,
  acksFor: (block: number) => number[],
  opts: { maxDatagrams?: number; ackOack?: boolean } = {},
): AttackResult {
  const full: ReadSessionConfig = { ...TIMING, blockSize: 512, windowSize: 1, oack: null, ...cfg };
  let now = 0;
  const s = new ReadSession(full, now);
  let delivered = 0;
  let ended = false;
  const toPeer: Packet[] = [];
  const toSession: Uint8Array[] = [];
  const res: AttackResult = { sentBytes: 0, dataPayloadBytes: 0, peerBytes: 0, outcome: undefined, session: s };
  let highest = 0;
  const pump = (): void => {
    for (let d = s.pollTransmit(); d; d = s.pollTransmit()) {
      const bytes = datagramBytes(d);
      res.sentBytes += bytes.length;
      const p = decodePacket(bytes);
      if (p.op === Opcode.Data) res.dataPayloadBytes += p.data.length;
      toPeer.push(p);
    }
    for (let e = s.pollEvent(); e; e = s.pollEvent()) {
      if (e.type === 'needData' && !ended) {
        if (delivered >= file.length) {
          ended = true;
          s.handle({ type: 'end' }, now);
        } else {
          const chunk = file.subarray(delivered, delivered + e.minBytes);
          delivered += chunk.length;
          s.handle({ type: 'data', chunk }, now);
        }
      } else if (e.type === 'done' || e.type === 'failed') {
        res.outcome = e.type === 'done' ? 'ok' : e.outcome;
      }
    }
  };
  pump();
  const limit = opts.maxDatagrams ?? 1_000_000;
  for (let steps = 0; steps < limit && !s.finished; steps++) {
    pump();
    const p = toPeer.shift();
    if (p) {
      if (p.op === Opcode.Oack && (opts.ackOack ?? true)) toSession.push(encodeAck(0));
      if (p.op === Opcode.Data) {
        // The attacker keeps its own idea of the absolute block number (it knows the rollover).
        let abs = highest - (highest & 0xffff) + p.block;
        if (abs < highest - 0x8000) abs += 0x10000;
        highest = Math.max(highest, abs);
        for (const b of acksFor(abs)) toSession.push(encodeAck(b & 0xffff));
      }
    }
    for (let a = toSession.shift(); a; a = toSession.shift()) {
      res.peerBytes += a.length;
      s.handle({ type: 'packet', packet: decodePacket(a) }, now);
      pump();
    }
    if (toPeer.length === 0) {
      const d = s.pollTimeout();
      if (d === undefined) break;
      now = Math.max(now, d);
      s.handle({ type: 'timeout' }, now);
      pump();
    }
  }
  return res;
}

const ratio = (n: number, d: number) => Math.round((n / d) * 1000) / 1000;

describe('read session: a connected client cannot make it resend the window per ACK', () => {
  // windowsize 64, blksize 1024, 4 MiB: the attack at a size the fake link runs fast.
  const file = testFile(4 * 1024 * 1024 + 123, 9);
  const cfg: Partial<ReadSessionConfig> = { blockSize: 1024, windowSize: 64, oack: { blksize: '1024', windowsize: '64' } };

  it('read session: a client that ACKs every block gets the file about once (<= 1.1x)', () => {
    const r = runAgainst(cfg, file, (b) => [b]);
    expect(r.outcome).toBe('ok');
    const f = ratio(r.dataPayloadBytes, file.length);
    console.log(`[reflection] unit ack-every-block w64 b1024 4MiB: data sent / file = ${f}`);
    expect(r.dataPayloadBytes).toBeGreaterThanOrEqual(file.length);
    expect(f).toBeLessThanOrEqual(1.1);
  });

  it('read session: a client that ACKs every block twice gets the file about once (<= 1.1x)', () => {
    const r = runAgainst(cfg, file, (b) => [b, b]);
    expect(r.outcome).toBe('ok');
    const f = ratio(r.dataPayloadBytes, file.length);
    console.log(`[reflection] unit ack-every-block-twice: data sent / file = ${f}`);
    expect(f).toBeLessThanOrEqual(1.1);
  });

  it('read session: a storm of stale, duplicate and new ACKs per block gets the file about once (<= 1.1x)', () => {
    const r = runAgainst(cfg, file, (b) => [b - 3, b - 1, b - 1, b, b, b - 2, b]);
    expect(r.outcome).toBe('ok');
    const f = ratio(r.dataPayloadBytes, file.length);
    console.log(`[reflection] unit per-block ACK storm (7 ACKs per block): data sent / file = ${f}`);
    expect(f).toBeLessThanOrEqual(1.1);
  });

  it('read session: an ACK inside the window sends one new block; resends come from a budget of one window plus 1/16 of what is acknowledged', () => {
    const s = new ReadSession({ ...TIMING, ...cfg } as ReadSessionConfig, 0);
    s.handle({ type: 'packet', packet: { op: Opcode.Ack, block: 0 } }, 0);
    s.handle({ type: 'data', chunk: file.subarray(0, 400 * 1024) }, 0);
    const blocks = () => drain(s).packets.filter((p) => p.op === Opcode.Data).map((p) => (p as { block: number }).block);
    expect(blocks()).toEqual(Array.from({ length: 64 }, (_, i) => i + 1));
    // ACK 1 signals a gap (RFC 7440): the budget of one window pays the resend of 2..64.
    s.handle({ type: 'packet', packet: { op: Opcode.Ack, block: 1 } }, 1);
    expect(blocks()).toEqual([...Array.from({ length: 63 }, (_, i) => i + 2), 65]);
    // Budget left: 65536 + 64 - 63 * 1024 = 1088 bytes: one more block at the next position.
    s.handle({ type: 'packet', packet: { op: Opcode.Ack, block: 2 } }, 2);
    expect(blocks()).toEqual([3, 66]);
    // Spent (128 left): each ACK inside the window earns 64 bytes and sends one new block; only
    // after 14 more ACKs has it earned a block's resend.
    const sent: number[] = [];
    for (let b = 3; b <= 18; b++) {
      s.handle({ type: 'packet', packet: { op: Opcode.Ack, block: b } }, b);
      sent.push(...blocks());
    }
    const fresh = sent.filter((b) => b > 66);
    expect(fresh).toEqual(Array.from({ length: 16 }, (_, i) => 67 + i));
    expect(sent.length - fresh.length).toBe(1);
  });

  it('read session: maxWindowBytes caps the blocks in flight', () => {
    const s = new ReadSession({ ...TIMING, blockSize: 1024, windowSize: 64, oack: null, maxWindowBytes: 16 * 1024 }, 0);
    s.handle({ type: 'data', chunk: file.subarray(0, 200 * 1024) }, 0);
    s.handle({ type: 'packet', packet: { op: Opcode.Ack, block: 1 } }, 1);
    s.handle({ type: 'data', chunk: file.subarray(200 * 1024, 400 * 1024) }, 1);
    const sent = drain(s).packets.filter((p) => p.op === Opcode.Data).map((p) => (p as { block: number }).block);
    // 16 blocks of 1 KiB in flight: 1..16, then 17 after ACK 1 (2..16 resent once, budget).
    expect(new Set(sent)).toEqual(new Set(Array.from({ length: 17 }, (_, i) => i + 1)));
    expect(sent.slice(0, 16)).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
    // A block larger than the cap still goes, one at a time.
    const big = new ReadSession({ ...TIMING, blockSize: 65464, windowSize: 64, oack: null, maxWindowBytes: 16 * 1024 }, 0);
    expect(drain(big).events).toEqual([{ type: 'needData', minBytes: 65464, releasedBytes: 0 }]);
  });
});

describe('read session: a connected client with loss still completes, and pays little', () => {
  for (const lossRate of [0.01, 0.05]) {
    it(`read session: windowsize 16 over a link losing ${lossRate * 100}% completes; data sent / file stays small`, () => {
      const file = testFile(2 * 1024 * 1024, 3);
      const pair = new ReadPair({
        file,
        session: { blockSize: 1024, windowSize: 16, oack: { blksize: '1024', windowsize: '16' }, maxRetries: 20 },
        link: { seed: 11, lossRate },
        maxSteps: 2_000_000,
      });
      const result = pair.run();
      expect(result.outcome).toBe('ok');
      expect(Buffer.from(pair.client.received).equals(Buffer.from(file))).toBe(true);
      const sent = pair.link.sent('toClient', (p) => p.op === Opcode.Data).reduce((n, d) => n + (d.packet as { data: Uint8Array }).data.length, 0);
      const f = ratio(sent, file.length);
      console.log(`[reflection] unit RFC 7440 client w16 b1024 2MiB loss ${lossRate}: data sent / file = ${f}, fake time ${result.now} ms`);
      // Each loss costs about one window resent (the receiver drops what follows a gap).
      expect(f).toBeLessThan(1 + lossRate * 16 * 2 + 0.1);
    });
  }
});

describe('read session: a spoofer that cannot see our packets', () => {
  const file = testFile(4 * 1024 * 1024, 5);
  const big: Partial<ReadSessionConfig> = {
    blockSize: 65464,
    windowSize: 64,
    oack: { blksize: '65464', windowsize: '64' },
    maxRetries: 5,
    firstPacketRetries: 0,
    unprovenRetries: 2,
  };

  it('read session: single-port slow start: one forged ACK 0 then silence gets one block plus unprovenRetries copies', () => {
    const r = runAgainst({ ...big, ackIsEvidence: false, slowStartBlocks: 1 }, file, () => []);
    expect(r.outcome).toBe('timeout');
    // One new block, then the first unacknowledged block again per unproven timeout.
    expect(r.dataPayloadBytes).toBe(65464 * (1 + 2));
    expect(r.session.windowBlocks).toBe(1);
    expect(r.session.peerProven).toBe(false);
    const rrqBytes = 2 + 'big.bin\0octet\0blksize\x0065464\0windowsize\x0064\0'.length;
    console.log(`[reflection] unit forged ACK 0 then silence, single-port slow start: ${r.sentBytes} B out for ${rrqBytes + ACK_BYTES} B in = ${ratio(r.sentBytes, rrqBytes + ACK_BYTES)}x`);
  });

  it('read session: per-session port: ACK 0 opens the window (evidence), but retries stay at unprovenRetries of one block', () => {
    const r = runAgainst({ ...big, ackIsEvidence: true, slowStartBlocks: 1, maxWindowBytes: 1024 * 1024 }, file, () => []);
    expect(r.outcome).toBe('timeout');
    // A full (capped) window: 16 blocks of 65464 under 1 MiB, then 2 single-block retries.
    expect(r.dataPayloadBytes).toBe(65464 * (16 + 2));
    expect(r.session.peerProven).toBe(false);
  });

  it('read session: single-port slow start: a blind spoofer ACKing the schedule gets at most one window per ACK', () => {
    // The spoofer knows the schedule and ACKs the last block of each burst.
    const r = runAgainst({ ...big, blockSize: 512, windowSize: 64, oack: { blksize: '512', windowsize: '32' }, ackIsEvidence: false, slowStartBlocks: 1, maxWindowBytes: 16 * 1024 }, file.subarray(0, 512 * 1024), (b) => [b]);
    expect(r.outcome).toBe('ok');
    const perAck = r.dataPayloadBytes / (r.peerBytes / ACK_BYTES);
    console.log(`[reflection] unit blind schedule-following spoofer, single-port w32 b512: ${Math.round(perAck)} payload bytes per 4-byte ACK`);
    expect(perAck).toBeLessThanOrEqual(16 * 1024);
  });

  it('read session: with firstPacketRetries 0 an unanswered request gets exactly one reply; a repeated request one more each', () => {
    const s = new ReadSession({ ...TIMING, blockSize: 512, windowSize: 1, oack: { tsize: '1000' }, firstPacketRetries: 0 }, 0);
    expect(drain(s).packets.map((p) => p.op)).toEqual([Opcode.Oack]);
    s.handle({ type: 'repeatRequest' }, 100);
    s.handle({ type: 'repeatRequest' }, 200);
    expect(drain(s).packets.map((p) => p.op)).toEqual([Opcode.Oack, Opcode.Oack]);
    // Our own timer resends nothing; the session listens on for FIRST_PACKET_SILENT_WAITS more
    // timeouts (a late or resent ACK still finds it), sending nothing, then gives up.
    let now = 0;
    for (let wait = 0; wait <= FIRST_PACKET_SILENT_WAITS; wait++) {
      now += 1_000_000;
      s.handle({ type: 'timeout' }, now);
      const { packets, events } = drain(s);
      expect(packets).toEqual([]);
      if (wait < FIRST_PACKET_SILENT_WAITS) expect(events).toEqual([]);
      else expect(events).toEqual([expect.objectContaining({ type: 'failed', outcome: 'timeout' })]);
    }
  });

  it('read session: an ACK of the OACK that comes after our first timeout still starts the transfer (no resend was sent)', () => {
    const s = new ReadSession({ ...TIMING, blockSize: 512, windowSize: 1, oack: { tsize: '1000' }, firstPacketRetries: 0 }, 0);
    expect(drain(s).packets.map((p) => p.op)).toEqual([Opcode.Oack]);
    s.handle({ type: 'timeout' }, 1_000_000);
    expect(drain(s)).toMatchObject({ packets: [], events: [] });
    s.handle({ type: 'packet', packet: { op: Opcode.Ack, block: 0 } }, 1_000_100);
    s.handle({ type: 'data', chunk: new Uint8Array(1000) }, 1_000_100);
    s.handle({ type: 'end' }, 1_000_100);
    expect(drain(s).packets.map((p) => p.op)).toEqual([Opcode.Data]);
  });

  it('read session: a repeated request after an ACK is ignored', () => {
    const s = new ReadSession({ ...TIMING, blockSize: 512, windowSize: 1, oack: null, firstPacketRetries: 0 }, 0);
    s.handle({ type: 'data', chunk: testFile(2000) }, 0);
    s.handle({ type: 'repeatRequest' }, 1);
    expect(drain(s).packets.map((p) => (p as { block: number }).block)).toEqual([1, 1]);
    s.handle({ type: 'packet', packet: { op: Opcode.Ack, block: 1 } }, 2);
    drain(s);
    s.handle({ type: 'repeatRequest' }, 3);
    expect(drain(s).packets).toEqual([]);
    expect(s.counters.duplicates).toBe(1);
  });

  it('read session: before any ACK it asks the source for the slow-start window only (no read-ahead)', () => {
    const s = new ReadSession({ ...TIMING, blockSize: 65464, windowSize: 64, oack: { blksize: '65464', windowsize: '64' }, slowStartBlocks: 1 }, 0);
    expect(drain(s).events).toEqual([{ type: 'needData', minBytes: 65464, releasedBytes: 0 }]);
  });
});
