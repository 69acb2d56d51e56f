/**
 * Write session backpressure (issue 15): past maxUnwrittenBytes received but not taken by the
 * sink, a window's ACK is held until `written` brings it back under; the peer's retransmissions
 * meanwhile get no answer, and no timer runs (the peer waits for us, not we for it).
 */
import { describe, expect, it } from 'vitest';
import { Opcode, type Packet } from '../../../gateway/src/protocol/packet.js';
import { WriteSession, type WriteSessionConfig } from '../../../gateway/src/session/write-session.js';
import { drain, TIMING } from '../../helpers/fake-link.js';

function session(cfg: Partial<WriteSessionConfig> = {}, now = 0): WriteSession {
  return new WriteSession({ ...TIMING, blockSize: 512, windowSize: 1, oack: null, maxBytes: 1 << 30, ...cfg }, now);
}
const data = (block: number, length = 512): { type: 'packet'; packet: Packet } => ({ type: 'packet', packet: { op: Opcode.Data, block: block & 0xffff, data: new Uint8Array(length).fill(block & 0xff) } });
const acks = (packets: Packet[]): number[] => packets.filter((p) => p.op === Opcode.Ack).map((p) => (p as { block: number }).block);

describe('write session: backpressure', () => {
  it('write session: holds the ACK while more than maxUnwrittenBytes are unwritten, and sends it on written', () => {
    const s = session({ maxUnwrittenBytes: 1024 });
    drain(s);
    s.handle(data(1), 1);
    s.handle(data(2), 2);
    expect(acks(drain(s).packets)).toEqual([1, 2]); // 1024 unwritten: at the limit, not past it
    s.handle(data(3), 3);
    expect(acks(drain(s).packets)).toEqual([]); // 1536 unwritten: held
    expect(s.pollTimeout()).toBeUndefined(); // no retransmit timer (only the progress rule, off in TIMING)
    s.handle(data(3), 1003); // the peer's retransmission gets no answer
    s.handle(data(2), 1004);
    expect(drain(s).packets).toEqual([]);
    s.handle({ type: 'written', bytes: 256 }, 1005);
    expect(acks(drain(s).packets)).toEqual([]); // 1280: still past the limit
    s.handle({ type: 'written', bytes: 256 }, 1006);
    expect(acks(drain(s).packets)).toEqual([3]); // 1024: the held ACK goes
    expect(s.pollTimeout()).toBe(2006);
    s.handle(data(4, 10), 1007);
    expect(drain(s).events).toEqual([{ type: 'writeData', chunk: new Uint8Array(10).fill(4) }, { type: 'writeEnd' }]);
    s.handle({ type: 'committed' }, 1008);
    expect(acks(drain(s).packets)).toEqual([4]);
  });

  it('write session: with windowsize 4 (RFC 7440) only the window-end ACK is held', () => {
    const s = session({ windowSize: 4, maxUnwrittenBytes: 2048 });
    drain(s);
    for (let b = 1; b <= 4; b++) s.handle(data(b), b);
    expect(acks(drain(s).packets)).toEqual([4]);
    for (let b = 5; b <= 8; b++) s.handle(data(b), b);
    expect(acks(drain(s).packets)).toEqual([]);
    s.handle({ type: 'written', bytes: 4 * 512 }, 20);
    expect(acks(drain(s).packets)).toEqual([8]);
  });

  it('write session: without maxUnwrittenBytes nothing is ever held (the old behaviour)', () => {
    const s = session();
    drain(s);
    for (let b = 1; b <= 5; b++) s.handle(data(b), b);
    expect(acks(drain(s).packets)).toEqual([1, 2, 3, 4, 5]);
  });
});
