/**
 * Write session (WRQ): each edge its own test, by hand or through the fake link with a
 * scripted sender, then a seeded property over sizes, block sizes, windows and a lossy,
 * duplicating, reordering link.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode, TftpError } from '../../../gateway/src/protocol/error-codes.js';
import { Opcode, type Packet } from '../../../gateway/src/protocol/packet.js';
import { WriteSession, type WriteSessionConfig } from '../../../gateway/src/session/write-session.js';
import { drain, testFile, TIMING, WritePair, type WritePairOptions } from '../../helpers/fake-link.js';

function session(cfg: Partial<WriteSessionConfig> = {}, now = 0): WriteSession {
  return new WriteSession({ ...TIMING, blockSize: 512, windowSize: 1, oack: null, maxBytes: 1 << 30, ...cfg }, now);
}

const data = (block: number, length: number, fill = block & 0xff): { type: 'packet'; packet: Packet } => ({
  type: 'packet',
  packet: { op: Opcode.Data, block: block & 0xffff, data: new Uint8Array(length).fill(fill) },
});
const acks = (packets: Packet[]): number[] => packets.filter((p) => p.op === Opcode.Ack).map((p) => (p as { block: number }).block);

/** Runs a whole upload and checks what every upload must satisfy. */
function upload(opts: WritePairOptions) {
  const pair = new WritePair(opts);
  const result = pair.run();
  expect(result.stopReason).toBe('finished');
  expect(pair.client.violations).toEqual([]);
  return { pair, result, acksSent: pair.link.sent('toClient', (p) => p.op === Opcode.Ack) };
}

function expectOk(pair: WritePair, result: { outcome: unknown }, file: Uint8Array): void {
  expect(result.outcome).toBe('ok');
  expect(pair.client.done).toBe(true);
  expect(Buffer.from(pair.written).equals(Buffer.from(file))).toBe(true);
  expect(pair.session.finished).toBe(true);
}

const ackBlocks = (entries: { packet: Packet }[]): number[] => entries.map((e) => (e.packet as { block: number }).block);

