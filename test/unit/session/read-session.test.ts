/**
 * Read session (RRQ): each edge its own test, driven either by hand (to pin exact outputs) or
 * through the fake link with a scripted client (to check whole transfers), then a seeded
 * property over sizes, block sizes, windows and a lossy, duplicating, reordering link.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode, TftpError } from '../../../gateway/src/protocol/error-codes.js';
import { Opcode, type Packet } from '../../../gateway/src/protocol/packet.js';
import { ReadSession, type ReadSessionConfig } from '../../../gateway/src/session/read-session.js';
import { drain, ReadPair, type ReadPairOptions, testFile, TIMING } from '../../helpers/fake-link.js';

function session(cfg: Partial<ReadSessionConfig> = {}, now = 0): ReadSession {
  return new ReadSession({ ...TIMING, blockSize: 512, windowSize: 1, oack: null, ...cfg }, now);
}

/** Gives the session a whole file and the end of the source, as a driver would. */
function feedFile(s: ReadSession, file: Uint8Array, now: number): void {
  s.handle({ type: 'data', chunk: file }, now);
  s.handle({ type: 'end' }, now);
}

const ack = (block: number): { type: 'packet'; packet: Packet } => ({ type: 'packet', packet: { op: Opcode.Ack, block } });
const dataBlocks = (packets: Packet[]): number[] => packets.filter((p) => p.op === Opcode.Data).map((p) => (p as { block: number }).block);

/** Runs a whole transfer and checks the basics every transfer must satisfy. */
function transfer(opts: ReadPairOptions) {
  const pair = new ReadPair(opts);
  const result = pair.run();
  expect(result.stopReason).toBe('finished');
  expect(pair.client.violations).toEqual([]);
  return { pair, result, dataSent: pair.link.sent('toClient', (p) => p.op === Opcode.Data) };
}

function expectOk(pair: ReadPair, result: { outcome: unknown }): void {
  expect(result.outcome).toBe('ok');
  expect(pair.client.done).toBe(true);
  expect(Buffer.from(pair.client.received).equals(Buffer.from(pair.file))).toBe(true);
}

describe('read session: file sizes', () => {
  it('read session: sends an empty file as a single empty DATA block', () => {
    const { pair, result, dataSent } = transfer({ file: new Uint8Array(0) });
    expectOk(pair, result);
    expect(dataSent.map((d) => d.packet)).toEqual([{ op: Opcode.Data, block: 1, data: expect.objectContaining({ length: 0 }) }]);
    expect(pair.session.counters).toMatchObject({ bytes: 0, blocks: 1, retransmits: 0 });
  });

  it('read session: sends a 1-byte file in one short block', () => {
    const { pair, result, dataSent } = transfer({ file: testFile(1) });
    expectOk(pair, result);
    expect(dataSent).toHaveLength(1);
    expect(pair.session.counters).toMatchObject({ bytes: 1, blocks: 1 });
  });

  for (const endWithLastChunk of [false, true]) {
    it(`read session: a file of exactly k × blksize ends with an empty block (end ${endWithLastChunk ? 'with the last chunk' : 'on its own'})`, () => {
      const { pair, result, dataSent } = transfer({ file: testFile(3 * 512), source: { endWithLastChunk } });
      expectOk(pair, result);
      expect(dataSent.map((d) => [(d.packet as { block: number }).block, (d.packet as { data: Uint8Array }).data.length])).toEqual([
        [1, 512],
        [2, 512],
        [3, 512],
        [4, 0],
      ]);
    });
  }

  it('read session: a file of exactly one window of blocks ends with an empty block in the next window', () => {
    const { pair, result, dataSent } = transfer({ file: testFile(4 * 64), session: { blockSize: 64, windowSize: 4 } });
    expectOk(pair, result);
    expect(dataSent.map((d) => (d.packet as { block: number }).block)).toEqual([1, 2, 3, 4, 5]);
  });

  it('read session: a source answering in odd-sized chunks still yields full blocks', () => {
    const { pair, result, dataSent } = transfer({
      file: testFile(5000),
      session: { blockSize: 512, windowSize: 3 },
      source: { chunkBytes: (_min, rnd) => 1 + Math.floor(rnd() * 700), seed: 42 },
    });
    expectOk(pair, result);
    const lengths = dataSent.map((d) => (d.packet as { data: Uint8Array }).data.length);
    expect(lengths.slice(0, -1).every((n) => n === 512)).toBe(true);
    expect(lengths.at(-1)).toBe(5000 % 512);
  });

  it('read session: block numbers wrap from 65535 to 0 and the file reconstructs', () => {
    // blksize 8 and 65540 full blocks plus a short one: the wire numbers pass 65535 -> 0 -> 4.
    const file = testFile(8 * 65540 + 3);
    const { pair, result, dataSent } = transfer({ file, session: { blockSize: 8, windowSize: 1 } });
    expectOk(pair, result);
    const wire = dataSent.map((d) => (d.packet as { block: number }).block);
    expect(wire).toHaveLength(65541);
    expect(wire.slice(65533, 65541)).toEqual([65534, 65535, 0, 1, 2, 3, 4, 5]);
    expect(pair.session.lastAcked).toBe(65541);
    expect(pair.session.counters).toMatchObject({ blocks: 65541, retransmits: 0, duplicates: 0 });
  });

  it('read session: a block lost right after the 65535 -> 0 wrap is recovered inside the window', () => {
    // Windows of 10 from block 1: 65531..65540 holds the wrap, with block 65536 (wire 0) 6th.
    const file = testFile(8 * 65560);
    const { pair, result } = transfer({
      file,
      session: { blockSize: 8, windowSize: 10 },
      link: { drop: (d) => d.key === 'DATA:0' && d.occurrence === 0 },
    });
    expectOk(pair, result);
    // The client ACKed 65535 on the gap and the server resumed at wire block 0, with no timeout.
    expect(pair.link.sent('toServer', 'ACK:65535')).toHaveLength(1);
    expect(pair.link.sent('toClient', 'DATA:0')).toHaveLength(2);
    // Only the 5 blocks after the gap were sent again: a timeout would have resent all 10.
    expect(pair.session.counters.retransmits).toBe(5);
  });
});

