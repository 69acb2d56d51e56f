/**
 * The dgram driver with real sockets on loopback, against a scripted server written here: no
 * sleeps, every wait is on an event, and each test is bounded by vitest's timeout.
 */
import dgram from 'node:dgram';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { get, put } from '../../../client/index.js';
import { decodePacket, encodeData, encodeError, encodePacket, Opcode, type DataPacket, type Packet } from '../../../gateway/src/protocol/packet.js';

const sockets: dgram.Socket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});

async function bound(type: 'udp4' | 'udp6', address: string): Promise<dgram.Socket> {
  const s = dgram.createSocket(type);
  sockets.push(s);
  s.bind(0, address);
  await once(s, 'listening');
  return s;
}

interface Script {
  file: Buffer;
  /** Block numbers to drop the first time they would be sent. */
  dropOnce?: number[];
  /** Before sending this block, a stranger socket sends a DATA to the client. */
  strangerAt?: number;
  errorInstead?: { code: number; message: string };
}

/** A minimal RRQ server: OACK when asked for options, windows per RFC 7440, go-back on ACK. */
async function scriptedServer(family: 'udp4' | 'udp6', address: string, script: Script) {
  const listener = await bound(family, address);
  const seen = { strangerReply: undefined as Packet | undefined, acks: [] as number[] };
  listener.on('message', async (msg, client) => {
    const rrq = decodePacket(msg);
    if (rrq.op !== Opcode.Rrq) return;
    const tid = await bound(family, address);
    const send = (b: Uint8Array) => tid.send(b, client.port, client.address);
    if (script.errorInstead) return send(encodeError(script.errorInstead.code, script.errorInstead.message));
    const blockSize = Number(rrq.options.blksize ?? 512);
    const windowSize = Number(rrq.options.windowsize ?? 1);
    const total = Math.floor(script.file.length / blockSize) + 1;
    const dropped = new Set<number>();
    const sendWindow = async (from: number) => {
      for (let b = from; b < from + windowSize && b <= total; b++) {
        if (b === script.strangerAt && !seen.strangerReply) {
          const stranger = await bound(family, address);
          stranger.send(encodeData(b, Buffer.alloc(blockSize)), client.port, client.address);
          const [reply] = await once(stranger, 'message');
          seen.strangerReply = decodePacket(reply as Buffer);
        }
        if (script.dropOnce?.includes(b) && !dropped.has(b)) {
          dropped.add(b);
          continue;
        }
        send(encodeData(b & 0xffff, script.file.subarray((b - 1) * blockSize, b * blockSize)));
      }
    };
    tid.on('message', (m) => {
      const p = decodePacket(m);
      if (p.op !== Opcode.Ack) return;
      seen.acks.push(p.block);
      if (p.block < total) void sendWindow(p.block + 1);
    });
    if (Object.keys(rrq.options).length) send(encodePacket({ op: Opcode.Oack, options: { ...rrq.options, ...(rrq.options.tsize ? { tsize: String(script.file.length) } : {}) } }));
    else void sendWindow(1);
  });
  return { port: (listener.address() as { port: number }).port, seen };
}

const file = Buffer.from(Array.from({ length: 10_000 }, (_, i) => (i * 7) & 0xff));

describe.each([
  ['udp4', '127.0.0.1'],
  ['udp6', '::1'],
] as const)('udp driver over %s', (family, host) => {
  it('udp driver: downloads a windowed file with a lost block and reports one gap retransmit', async () => {
    const server = await scriptedServer(family, host, { file, dropOnce: [3] });
    const r = await get({ host, port: server.port, path: 'f', blksize: 512, windowsize: 4, tsize: true, timeoutMs: 2000 });
    expect(r.data?.equals(file)).toBe(true);
    expect(r.oack).toEqual({ blksize: '512', windowsize: '4', tsize: String(file.length) });
    expect(r.blocks).toBe(20);
    expect(r.retransmits).toBe(1);
    expect(server.seen.acks.slice(0, 3)).toEqual([0, 2, 6]);
  });

  it('udp driver: answers a stranger with ERROR 5 and finishes the transfer', async () => {
    const server = await scriptedServer(family, host, { file, strangerAt: 2 });
    const r = await get({ host, port: server.port, path: 'f', discard: true, timeoutMs: 2000 });
    expect(r.bytes).toBe(file.length);
    expect(r.data).toBeUndefined();
    expect(server.seen.strangerReply).toMatchObject({ op: Opcode.Error, code: 5 });
  });

  it('udp driver: rejects with the server\'s ERROR code and text', async () => {
    const server = await scriptedServer(family, host, { file, errorInstead: { code: 2, message: 'Access violation' } });
    await expect(get({ host, port: server.port, path: 'f' })).rejects.toMatchObject({ tftpCode: 2, code: 'TFTP_ACCESS_VIOLATION', message: 'Access violation' });
  });
});

it('udp driver: an aborted get rejects with TFTP_CLIENT_ABORTED', async () => {
  const silent = await bound('udp4', '127.0.0.1');
  const ac = new AbortController();
  silent.once('message', () => ac.abort());
  await expect(get({ host: '127.0.0.1', port: (silent.address() as { port: number }).port, path: 'f', signal: ac.signal })).rejects.toMatchObject({ code: 'TFTP_CLIENT_ABORTED' });
});

it('udp driver: put sends a WRQ and windows of DATA to a scripted receiver', async () => {
  const listener = await bound('udp4', '127.0.0.1');
  const received: Buffer[] = [];
  listener.on('message', async (msg, client) => {
    const wrq = decodePacket(msg);
    if (wrq.op !== Opcode.Wrq) return;
    const tid = await bound('udp4', '127.0.0.1');
    let inWindow = 0;
    tid.on('message', (m) => {
      const d = decodePacket(m) as DataPacket;
      received.push(Buffer.from(d.data));
      if (++inWindow === 2 || d.data.length < 512) {
        inWindow = 0;
        tid.send(encodePacket({ op: Opcode.Ack, block: d.block }), client.port, client.address);
      }
    });
    tid.send(encodePacket({ op: Opcode.Oack, options: { windowsize: '2' } }), client.port, client.address);
  });
  const r = await put({ host: '127.0.0.1', port: (listener.address() as { port: number }).port, path: 'up', data: file, windowsize: 2 });
  expect(Buffer.concat(received).equals(file)).toBe(true);
  expect(r).toMatchObject({ blocks: 20, windowSize: 2, bytes: file.length });
});
