import { describe, expect, it } from 'vitest';
import { decodePacket, encodeData, encodeError, encodePacket, Opcode, type Packet } from '../../../gateway/src/protocol/packet.js';
import { ReadTransfer, type ReadTransferOptions } from '../../../client/read-transfer.js';
import { TftpError } from '../../../gateway/src/protocol/error-codes.js';
import { TransferTimeoutError } from '../../../client/errors.js';

const SERVER = '127.0.0.1';
const LISTEN = 69;
const TID = 40000;

function setup(extra: Partial<ReadTransferOptions> = {}) {
  const chunks: Uint8Array[] = [];
  const t = new ReadTransfer({
    serverAddress: SERVER,
    serverPort: LISTEN,
    filename: 'boot.bin',
    timeoutMs: 1000,
    retries: 2,
    onData: (c) => chunks.push(Uint8Array.from(c)),
    ...extra,
  });
  /** Drains everything queued, decoded, with the destination port. */
  const sent = (): Array<Packet & { port: number }> => {
    const out: Array<Packet & { port: number }> = [];
    for (let x = t.pollTransmit(); x; x = t.pollTransmit()) out.push({ ...decodePacket(x.bytes), port: x.port });
    return out;
  };
  const events = () => {
    const out = [];
    for (let e = t.pollEvent(); e; e = t.pollEvent()) out.push(e);
    return out;
  };
  const data = (block: number, length: number, from = TID, now = 0) =>
    t.handleDatagram(encodeData(block & 0xffff, new Uint8Array(length).fill(block & 0xff)), SERVER, from, now);
  const oack = (options: Record<string, string>, now = 0) => t.handleDatagram(encodePacket({ op: Opcode.Oack, options }), SERVER, TID, now);
  const bytes = () => Buffer.concat(chunks);
  return { t, sent, events, data, oack, bytes };
}