describe('read session: acknowledgements', () => {
  it("read session: duplicate ACKs never cause a send (Sorcerer's Apprentice)", () => {
    const s = session();
    s.handle({ type: 'data', chunk: testFile(2000) }, 0);
    expect(dataBlocks(drain(s).packets)).toEqual([1]);
    s.handle(ack(1), 10);
    expect(dataBlocks(drain(s).packets)).toEqual([2]);
    const sentBefore = s.counters.packetsSent;
    for (let i = 0; i < 5; i++) s.handle(ack(1), 11 + i);
    expect(drain(s).packets).toEqual([]);
    expect(s.counters.packetsSent).toBe(sentBefore);
    expect(s.counters.duplicates).toBe(5);
    s.handle(ack(2), 20);
    expect(dataBlocks(drain(s).packets)).toEqual([3]);
  });

  it('read session: when every ACK arrives twice, each block is still sent exactly once', () => {
    const { pair, result, dataSent } = transfer({
      file: testFile(20 * 512 + 17),
      link: { duplicate: (d) => d.dir === 'toServer' },
    });
    expectOk(pair, result);
    expect(dataSent).toHaveLength(21);
    expect(pair.session.counters.retransmits).toBe(0);
    // Every ACK but the last came twice; a copy arriving after the next ACK is stale, not a duplicate.
    expect(pair.session.counters.duplicates + pair.session.counters.ignored).toBe(20);
  });

  it('read session: a lost last ACK makes it resend the last block, then it completes when the ACK arrives', () => {
    const { pair, result } = transfer({
      file: testFile(2 * 512 + 100),
      link: { drop: (d) => d.key === 'ACK:3' && d.occurrence === 0 },
    });
    expectOk(pair, result);
    const lastBlock = pair.link.sent('toClient', 'DATA:3');
    expect(lastBlock).toHaveLength(2);
    expect(lastBlock[1].sentAt - lastBlock[0].sentAt).toBe(TIMING.timeoutMs);
    expect(pair.session.counters.retransmits).toBe(1);
  });

  it('read session: a lost OACK is retransmitted after the timeout', () => {
    const { pair, result } = transfer({
      file: testFile(1000),
      session: { oack: { blksize: '512' } },
      link: { drop: (d) => d.key === 'OACK' && d.occurrence === 0 },
    });
    expectOk(pair, result);
    const oacks = pair.link.sent('toClient', 'OACK');
    expect(oacks).toHaveLength(2);
    expect(oacks[1].sentAt).toBe(TIMING.timeoutMs);
    expect(oacks[1].packet).toEqual({ op: Opcode.Oack, options: { blksize: '512' } });
  });

  it('read session: a lost ACK 0 makes it retransmit the OACK, not DATA 1', () => {
    const { pair, result } = transfer({
      file: testFile(1000),
      session: { oack: { tsize: '1000' } },
      link: { drop: (d) => d.key === 'ACK:0' && d.occurrence === 0 },
    });
    expectOk(pair, result);
    expect(pair.link.sent('toClient', 'OACK')).toHaveLength(2);
    expect(pair.link.sent('toClient', 'DATA:1')).toHaveLength(1);
  });

  it('read session: sends no DATA before ACK 0 when it sent an OACK', () => {
    const s = session({ oack: { blksize: '512' } });
    expect(drain(s).packets).toEqual([{ op: Opcode.Oack, options: { blksize: '512' } }]);
    s.handle({ type: 'data', chunk: testFile(1000) }, 1);
    expect(drain(s).packets).toEqual([]);
    s.handle(ack(0), 2);
    expect(dataBlocks(drain(s).packets)).toEqual([1]);
  });

  it('read session: a stale ACK for an older block is ignored and sends nothing', () => {
    const s = session();
    s.handle({ type: 'data', chunk: testFile(3000) }, 0);
    s.handle(ack(1), 1);
    s.handle(ack(2), 2);
    drain(s);
    s.handle(ack(1), 3);
    expect(drain(s).packets).toEqual([]);
    expect(s.counters.ignored).toBe(1);
  });
});