describe('write session: uploads', () => {
  it('write session: answers a WRQ without options with ACK 0 and arms its timer', () => {
    const s = session({}, 100);
    expect(drain(s).packets).toEqual([{ op: Opcode.Ack, block: 0 }]);
    expect(s.pollTimeout()).toBe(1100);
  });

  it('write session: answers a WRQ with options with the OACK', () => {
    const s = session({ oack: { blksize: '1024' }, blockSize: 1024 });
    expect(drain(s).packets).toEqual([{ op: Opcode.Oack, options: { blksize: '1024' } }]);
  });

  it('write session: lock-step upload ACKs every block and hands every byte to the sink', () => {
    const file = testFile(3 * 512 + 100);
    const { pair, result, acksSent } = upload({ file });
    expectOk(pair, result, file);
    expect(ackBlocks(acksSent)).toEqual([0, 1, 2, 3, 4]);
    expect(pair.session.counters).toMatchObject({ bytes: file.length, blocks: 4, retransmits: 0, duplicates: 0 });
  });

  it('write session: an empty upload is a single empty DATA block', () => {
    const { pair, result, acksSent } = upload({ file: new Uint8Array(0) });
    expectOk(pair, result, new Uint8Array(0));
    expect(ackBlocks(acksSent)).toEqual([0, 1]);
    // An empty block carries no bytes: the sink sees no writeData, only writeEnd.
    expect(pair.events.map((e) => e.type)).toEqual(['writeEnd', 'done']);
  });

  it('write session: an upload of exactly k × blksize ends with an empty block', () => {
    const file = testFile(2 * 512);
    const { pair, result, acksSent } = upload({ file });
    expectOk(pair, result, file);
    expect(ackBlocks(acksSent)).toEqual([0, 1, 2, 3]);
    expect(pair.session.counters.blocks).toBe(3);
  });

  it('write session: windowed upload ACKs once per window and on the final block', () => {
    const file = testFile(12 * 64 + 10);
    const { pair, result, acksSent } = upload({ file, session: { blockSize: 64, windowSize: 4, oack: { blksize: '64', windowsize: '4' } } });
    expectOk(pair, result, file);
    expect(ackBlocks(acksSent)).toEqual([4, 8, 12, 13]);
    expect(pair.link.sent('toClient', 'OACK')).toHaveLength(1);
  });

  it('write session: windowed upload with a gap ACKs the last in-order block once and the sender resumes after it', () => {
    const file = testFile(12 * 64 + 10);
    const { pair, result, acksSent } = upload({
      file,
      session: { blockSize: 64, windowSize: 4 },
      link: { drop: (d) => d.key === 'DATA:2' && d.occurrence === 0 },
    });
    expectOk(pair, result, file);
    // 1 arrives, 2 is lost, 3 opens the gap: ACK 1 (once, not again for 4); then 2..5 -> ACK 5.
    expect(ackBlocks(acksSent)).toEqual([0, 1, 5, 9, 13]);
    expect(pair.link.sent('toServer').map((d) => d.key).slice(0, 8)).toEqual([
      'DATA:1', 'DATA:2', 'DATA:3', 'DATA:4', 'DATA:2', 'DATA:3', 'DATA:4', 'DATA:5',
    ]);
    // Recovered on the gap ACK, without waiting for anyone's timeout.
    expect(acksSent.at(-1)!.sentAt).toBeLessThan(TIMING.timeoutMs);
    expect(pair.session.counters.retransmits).toBe(0);
  });

  it('write session: block numbers wrap from 65535 to 0 and the upload reconstructs', () => {
    const file = testFile(8 * 65545 + 5);
    const { pair, result, acksSent } = upload({ file, session: { blockSize: 8, windowSize: 8 } });
    expectOk(pair, result, file);
    const wire = ackBlocks(acksSent);
    // Windows of 8 end on multiples of 8: 65528, 65536 (wire 0), 65544 (wire 8), then 65546.
    expect(wire.slice(-4)).toEqual([65528, 0, 8, 10]);
    expect(pair.session.counters.blocks).toBe(65546);
  });

  it('write session: every DATA arriving twice still hands each byte to the sink once', () => {
    const file = testFile(10 * 100 + 1);
    const { pair, result } = upload({
      file,
      session: { blockSize: 100, windowSize: 3 },
      link: { duplicate: (d) => d.dir === 'toServer' },
    });
    expectOk(pair, result, file);
    expect(pair.session.counters.blocks).toBe(11);
  });
});

