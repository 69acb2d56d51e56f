/**
 * The fake link and loop themselves: if they silently stopped losing or reordering, the
 * session properties would pass for the wrong reason.
 */
import { describe, expect, it } from 'vitest';
import { encodeAck } from '../../../gateway/src/protocol/packet.js';
import { FakeLink, ReadPair, testFile, WritePair } from '../../helpers/fake-link.js';

function sendAcks(link: FakeLink, n: number): void {
  for (let i = 0; i < n; i++) link.send('toServer', encodeAck(i), i);
}

describe('fake link', () => {
  it('fake link: lossRate drops about that share of datagrams, the same ones for the same seed', () => {
    const a = new FakeLink({ seed: 9, lossRate: 0.25 });
    const b = new FakeLink({ seed: 9, lossRate: 0.25 });
    sendAcks(a, 2000);
    sendAcks(b, 2000);
    const dropped = a.trace.filter((t) => t.fate === 'dropped').map((t) => t.index);
    expect(dropped.length).toBeGreaterThan(400);
    expect(dropped.length).toBeLessThan(600);
    expect(b.trace.filter((t) => t.fate === 'dropped').map((t) => t.index)).toEqual(dropped);
  });

  it('fake link: reorderRate delivers some datagrams after later ones', () => {
    const link = new FakeLink({ seed: 3, reorderRate: 0.5, latencyMs: 1 });
    for (let i = 0; i < 200; i++) link.send('toServer', encodeAck(i), 0);
    const order: number[] = [];
    for (let d = link.shift(); d; d = link.shift()) order.push((d.packet as { block: number }).block);
    expect(order).toHaveLength(200);
    expect(order).not.toEqual([...order].sort((x, y) => x - y));
  });

  it('fake link: duplicate delivers a datagram twice', () => {
    const link = new FakeLink({ duplicate: (d) => d.index === 1 });
    sendAcks(link, 3);
    const keys: string[] = [];
    for (let d = link.shift(); d; d = link.shift()) keys.push(d.key);
    expect(keys.sort()).toEqual(['ACK:0', 'ACK:1', 'ACK:1', 'ACK:2']);
  });

  it('fake link: occurrence counts earlier sends of the same packet', () => {
    const link = new FakeLink();
    link.send('toClient', encodeAck(4), 0);
    link.send('toClient', encodeAck(4), 1);
    link.send('toServer', encodeAck(4), 1);
    expect(link.trace.map((t) => t.occurrence)).toEqual([0, 1, 0]);
  });

  it('fake link: the loop stops at maxSteps', () => {
    const pair = new ReadPair({ file: testFile(100 * 512), maxSteps: 10 });
    expect(pair.run()).toMatchObject({ stopReason: 'max-steps', steps: 10 });
  });

  it('fake link: a commit that never comes stalls the loop instead of spinning', () => {
    const pair = new WritePair({ file: testFile(100), sink: { commit: 'never' } });
    const result = pair.run();
    expect(result.stopReason).toBe('stalled');
    expect(pair.writeEndAt).toBeDefined();
  });

  it('fake link: the clock jumps to the next deadline when nothing is in flight', () => {
    const pair = new ReadPair({ file: testFile(10), link: { drop: (d) => d.dir === 'toServer' } });
    const result = pair.run();
    expect(result.outcome).toBe('timeout');
    // 1 + firstPacketRetries (3) sends, one timeout apart, then FIRST_PACKET_SILENT_WAITS (2)
    // timeouts listening without sending, then one more timeout to give up.
    expect(pair.link.sent('toClient').map((t) => t.sentAt)).toEqual([0, 1000, 2000, 3000]);
    expect(result.now).toBe(6000);
  });
});