describe('read session: timeouts', () => {
  it('read session: with no ACK at all it retransmits the OACK at most firstPacketRetries times, then fails (amplification bound)', () => {
    const { pair, result } = transfer({
      file: testFile(10_000),
      session: { oack: { blksize: '512' }, maxRetries: 10, firstPacketRetries: 3 },
      link: { drop: (d) => d.dir === 'toServer' },
    });
    expect(result.outcome).toBe('timeout');
    expect(pair.link.sent('toClient')).toHaveLength(1 + 3);
    expect(pair.link.sent('toClient').every((d) => d.key === 'OACK')).toBe(true);
    expect(pair.session.finished).toBe(true);
    expect(pair.session.pollTimeout()).toBeUndefined();
  });

  it('read session: with no ACK at all it retransmits DATA 1 at most firstPacketRetries times, then fails', () => {
    const { pair, result } = transfer({
      file: testFile(10_000),
      session: { maxRetries: 10, firstPacketRetries: 2 },
      link: { drop: (d) => d.dir === 'toServer' },
    });
    expect(result.outcome).toBe('timeout');
    expect(pair.link.sent('toClient').map((d) => d.key)).toEqual(['DATA:1', 'DATA:1', 'DATA:1']);
    expect(pair.session.counters.retransmits).toBe(2);
  });

  it('read session: once the client has ACKed, maxRetries rather than firstPacketRetries bounds the retransmits', () => {
    const { pair, result } = transfer({
      file: testFile(10_000),
      session: { maxRetries: 6, firstPacketRetries: 1 },
      link: { drop: (d) => d.dir === 'toServer' && d.key !== 'ACK:1' },
    });
    expect(result.outcome).toBe('timeout');
    expect(pair.link.sent('toClient', 'DATA:2')).toHaveLength(1 + 6);
  });

  // Changed for issue 9: before any ACK only the first packet is resent (a request may be
  // spoofed); once the peer is proven a timeout resends the window, within the budget.
  it('read session: before any ACK a timeout resends only the first block', () => {
    const s = session({ windowSize: 4, blockSize: 8 });
    s.handle({ type: 'data', chunk: testFile(100) }, 0);
    expect(dataBlocks(drain(s).packets)).toEqual([1, 2, 3, 4]);
    expect(s.pollTimeout()).toBe(1000);
    s.handle({ type: 'timeout' }, 1000);
    expect(dataBlocks(drain(s).packets)).toEqual([1]);
    expect(s.counters.retransmits).toBe(1);
  });

  it('read session: resends the window after a timeout once the peer is proven', () => {
    const s = session({ windowSize: 4, blockSize: 8 });
    s.handle({ type: 'data', chunk: testFile(100) }, 0);
    drain(s);
    s.handle(ack(4), 10);
    expect(dataBlocks(drain(s).packets)).toEqual([5, 6, 7, 8]);
    expect(s.pollTimeout()).toBe(1010);
    s.handle({ type: 'timeout' }, 1010);
    expect(dataBlocks(drain(s).packets)).toEqual([5, 6, 7, 8]);
    expect(s.counters.retransmits).toBe(4);
  });

  it('read session: a timeout input before the deadline does nothing', () => {
    const s = session();
    feedFile(s, testFile(100), 0);
    drain(s);
    s.handle({ type: 'timeout' }, 999);
    expect(drain(s).packets).toEqual([]);
    expect(s.pollTimeout()).toBe(1000);
  });

  it('read session: retransmit deadlines grow by backoffFactor and are capped at maxTimeoutMs', () => {
    const s = session({ timeoutMs: 1000, backoffFactor: 2, maxTimeoutMs: 5000, maxRetries: 5, firstPacketRetries: 5 });
    feedFile(s, testFile(100), 0);
    drain(s);
    const deadlines: number[] = [];
    for (let d = s.pollTimeout(); d !== undefined; d = s.pollTimeout()) {
      deadlines.push(d);
      s.handle({ type: 'timeout' }, d);
    }
    expect(deadlines).toEqual([1000, 3000, 7000, 12000, 17000, 22000]);
    const { packets, events } = drain(s);
    expect(dataBlocks(packets)).toEqual([1, 1, 1, 1, 1]);
    expect(events).toEqual([{ type: 'failed', outcome: 'timeout', errorCode: undefined, errorMessage: undefined }]);
  });

  it('read session: an ACK that makes progress resets the timeout to its initial value', () => {
    const s = session({ timeoutMs: 1000, backoffFactor: 2, maxTimeoutMs: 8000 });
    s.handle({ type: 'data', chunk: testFile(2000) }, 0);
    s.handle({ type: 'timeout' }, 1000);
    s.handle({ type: 'timeout' }, 3000);
    expect(s.pollTimeout()).toBe(7000);
    s.handle(ack(1), 3500);
    expect(s.pollTimeout()).toBe(4500);
  });
});