describe('write session: duplicates and the final ACK', () => {
  it('write session: a duplicate DATA is answered with the same ACK again and not written twice', () => {
    const s = session();
    drain(s);
    s.handle(data(1, 512), 1);
    expect(acks(drain(s).packets)).toEqual([1]);
    s.handle(data(1, 512), 2);
    const { packets, events } = drain(s);
    expect(acks(packets)).toEqual([1]);
    expect(events).toEqual([]);
    expect(s.counters).toMatchObject({ duplicates: 1, blocks: 1, bytes: 512 });
  });

  it("write session: sends the final ACK only after 'committed'", () => {
    const s = session();
    drain(s);
    s.handle(data(1, 512), 1);
    drain(s);
    s.handle(data(2, 10), 2);
    const before = drain(s);
    expect(before.packets).toEqual([]);
    expect(before.events.map((e) => e.type)).toEqual(['writeData', 'writeEnd']);
    expect(s.pollTimeout()).toBeUndefined();
    s.handle({ type: 'committed' }, 50);
    const after = drain(s);
    expect(after.packets).toEqual([{ op: Opcode.Ack, block: 2 }]);
    expect(after.events).toEqual([{ type: 'done' }]);
  });

  it('write session: through a slow sink, the final ACK leaves only once the commit is done', () => {
    const file = testFile(3 * 512 + 1);
    const { pair, result, acksSent } = upload({ file, sink: { commitDelayMs: 300 }, client: { timeoutMs: 5000 } });
    expectOk(pair, result, file);
    const finalAck = acksSent.find((a) => (a.packet as { block: number }).block === 4)!;
    expect(pair.writeEndAt).toBeDefined();
    expect(finalAck.sentAt).toBe(pair.writeEndAt! + 300);
  });

  it('write session: while committing, a retransmitted final block gets no final ACK yet', () => {
    const s = session();
    drain(s);
    s.handle(data(1, 512), 1);
    s.handle(data(2, 10), 2);
    drain(s);
    s.handle(data(2, 10), 800);
    expect(acks(drain(s).packets)).not.toContain(2);
  });

  it('write session: while committing, a retransmitted final block is never answered with the OACK', () => {
    // RFC 2347: an OACK answers a request, never a DATA.
    const s = session({ oack: { blksize: '512' } });
    drain(s);
    s.handle(data(1, 10), 1);
    expect(drain(s).events.map((e) => e.type)).toEqual(['writeData', 'writeEnd']);
    s.handle(data(1, 10), 800);
    expect(drain(s).packets.filter((p) => p.op === Opcode.Oack)).toEqual([]);
  });

  it('write session: a duplicate DATA inside the first window is answered with an ACK, never the OACK', () => {
    const s = session({ oack: { windowsize: '4' }, windowSize: 4 });
    drain(s);
    s.handle(data(1, 512), 1);
    s.handle(data(2, 512), 2);
    expect(drain(s).packets).toEqual([]);
    s.handle(data(2, 512), 3);
    expect(drain(s).packets).toEqual([{ op: Opcode.Ack, block: 2 }]);
  });

  it('write session: while dallying it re-ACKs a retransmitted final block', () => {
    const s = session();
    drain(s);
    s.handle(data(1, 10), 1);
    s.handle({ type: 'committed' }, 2);
    expect(acks(drain(s).packets)).toEqual([1]);
    expect(s.finished).toBe(false);
    s.handle(data(1, 10), 500);
    expect(acks(drain(s).packets)).toEqual([1]);
    expect(s.pollTimeout()).toBe(1002);
    s.handle({ type: 'timeout' }, 1002);
    expect(s.finished).toBe(true);
    expect(drain(s)).toEqual({ packets: [], events: [] });
  });

  it('write session: a lost final ACK is repeated when the sender retransmits the final block during the dally', () => {
    const file = testFile(2 * 512 + 7);
    const { pair, result, acksSent } = upload({
      file,
      client: { timeoutMs: 500 },
      link: { drop: (d) => d.key === 'ACK:3' && d.occurrence === 0 },
    });
    expectOk(pair, result, file);
    expect(ackBlocks(acksSent).filter((b) => b === 3)).toHaveLength(2);
    expect(pair.events.filter((e) => e.type === 'done')).toHaveLength(1);
  });

  it('write session: an ERROR from the client while dallying ends it quietly as done', () => {
    const s = session();
    drain(s);
    s.handle(data(1, 10), 1);
    s.handle({ type: 'committed' }, 2);
    drain(s);
    s.handle({ type: 'packet', packet: { op: Opcode.Error, code: 0, message: 'bye' } }, 3);
    expect(s.finished).toBe(true);
    expect(drain(s)).toEqual({ packets: [], events: [] });
  });
});