describe('read transfer', () => {
  it('read transfer: sends an RRQ carrying the requested options to the listen port', () => {
    const { t, sent } = setup({ blockSize: 1468, windowSize: 8, tsize: true, timeoutSeconds: 3 });
    t.start(0);
    expect(sent()).toEqual([
      { op: Opcode.Rrq, filename: 'boot.bin', mode: 'octet', options: { blksize: '1468', windowsize: '8', timeout: '3', tsize: '0' }, port: LISTEN },
    ]);
    expect(t.pollTimeout()).toBe(1000);
  });

  it('read transfer: lock-step without options ends on a short block and ACKs every block', () => {
    const { t, sent, events, data, bytes } = setup();
    t.start(0);
    sent();
    data(1, 512);
    expect(sent()).toEqual([{ op: Opcode.Ack, block: 1, port: TID }]);
    data(2, 100);
    expect(sent()).toEqual([{ op: Opcode.Ack, block: 2, port: TID }]);
    expect(events()).toEqual([{ type: 'done' }]);
    expect(bytes().length).toBe(612);
    expect(t.stats()).toMatchObject({ bytes: 612, blocks: 2, oack: null, blockSize: 512, windowSize: 1 });
  });

  it('read transfer: a server that ignores options answers DATA 1, and 512-byte blocks apply', () => {
    const { t, sent, events, data } = setup({ blockSize: 1468 });
    t.start(0);
    sent();
    data(1, 512);
    expect(sent()).toEqual([{ op: Opcode.Ack, block: 1, port: TID }]);
    expect(events()).toEqual([]);
    expect(t.blockSize).toBe(512);
  });

  it('read transfer: an OACK is confirmed with ACK 0 and sets blksize, windowsize and tsize', () => {
    const { t, sent, oack } = setup({ blockSize: 1468, windowSize: 4, tsize: true });
    t.start(0);
    sent();
    oack({ blksize: '1024', windowsize: '2', tsize: '5000' });
    expect(sent()).toEqual([{ op: Opcode.Ack, block: 0, port: TID }]);
    expect(t.blockSize).toBe(1024);
    expect(t.windowSize).toBe(2);
    expect(t.tsize).toBe(5000);
  });

  it('read transfer: an OACK with a larger blksize than asked is refused with ERROR 8', () => {
    const { t, sent, events, oack } = setup({ blockSize: 1024 });
    t.start(0);
    sent();
    oack({ blksize: '2048' });
    const out = sent();
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ op: Opcode.Error, code: 8, port: TID });
    const [ev] = events();
    expect(ev.type).toBe('failed');
    expect((ev as unknown as { error: TftpError }).error.tftpCode).toBe(8);
  });

  it('read transfer: windowed receive ACKs only the last block of each window', () => {
    const { t, sent, events, oack, data } = setup({ blockSize: 8, windowSize: 3 });
    t.start(0);
    sent();
    oack({ blksize: '8', windowsize: '3' });
    sent();
    data(1, 8);
    data(2, 8);
    expect(sent()).toEqual([]);
    data(3, 8);
    expect(sent()).toEqual([{ op: Opcode.Ack, block: 3, port: TID }]);
    data(4, 8);
    data(5, 2);
    expect(sent()).toEqual([{ op: Opcode.Ack, block: 5, port: TID }]);
    expect(events()).toEqual([{ type: 'done' }]);
  });

  it('read transfer: a lost block mid-window is answered once with an ACK of the last in-order block', () => {
    const { t, sent, oack, data, bytes, events } = setup({ blockSize: 8, windowSize: 4 });
    t.start(0);
    sent();
    oack({ blksize: '8', windowsize: '4' });
    sent();
    data(1, 8);
    // block 2 lost
    data(3, 8);
    data(4, 8);
    expect(sent()).toEqual([{ op: Opcode.Ack, block: 1, port: TID }]);
    // the sender restarts the window at 2
    data(2, 8);
    data(3, 8);
    data(4, 8);
    data(5, 8);
    expect(sent()).toEqual([{ op: Opcode.Ack, block: 5, port: TID }]);
    data(6, 0);
    expect(events()).toEqual([{ type: 'done' }]);
    expect([...bytes()]).toEqual([...[1, 2, 3, 4, 5].flatMap((b) => new Array(8).fill(b))]);
    expect(t.retransmits).toBe(1);
  });

  it('read transfer: a repeated last block (our ACK was lost) is ACKed again', () => {
    const { t, sent, data } = setup();
    t.start(0);
    sent();
    data(1, 512);
    sent();
    data(1, 512);
    expect(sent()).toEqual([{ op: Opcode.Ack, block: 1, port: TID }]);
    expect(t.received).toBe(1);
  });

  it('read transfer: block numbers roll over from 65535 to 0', () => {
    const { t, sent, data, events } = setup({ blockSize: 8, windowSize: 1000 });
    t.start(0);
    sent();
    t.handleDatagram(encodePacket({ op: Opcode.Oack, options: { blksize: '8', windowsize: '1000' } }), SERVER, TID, 0);
    sent();
    for (let n = 1; n <= 65538; n++) data(n, 8);
    const acks = sent().map((p) => (p as { block: number }).block);
    expect(acks.length).toBe(65);
    expect(acks.at(-1)).toBe(65000);
    data(65539, 3);
    expect(sent()).toEqual([{ op: Opcode.Ack, block: 65539 & 0xffff, port: TID }]);
    expect(events()).toEqual([{ type: 'done' }]);
    expect(t.received).toBe(65539);
    expect(t.bytes).toBe(65538 * 8 + 3);
  });

  it('read transfer: locks onto the first TID and answers another port with ERROR 5 without failing', () => {
    const { t, sent, data, events } = setup();
    t.start(0);
    sent();
    data(1, 512, TID);
    sent();
    data(2, 512, TID + 1);
    expect(sent()).toEqual([{ op: Opcode.Error, code: 5, message: 'unknown transfer ID', port: TID + 1 }]);
    expect(events()).toEqual([]);
    expect(t.received).toBe(1);
    data(2, 1, TID);
    expect(events()).toEqual([{ type: 'done' }]);
  });

  it('read transfer: an ERROR from the server fails with its code and message', () => {
    const { t, sent, events } = setup();
    t.start(0);
    sent();
    t.handleDatagram(encodeError(1, 'File not found'), SERVER, TID, 5);
    expect(sent()).toEqual([]);
    const [ev] = events();
    const err = (ev as unknown as { error: TftpError }).error;
    expect(err).toBeInstanceOf(TftpError);
    expect(err.tftpCode).toBe(1);
    expect(err.code).toBe('TFTP_FILE_NOT_FOUND');
    expect(err.message).toBe('File not found');
  });

  it('read transfer: resends the RRQ on timeout, then gives up after the retries', () => {
    const { t, sent, events } = setup({ retries: 2 });
    t.start(0);
    sent();
    t.handleTimeout(999); // early: ignored
    expect(sent()).toEqual([]);
    t.handleTimeout(1000);
    expect(sent().map((p) => p.op)).toEqual([Opcode.Rrq]);
    t.handleTimeout(2000);
    expect(sent().map((p) => p.op)).toEqual([Opcode.Rrq]);
    t.handleTimeout(3000);
    const [ev] = events();
    expect((ev as { error: Error }).error).toBeInstanceOf(TransferTimeoutError);
    expect(t.pollTimeout()).toBeUndefined();
  });

  it('read transfer: on timeout mid-window, ACKs the last in-order block', () => {
    const { t, sent, oack, data } = setup({ blockSize: 8, windowSize: 4 });
    t.start(0);
    sent();
    oack({ blksize: '8', windowsize: '4' }, 0);
    sent();
    data(1, 8, TID, 10);
    data(2, 8, TID, 20);
    t.handleTimeout(1020);
    expect(sent()).toEqual([{ op: Opcode.Ack, block: 2, port: TID }]);
  });

  it('read transfer: holds after block 1 for the set time, ignoring resends, then ACKs', () => {
    const { t, sent, data, events } = setup({ holdAfterFirstBlockMs: 5000 });
    t.start(0);
    sent();
    data(1, 512, TID, 10);
    expect(sent()).toEqual([]);
    expect(events()).toEqual([{ type: 'holding' }]);
    data(1, 512, TID, 1000);
    expect(sent()).toEqual([]);
    t.handleTimeout(5010);
    expect(sent()).toEqual([{ op: Opcode.Ack, block: 1, port: TID }]);
  });

  it('read transfer: a DATA block longer than blksize is refused with ERROR 4', () => {
    const { t, sent, data, events } = setup();
    t.start(0);
    sent();
    data(1, 600);
    expect(sent()[0]).toMatchObject({ op: Opcode.Error, code: 4 });
    expect(events()[0].type).toBe('failed');
  });
});