describe('read session: errors', () => {
  it('read session: a client ERROR ends it as client-abort and nothing is sent in reply', () => {
    const s = session();
    s.handle({ type: 'data', chunk: testFile(2000) }, 0);
    drain(s);
    s.handle({ type: 'packet', packet: { op: Opcode.Error, code: 0, message: 'user cancelled' } }, 5);
    const { packets, events } = drain(s);
    expect(packets).toEqual([]);
    expect(events).toEqual([{ type: 'failed', outcome: 'client-abort', errorCode: 0, errorMessage: 'user cancelled' }]);
    expect(s.finished).toBe(true);
    expect(s.pollTimeout()).toBeUndefined();
  });

  it('read session: ERROR 8 in answer to the OACK ends it as an option probe', () => {
    const s = session({ oack: { tsize: '1000' } });
    drain(s);
    s.handle({ type: 'packet', packet: { op: Opcode.Error, code: ErrorCode.OptionRefused, message: 'tsize' } }, 5);
    const { packets, events } = drain(s);
    expect(packets).toEqual([]);
    expect(events).toContainEqual({ type: 'failed', outcome: 'option-probe', errorCode: 8, errorMessage: 'tsize' });
  });

  it('read session: ERROR 8 once DATA is flowing is a client abort, not a probe', () => {
    const s = session({ oack: { tsize: '1000' } });
    s.handle(ack(0), 1);
    s.handle({ type: 'data', chunk: testFile(1000) }, 1);
    drain(s);
    s.handle({ type: 'packet', packet: { op: Opcode.Error, code: ErrorCode.OptionRefused, message: '' } }, 2);
    expect(drain(s).events).toContainEqual(expect.objectContaining({ type: 'failed', outcome: 'client-abort' }));
  });

  it('read session: a source error mid-transfer sends ERROR with its code and fails as upstream-error', () => {
    const error = new TftpError(ErrorCode.NotDefined, 'upstream failed');
    const { pair, result } = transfer({
      file: testFile(10_000),
      session: { windowSize: 2 },
      source: { chunkBytes: 512, failAfterBytes: 3 * 512, error },
    });
    expect(result.end).toEqual({ type: 'failed', outcome: 'upstream-error', errorCode: 0, errorMessage: 'upstream failed' });
    const toClient = pair.link.sent('toClient');
    expect(toClient.at(-1)!.packet).toEqual({ op: Opcode.Error, code: 0, message: 'upstream failed' });
    expect(toClient.filter((d) => d.key === 'ERROR')).toHaveLength(1);
    expect(pair.session.finished).toBe(true);
  });

  it('read session: a source error carries its TFTP code to the wire (file not found)', () => {
    const s = session({ oack: { tsize: '0' } });
    drain(s);
    s.handle({ type: 'sourceError', error: new TftpError(ErrorCode.FileNotFound, 'File not found') }, 1);
    expect(drain(s)).toEqual({
      packets: [{ op: Opcode.Error, code: 1, message: 'File not found' }],
      events: [{ type: 'failed', outcome: 'upstream-error', errorCode: 1, errorMessage: 'File not found' }],
    });
  });

  it('read session: ignores every input once finished', () => {
    const s = session();
    feedFile(s, testFile(10), 0);
    s.handle(ack(1), 1);
    expect(drain(s).events.at(-1)).toEqual({ type: 'done' });
    s.handle(ack(1), 2);
    s.handle({ type: 'timeout' }, 5000);
    s.handle({ type: 'data', chunk: testFile(10) }, 6000);
    expect(drain(s)).toEqual({ packets: [], events: [] });
  });
});