describe('write session: refusals', () => {
  it('write session: a block longer than blksize is refused with ERROR 4', () => {
    const s = session({ blockSize: 512 });
    drain(s);
    s.handle(data(1, 513), 1);
    const { packets, events } = drain(s);
    expect(packets).toEqual([{ op: Opcode.Error, code: ErrorCode.IllegalOperation, message: 'block larger than blksize' }]);
    expect(events).toEqual([{ type: 'failed', outcome: 'illegal-operation', errorCode: 4, errorMessage: 'block larger than blksize' }]);
    expect(s.finished).toBe(true);
  });

  it('write session: an upload beyond maxBytes is refused with ERROR 3 as disk-full', () => {
    const file = testFile(2000);
    const { pair, result } = upload({ file, session: { maxBytes: 1000 } });
    expect(result.end).toEqual({ type: 'failed', outcome: 'disk-full', errorCode: 3, errorMessage: 'upload too large' });
    expect(pair.link.sent('toClient').at(-1)!.packet).toEqual({ op: Opcode.Error, code: 3, message: 'upload too large' });
    expect(pair.written.length).toBeLessThanOrEqual(1000);
    expect(pair.client.gaveUp).toBe(true);
  });

  it('write session: an upload of exactly maxBytes is accepted', () => {
    const file = testFile(1000);
    const { pair, result } = upload({ file, session: { maxBytes: 1000 } });
    expectOk(pair, result, file);
  });

  it('write session: a failed commit is reported with ERROR and its code', () => {
    const error = new TftpError(ErrorCode.DiskFull, 'Disk full or allocation exceeded');
    const { pair, result } = upload({ file: testFile(700), sink: { commit: error } });
    expect(result.end).toEqual({ type: 'failed', outcome: 'disk-full', errorCode: 3, errorMessage: error.message });
    expect(pair.link.sent('toClient').at(-1)!.packet).toEqual({ op: Opcode.Error, code: 3, message: error.message });
    expect(pair.link.sent('toClient', 'ACK:2')).toEqual([]);
  });

  it('write session: a sink error other than disk-full fails as upstream-error', () => {
    const s = session();
    drain(s);
    s.handle({ type: 'sourceError', error: new TftpError(ErrorCode.NotDefined, 'internal error') }, 1);
    expect(drain(s)).toEqual({
      packets: [{ op: Opcode.Error, code: 0, message: 'internal error' }],
      events: [{ type: 'failed', outcome: 'upstream-error', errorCode: 0, errorMessage: 'internal error' }],
    });
  });

  it('write session: a client ERROR ends it as client-abort and nothing is sent in reply', () => {
    const s = session();
    drain(s);
    s.handle(data(1, 512), 1);
    drain(s);
    s.handle({ type: 'packet', packet: { op: Opcode.Error, code: 0, message: 'cancelled' } }, 2);
    expect(drain(s)).toEqual({
      packets: [],
      events: [{ type: 'failed', outcome: 'client-abort', errorCode: 0, errorMessage: 'cancelled' }],
    });
    expect(s.pollTimeout()).toBeUndefined();
  });

  it('write session: ERROR 8 in answer to the OACK ends it as an option probe', () => {
    const s = session({ oack: { tsize: '100' } });
    drain(s);
    s.handle({ type: 'packet', packet: { op: Opcode.Error, code: 8, message: '' } }, 1);
    expect(drain(s).events).toEqual([{ type: 'failed', outcome: 'option-probe', errorCode: 8, errorMessage: '' }]);
  });

  it('write session: ignores and counts unexpected opcodes, sending nothing', () => {
    const s = session();
    drain(s);
    const strays: Packet[] = [
      { op: Opcode.Ack, block: 0 },
      { op: Opcode.Oack, options: {} },
      { op: Opcode.Rrq, filename: 'x', mode: 'octet', options: {} },
      { op: Opcode.Wrq, filename: 'x', mode: 'octet', options: {} },
    ];
    for (const packet of strays) s.handle({ type: 'packet', packet }, 1);
    s.handle({ type: 'data', chunk: new Uint8Array(1) }, 1);
    s.handle({ type: 'end' }, 1);
    expect(drain(s)).toEqual({ packets: [], events: [] });
    expect(s.counters.ignored).toBe(strays.length + 2);
    expect(s.finished).toBe(false);
  });
});

