/**
 * The budgeted session: a read session's reservation follows its window (slow start for an
 * unproven peer, the full window after the first ACK on a per-session port), and a window the
 * budget cannot cover ends the session busy before any of it is sent. Pure: a real
 * ReadSession, a fake budget, a fake clock.
 */
import { describe, expect, it } from 'vitest';
import { BudgetedSession, BUSY_MESSAGE } from '../../../gateway/src/admission/budgeted-session.js';
import { decodePacket, Opcode, type Packet } from '../../../gateway/src/protocol/packet.js';
import { ReadSession } from '../../../gateway/src/session/read-session.js';
import { datagramBytes, type SessionEvent } from '../../../gateway/src/session/types.js';
import { testFile, TIMING } from '../../helpers/fake-link.js';

const BLOCK = 512;
const WINDOW = 16;
const FILE = testFile(100 * BLOCK);

function setup(budgetBytes: number) {
  let reserved = 0;
  const inner = new ReadSession({ ...TIMING, blockSize: BLOCK, windowSize: WINDOW, oack: { blksize: String(BLOCK), windowsize: String(WINDOW) }, slowStartBlocks: 1, ackIsEvidence: true }, 0);
  const initial = BudgetedSession.bytesFor(BLOCK, inner.windowBlocks, FILE.length);
  reserved = initial;
  const s = new BudgetedSession(inner, {
    blockSize: BLOCK,
    sourceBytes: FILE.length,
    reservedBytes: initial,
    reserve: (bytes) => {
      if (reserved + bytes > budgetBytes) return false;
      reserved += bytes;
      return true;
    },
  });
  const sent = (): Packet[] => {
    const out: Packet[] = [];
    let d;
    while ((d = s.pollTransmit()) !== undefined) out.push(decodePacket(Buffer.from(datagramBytes(d))));
    return out;
  };
  const events = (): SessionEvent[] => {
    const out: SessionEvent[] = [];
    let e;
    while ((e = s.pollEvent()) !== undefined) out.push(e);
    return out;
  };
  /** Serves every read-ahead request from FILE, as the driver would. */
  let offset = 0;
  const serve = (evs: SessionEvent[], now: number) => {
    for (const e of evs) {
      if (e.type !== 'needData') continue;
      const chunk = FILE.subarray(offset, offset + Math.max(e.minBytes, BLOCK));
      offset += chunk.length;
      s.handle(chunk.length > 0 ? { type: 'data', chunk } : { type: 'end' }, now);
    }
  };
  return { s, inner, sent, events, serve, reserved: () => reserved, initial };
}

describe('budgeted session', () => {
  it('budgeted session: an unproven peer holds (and reserves) one slow-start block; the first ACK reserves the full window', () => {
    const t = setup(10 * 1024 * 1024);
    expect(t.initial).toBe(2 * 1 * BLOCK);
    expect(t.sent().map((p) => p.op)).toEqual([Opcode.Oack]);
    t.serve(t.events(), 0);
    t.s.handle({ type: 'packet', packet: { op: Opcode.Ack, block: 0 } }, 10);
    expect(t.inner.windowBlocks).toBe(WINDOW);
    expect(t.s.reservedBytes).toBe(2 * WINDOW * BLOCK);
    expect(t.reserved()).toBe(2 * WINDOW * BLOCK);
    t.serve(t.events(), 10);
    const data = t.sent().filter((p) => p.op === Opcode.Data);
    expect(data.length).toBeGreaterThan(1);
  });

  it('budgeted session: a window the budget cannot cover ends the session busy, sending none of it', () => {
    const t = setup(4 * BLOCK); // room for the slow-start block, not for 16
    expect(t.sent().map((p) => p.op)).toEqual([Opcode.Oack]);
    t.serve(t.events(), 0);
    t.s.handle({ type: 'packet', packet: { op: Opcode.Ack, block: 0 } }, 10);
    const out = t.sent();
    expect(out).toEqual([{ op: Opcode.Error, code: 0, message: BUSY_MESSAGE }]);
    const evs = t.events();
    expect(evs.some((e) => e.type === 'needData')).toBe(false);
    expect(evs).toContainEqual(expect.objectContaining({ type: 'failed', outcome: 'busy', errorCode: 0, errorMessage: BUSY_MESSAGE }));
    expect(t.s.finished).toBe(true);
    expect(t.reserved()).toBe(t.initial);
    // The record counts what went on the wire: the OACK and the ERROR, no DATA.
    expect(t.s.counters).toMatchObject({ blocks: 0, bytes: 0, packetsSent: 2 });
  });

  it('budgeted session: a whole transfer within the budget reserves its window once and finishes ok', () => {
    const t = setup(2 * WINDOW * BLOCK);
    let now = 0;
    t.sent();
    t.serve(t.events(), now);
    let acked = 0;
    for (let round = 0; round < 200 && !t.s.finished; round++) {
      now += 1;
      t.s.handle({ type: 'packet', packet: { op: Opcode.Ack, block: acked } }, now);
      const data = t.sent().filter((p): p is Extract<Packet, { op: typeof Opcode.Data }> => p.op === Opcode.Data);
      if (data.length > 0) acked = data[data.length - 1].block;
      const evs = t.events();
      expect(evs.some((e) => e.type === 'failed')).toBe(false);
      t.serve(evs, now);
      if (evs.some((e) => e.type === 'done')) break;
    }
    expect(t.s.finished).toBe(true);
    expect(t.reserved()).toBe(2 * WINDOW * BLOCK);
  });
});