describe('read session: windows (RFC 7440)', () => {
  it('read session: windowsize 4 with a lost block mid-window resends from the block after the ACK', () => {
    const { pair, result } = transfer({
      file: testFile(10 * 64 + 5),
      session: { blockSize: 64, windowSize: 4 },
      link: { drop: (d) => d.key === 'DATA:2' && d.occurrence === 0 },
    });
    expectOk(pair, result);
    const keys = pair.link.sent('toClient').map((d) => d.key);
    // Window 1..4 loses 2; the client ACKs 1 on the gap; the next window starts at 2.
    expect(keys.slice(0, 8)).toEqual(['DATA:1', 'DATA:2', 'DATA:3', 'DATA:4', 'DATA:2', 'DATA:3', 'DATA:4', 'DATA:5']);
    expect(pair.link.sent('toServer').map((d) => d.key)[0]).toBe('ACK:1');
    expect(result.now).toBeLessThan(TIMING.timeoutMs); // recovered without waiting for a timeout
  });

  it('read session: windowsize 64 with a lost block mid-window resends from the block after the ACK', () => {
    const { pair, result } = transfer({
      file: testFile(200 * 32 + 1),
      session: { blockSize: 32, windowSize: 64 },
      link: { drop: (d) => d.key === 'DATA:30' && d.occurrence === 0 },
    });
    expectOk(pair, result);
    const trace = pair.link.trace;
    const gapAck = trace.findIndex((d) => d.dir === 'toServer' && d.key === 'ACK:29');
    expect(gapAck).toBeGreaterThan(0);
    // Everything the server sent after the client's ACK 29 begins at 30 and runs in order.
    const firstAfter = trace.findIndex((d, i) => i > 63 && d.dir === 'toClient' && d.sentAt >= trace[gapAck].sentAt + 1);
    const resent = trace.slice(firstAfter, firstAfter + 64).map((d) => (d.packet as { block: number }).block);
    expect(resent).toEqual(Array.from({ length: 64 }, (_, i) => 30 + i));
    expect(pair.link.sent('toClient', 'DATA:30')).toHaveLength(2);
  });

  it('read session: an ACK inside the window by hand resends the rest and fills the window', () => {
    const s = session({ windowSize: 4, blockSize: 8 });
    s.handle({ type: 'data', chunk: testFile(80) }, 0);
    expect(dataBlocks(drain(s).packets)).toEqual([1, 2, 3, 4]);
    s.handle(ack(2), 5);
    expect(dataBlocks(drain(s).packets)).toEqual([3, 4, 5, 6]);
    expect(s.counters.retransmits).toBe(2);
  });

  it('read session: an ACK beyond what was sent is ignored', () => {
    const s = session({ windowSize: 4, blockSize: 8 });
    s.handle({ type: 'data', chunk: testFile(80) }, 0);
    drain(s);
    s.handle(ack(5), 5);
    expect(drain(s).packets).toEqual([]);
    expect(s.counters.ignored).toBe(1);
    expect(s.lastAcked).toBe(0);
  });
});

