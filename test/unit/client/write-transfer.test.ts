import { describe, expect, it } from 'vitest';
import { decodePacket, encodeAck, encodePacket, Opcode, type DataPacket, type Packet } from '../../../gateway/src/protocol/packet.js';
import { WriteTransfer, type WriteTransferOptions } from '../../../client/write-transfer.js';

const SERVER = '::1';
const TID = 50000;

function setup(data: Uint8Array, extra: Partial<WriteTransferOptions> = {}) {
  const t = new WriteTransfer({ serverAddress: SERVER, serverPort: 69, filename: 'up.bin', data, timeoutMs: 1000, retries: 3, ...extra });
  const sent = (): Packet[] => {
    const out: Packet[] = [];
    for (let x = t.pollTransmit(); x; x = t.pollTransmit()) out.push(decodePacket(x.bytes));
    return out;
  };
  const blocks = () => sent().map((p) => (p as DataPacket).block);
  const ack = (block: number, now = 0) => t.handleDatagram(encodeAck(block & 0xffff), SERVER, TID, now);
  const events = () => {
    const out = [];
    for (let e = t.pollEvent(); e; e = t.pollEvent()) out.push(e);
    return out;
  };
  return { t, sent, blocks, ack, events };
}

const bytes = (n: number) => Uint8Array.from({ length: n }, (_, i) => i & 0xff);

describe('write transfer', () => {
  it('write transfer: lock-step after ACK 0 sends 512-byte blocks and ends with an empty block on an exact multiple', () => {
    const { t, sent, ack, events } = setup(bytes(1024));
    t.start(0);
    expect(sent()).toEqual([{ op: Opcode.Wrq, filename: 'up.bin', mode: 'octet', options: {} }]);
    ack(0);
    const [d1] = sent() as DataPacket[];
    expect(d1.block).toBe(1);
    expect([...d1.data]).toEqual([...bytes(512)]);
    ack(1);
    expect((sent()[0] as DataPacket).data.length).toBe(512);
    ack(2);
    const [d3] = sent() as DataPacket[];
    expect(d3).toMatchObject({ block: 3 });
    expect(d3.data.length).toBe(0);
    ack(3);
    expect(events()).toEqual([{ type: 'done' }]);
    expect(t.stats()).toMatchObject({ bytes: 1024, blocks: 3 });
  });

  it('write transfer: a duplicate ACK does not cause a resend (Sorcerer\'s Apprentice)', () => {
    const { t, sent, ack } = setup(bytes(2000));
    t.start(0);
    sent();
    ack(0);
    sent();
    ack(1);
    expect(sent()).toHaveLength(1);
    ack(1);
    expect(sent()).toEqual([]);
  });

  it('write transfer: with an OACK for windowsize 3, sends three blocks per window and goes back after a mid-window ACK', () => {
    const { t, sent, blocks, ack, events } = setup(bytes(8 * 7 + 1), { blockSize: 8, windowSize: 3, tsize: true });
    t.start(0);
    expect((sent()[0] as { options: unknown }).options).toEqual({ blksize: '8', windowsize: '3', tsize: '57' });
    t.handleDatagram(encodePacket({ op: Opcode.Oack, options: { blksize: '8', windowsize: '3', tsize: '57' } }), SERVER, TID, 0);
    expect(blocks()).toEqual([1, 2, 3]);
    ack(3);
    expect(blocks()).toEqual([4, 5, 6]);
    ack(4); // the receiver lost 5
    expect(blocks()).toEqual([5, 6, 7]);
    ack(7);
    expect(blocks()).toEqual([8]);
    ack(8);
    expect(events()).toEqual([{ type: 'done' }]);
    expect(t.retransmits).toBe(2);
  });

  it('write transfer: a timeout resends the whole unacknowledged window', () => {
    const { t, sent, blocks, ack } = setup(bytes(100), { blockSize: 8, windowSize: 4 });
    t.start(0);
    sent();
    t.handleDatagram(encodePacket({ op: Opcode.Oack, options: { blksize: '8', windowsize: '4' } }), SERVER, TID, 0);
    expect(blocks()).toEqual([1, 2, 3, 4]);
    ack(2, 100); // mid-window: the receiver saw a gap after 2, so the window restarts at 3
    expect(blocks()).toEqual([3, 4, 5, 6]);
    t.handleTimeout(1099);
    expect(blocks()).toEqual([]);
    t.handleTimeout(1100);
    expect(blocks()).toEqual([3, 4, 5, 6]);
  });

  it('write transfer: block numbers wrap past 65535', () => {
    const size = 8 * 65540;
    const { t, sent, ack, events } = setup(new Uint8Array(size), { blockSize: 8, windowSize: 10000 });
    t.start(0);
    sent();
    t.handleDatagram(encodePacket({ op: Opcode.Oack, options: { blksize: '8', windowsize: '10000' } }), SERVER, TID, 0);
    let total = 0;
    for (let acked = 0, guard = 0; acked < 65541 && guard < 20; guard++) {
      const out = sent() as DataPacket[];
      total += out.length;
      acked += out.length;
      ack(acked);
    }
    expect(total).toBe(65541);
    expect(events()).toEqual([{ type: 'done' }]);
    expect(t.stats().bytes).toBe(size);
  });
});
