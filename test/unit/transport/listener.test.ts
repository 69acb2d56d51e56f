import { describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import pino from 'pino';
import { Listeners, type Demux } from '../../../gateway/src/transport/listener.js';
import { StrangerReplies } from '../../../gateway/src/transport/stranger-replies.js';
import { newServerCounters } from '../../../gateway/src/stats/counters.js';

const silent = pino({ level: 'silent' });

async function client(): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  return s;
}

/** The next datagram the client receives, or undefined after waitMs. */
function next(s: dgram.Socket, waitMs = 500): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      s.off('message', on);
      resolve(undefined);
    }, waitMs);
    const on = (msg: Buffer) => {
      clearTimeout(t);
      resolve(msg);
    };
    s.once('message', on);
  });
}

const RRQ = Buffer.from('\x00\x01file\x00octet\x00', 'latin1');
const ACK1 = Buffer.from([0, 4, 0, 1]);

async function setup(demux: Partial<Demux>, singlePort = false) {
  const counters = newServerCounters();
  const listeners = new Listeners(
    { hosts: ['127.0.0.1'], port: 0, socketBufferBytes: 1 << 20, singlePort },
    counters,
    new StrangerReplies(100, counters),
    silent,
    { sessionOf: () => undefined, onRequest: () => {}, ...demux },
  );
  const [bound] = await listeners.start();
  return { counters, listeners, port: bound.port };
}

describe('transport: listener', () => {
  it('listener: a request goes to onRequest with the socket it arrived on', async () => {
    const got: string[] = [];
    const { listeners, port } = await setup({ onRequest: (via, packet, rinfo) => got.push(`${via.local.port}:${packet.op}:${rinfo.address}`) });
    const c = await client();
    c.send(RRQ, port, '127.0.0.1');
    for (let i = 0; i < 50 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(got).toEqual([`${port}:1:127.0.0.1`]);
    listeners.close();
    c.close();
  });

  it('listener: a stranger\'s ACK gets ERROR 5, a malformed request ERROR 4, junk nothing', async () => {
    const { counters, listeners, port } = await setup({});
    const c = await client();
    c.send(ACK1, port, '127.0.0.1');
    const e5 = await next(c);
    expect(e5?.readUInt16BE(0)).toBe(5);
    expect(e5?.readUInt16BE(2)).toBe(5);
    c.send(Buffer.from([0, 1, 0x61]), port, '127.0.0.1');
    const e4 = await next(c);
    expect(e4?.readUInt16BE(2)).toBe(4);
    c.send(Buffer.from([0xff, 0xff, 1]), port, '127.0.0.1');
    expect(await next(c, 200)).toBeUndefined();
    expect(counters.strangerPackets).toBe(1);
    expect(counters.malformedPackets).toBe(2);
    listeners.close();
    c.close();
  });

  it('listener: a bug while handling a datagram is counted as an internal error, not a malformed packet, and the listener goes on', async () => {
    const { counters, listeners, port } = await setup({
      onRequest: () => {
        throw new Error('bug in the accept path');
      },
    });
    const c = await client();
    c.send(RRQ, port, '127.0.0.1');
    c.send(ACK1, port, '127.0.0.1');
    const reply = await next(c);
    expect(reply?.readUInt16BE(2)).toBe(5);
    expect(counters.internalErrors).toBe(1);
    expect(counters.malformedPackets).toBe(0);
    listeners.close();
    c.close();
  });

  it('listener: in single-port mode a known peer\'s ACK goes to its session; its undecodable datagram is counted', async () => {
    const got: Buffer[] = [];
    const { counters, listeners, port } = await setup(
      {
        sessionOf: () => ({
          onDatagram: (msg: Buffer) => {
            got.push(msg);
            return msg.length >= 4;
          },
        }),
      },
      true,
    );
    const c = await client();
    c.send(ACK1, port, '127.0.0.1');
    c.send(Buffer.from([0, 4]), port, '127.0.0.1');
    for (let i = 0; i < 50 && got.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect(got.map((b) => b.length)).toEqual([4, 2]);
    expect(counters.malformedPackets).toBe(1);
    expect(counters.strangerPackets).toBe(0);
    listeners.close();
    c.close();
  });
});