describe('read session: source and memory', () => {
  it('read session: needData never asks for more than window × blksize and is only sent below that', () => {
    const { pair, result } = transfer({ file: testFile(100 * 512 + 7), session: { blockSize: 512, windowSize: 8 } });
    expectOk(pair, result);
    const window = 8 * 512;
    expect(pair.needData.length).toBeGreaterThan(10);
    for (const n of pair.needData) {
      expect(n.minBytes).toBeLessThanOrEqual(window);
      expect(n.pendingBytes).toBeLessThan(window);
    }
    // At most the window being asked for on top of what was below one window.
    expect(pair.maxPendingBytes).toBeLessThan(2 * window);
  });

  it('read session: a client that never ACKs makes it read no more than about two windows from the source', () => {
    const file = testFile(1000 * 64);
    const pair = new ReadPair({
      file,
      session: { blockSize: 64, windowSize: 4, maxRetries: 3 },
      link: { drop: (d) => d.dir === 'toServer' },
    });
    expect(pair.run().outcome).toBe('timeout');
    const window = 4 * 64;
    const delivered = pair.pendingBytes + pair.session.counters.bytes;
    expect(delivered).toBeLessThanOrEqual(3 * window);
  });

  it('read session: asks for the first window at once, before any DATA is sent', () => {
    const s = session({ oack: { blksize: '1024', windowsize: '2' }, blockSize: 1024, windowSize: 2 });
    expect(drain(s).events).toEqual([{ type: 'needData', minBytes: 2048, releasedBytes: 0 }]);
  });

  it('read session: a slow source still completes, the clock jumping to its answers', () => {
    const { pair, result } = transfer({
      file: testFile(5 * 512 + 1),
      session: { windowSize: 2 },
      source: { delayMs: 50, chunkBytes: 700 },
    });
    expectOk(pair, result);
    expect(pair.session.counters.retransmits).toBe(0);
  });
});

describe('read session: unexpected input', () => {
  it('read session: ignores and counts unexpected opcodes, sending nothing', () => {
    const s = session({ oack: { blksize: '512' } });
    drain(s);
    const strays: Packet[] = [
      { op: Opcode.Data, block: 1, data: new Uint8Array(3) },
      { op: Opcode.Rrq, filename: 'x', mode: 'octet', options: {} },
      { op: Opcode.Wrq, filename: 'x', mode: 'octet', options: {} },
      { op: Opcode.Oack, options: {} },
      { op: Opcode.Ack, block: 7 }, // not ACK 0 while waiting for the OACK's answer
    ];
    for (const packet of strays) s.handle({ type: 'packet', packet }, 1);
    s.handle({ type: 'committed' }, 1);
    expect(drain(s).packets).toEqual([]);
    expect(s.counters.ignored).toBe(strays.length + 1);
    expect(s.finished).toBe(false);
  });

  it('read session: a decoded stray RRQ from the same peer does not restart the transfer', () => {
    const s = session();
    feedFile(s, testFile(600), 0);
    drain(s);
    s.handle({ type: 'packet', packet: { op: Opcode.Rrq, filename: 'x', mode: 'octet', options: {} } }, 1);
    expect(drain(s).packets).toEqual([]);
    expect(s.counters.ignored).toBe(1);
    s.handle(ack(1), 2);
    expect(dataBlocks(drain(s).packets)).toEqual([2]);
  });
});

describe('read session: property', () => {
  it('read session: over a lossy, duplicating, reordering link the client reconstructs the file exactly', () => {
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
        fc.boolean(),
        (blockSize, windowSize, blocks, tail, link, withOack, endWithLastChunk) => {
          const size = blocks * blockSize + (tail === 'exact' ? 0 : Math.floor(tail * blockSize));
          const file = testFile(size, link.seed);
          const pair = new ReadPair({
            file,
            session: {
              blockSize,
              windowSize,
              oack: withOack ? { blksize: String(blockSize), windowsize: String(windowSize) } : null,
              maxRetries: 60,
              firstPacketRetries: 60,
            },
            source: { seed: link.seed, endWithLastChunk, chunkBytes: (min, rnd) => 1 + Math.floor(rnd() * 2 * min) },
            link,
            maxSteps: 200_000,
          });
          const result = pair.run();
          expect(result.stopReason).toBe('finished');
          expect(result.outcome).toBe('ok');
          expect(pair.client.violations).toEqual([]);
          expect(Buffer.from(pair.client.received).equals(Buffer.from(file))).toBe(true);
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