describe('write session: timeouts', () => {
  it('write session: with no DATA at all it re-sends ACK 0 at most firstPacketRetries times, then fails', () => {
    const { pair, result } = upload({
      file: testFile(100),
      session: { maxRetries: 10, firstPacketRetries: 3 },
      link: { drop: (d) => d.dir === 'toServer' },
    });
    expect(result.end).toEqual({ type: 'failed', outcome: 'timeout' });
    expect(pair.link.sent('toClient').map((d) => d.key)).toEqual(['ACK:0', 'ACK:0', 'ACK:0', 'ACK:0']);
    expect(pair.session.pollTimeout()).toBeUndefined();
  });

  it('write session: a lost OACK is retransmitted after the timeout', () => {
    const file = testFile(600);
    const { pair, result } = upload({
      file,
      session: { oack: { blksize: '512' } },
      link: { drop: (d) => d.key === 'OACK' && d.occurrence === 0 },
    });
    expectOk(pair, result, file);
    const oacks = pair.link.sent('toClient', 'OACK');
    expect(oacks.map((o) => o.sentAt)).toEqual([0, TIMING.timeoutMs]);
  });

  it('write session: times out after maxRetries re-ACKs once the sender goes silent', () => {
    const { pair, result } = upload({
      file: testFile(10 * 512),
      session: { maxRetries: 4, firstPacketRetries: 1 },
      link: { drop: (d) => d.dir === 'toServer' && !['DATA:1', 'DATA:2'].includes(d.key) },
    });
    expect(result.outcome).toBe('timeout');
    expect(pair.link.sent('toClient', 'ACK:2')).toHaveLength(1 + 4);
    expect(pair.session.counters.retransmits).toBe(4);
  });

  it('write session: re-ACK deadlines grow by backoffFactor and are capped at maxTimeoutMs', () => {
    const s = session({ timeoutMs: 500, backoffFactor: 3, maxTimeoutMs: 4000, maxRetries: 4, firstPacketRetries: 4 });
    drain(s);
    const deadlines: number[] = [];
    for (let d = s.pollTimeout(); d !== undefined; d = s.pollTimeout()) {
      deadlines.push(d);
      s.handle({ type: 'timeout' }, d);
    }
    expect(deadlines).toEqual([500, 2000, 6000, 10000, 14000]);
    const { packets, events } = drain(s);
    expect(acks(packets)).toEqual([0, 0, 0, 0]);
    expect(events).toEqual([{ type: 'failed', outcome: 'timeout' }]);
  });

  it('write session: a DATA in order resets the timeout to its initial value', () => {
    const s = session({ timeoutMs: 500, backoffFactor: 2, maxTimeoutMs: 4000 });
    s.handle({ type: 'timeout' }, 500);
    expect(s.pollTimeout()).toBe(1500);
    s.handle(data(1, 512), 1200);
    expect(s.pollTimeout()).toBe(1700);
  });
});

describe('write session: property', () => {
  it('write session: over a lossy, duplicating, reordering link the sink receives the upload exactly', () => {
    // Tallies across runs, to check the link really did lose, duplicate and reorder.
    const seen = { retransmits: 0, dropped: 0, duplicated: 0 };
    fc.assert(
      fc.property(
        fc.integer({ min: 8, max: 600 }),
        fc.integer({ min: 1, max: 16 }),
        fc.integer({ min: 0, max: 20 }),
        fc.oneof(fc.constant('exact' as const), fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true })),
        fc.record({
          seed: fc.integer(),
          lossRate: fc.constantFrom(0, 0.05, 0.2, 0.3),
          duplicateRate: fc.constantFrom(0, 0.1, 0.3),
          reorderRate: fc.constantFrom(0, 0.1, 0.5),
        }),
        fc.boolean(),
        fc.integer({ min: 0, max: 50 }),
        (blockSize, windowSize, blocks, tail, link, withOack, commitDelayMs) => {
          const size = blocks * blockSize + (tail === 'exact' ? 0 : Math.floor(tail * blockSize));
          const file = testFile(size, link.seed);
          const pair = new WritePair({
            file,
            session: {
              blockSize,
              windowSize,
              oack: withOack ? { blksize: String(blockSize), windowsize: String(windowSize) } : null,
              maxRetries: 60,
              firstPacketRetries: 60,
            },
            client: { maxTimeouts: 60 },
            sink: { commitDelayMs },
            link,
            maxSteps: 200_000,
          });
          const result = pair.run();
          expect(result.stopReason).toBe('finished');
          expect(result.outcome).toBe('ok');
          expect(pair.client.violations).toEqual([]);
          expect(Buffer.from(pair.written).equals(Buffer.from(file))).toBe(true);
          expect(pair.session.counters.bytes).toBe(size);
          expect(pair.session.counters.blocks).toBe(Math.floor(size / blockSize) + 1);
          seen.retransmits += pair.session.counters.retransmits;
          seen.dropped += pair.link.trace.filter((t) => t.fate === 'dropped').length;
          seen.duplicated += pair.link.trace.filter((t) => t.duplicated).length;
        },
      ),
      { numRuns: 300 },
    );
    expect(seen.retransmits).toBeGreaterThan(100);
    expect(seen.dropped).toBeGreaterThan(100);
    expect(seen.duplicated).toBeGreaterThan(100);
  });
});
