import { describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { TidSockets, watchTid } from '../../../gateway/src/transport/tid-socket.js';

const local = { address: '127.0.0.1', port: 0, family: 'IPv4' as const };

async function client(): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  return s;
}

describe('transport: tid socket', () => {
  it('tid socket: the port is a secret only with fresh ports from a wide range, outside single-port mode', () => {
    const base = { singlePort: false, sessionSocketPool: 0, socketBufferBytes: 1 << 20 };
    expect(new TidSockets(base).portIsSecret).toBe(true);
    expect(new TidSockets({ ...base, singlePort: true }).portIsSecret).toBe(false);
    expect(new TidSockets({ ...base, sessionSocketPool: 16 }).portIsSecret).toBe(false);
    expect(new TidSockets({ ...base, portRange: '40000-40999' }).portIsSecret).toBe(false);
    expect(new TidSockets({ ...base, portRange: '40000-44095' }).portIsSecret).toBe(true);
  });

  it('tid socket: opens a socket bound to the local address of the request, inside portRange', async () => {
    const tids = new TidSockets({ singlePort: false, sessionSocketPool: 0, socketBufferBytes: 1 << 20, portRange: '40000-44095' });
    const s = await tids.open(local, { windowSize: 1, blockSize: 512 });
    expect(s.address().address).toBe('127.0.0.1');
    expect(s.address().port).toBeGreaterThanOrEqual(40000);
    expect(s.address().port).toBeLessThanOrEqual(44095);
    s.close();
  });

  it('tid socket: a reused socket is resized to socketBufferBytes for a large window only', async () => {
    const tids = new TidSockets({ singlePort: false, sessionSocketPool: 4, socketBufferBytes: 1 << 20 });
    const first = await tids.open(local, { windowSize: 1, blockSize: 512 });
    const sizes: number[] = [];
    const setRecv = first.setRecvBufferSize.bind(first);
    first.setRecvBufferSize = (n: number) => {
      sizes.push(n);
      setRecv(n);
    };
    tids.give('127.0.0.1', first);
    // 4 x 512-byte blocks fit the kernel's default buffer: no setsockopt.
    const small = await tids.open(local, { windowSize: 4, blockSize: 512 });
    expect(small).toBe(first);
    expect(sizes).toEqual([]);
    tids.give('127.0.0.1', small);
    const large = await tids.open(local, { windowSize: 64, blockSize: 8192 });
    expect(large).toBe(first);
    expect(sizes).toEqual([1 << 20]);
    tids.close();
    large.close();
  });

  it('tid socket: the peer\'s datagrams reach the session, a stranger\'s go to onStranger, a bug to onInternalError', async () => {
    const tid = await client();
    const peer = await client();
    const stranger = await client();
    const seen: string[] = [];
    let done!: () => void;
    const all = new Promise<void>((r) => (done = r));
    const note = (s: string) => {
      seen.push(s);
      if (seen.length === 3) done();
    };
    const peerAt = peer.address();
    watchTid(tid, { address: peerAt.address, port: peerAt.port, family: 'IPv4' }, {
      onPeerDatagram: (msg) => {
        if (msg.toString() === 'boom') throw new Error('bug');
        note(`peer:${msg.toString()}`);
      },
      onStranger: (rinfo) => note(`stranger:${rinfo.port === stranger.address().port}`),
      onInternalError: (e) => note(`internal:${(e as Error).message}`),
      onSocketError: () => note('socket-error'),
    });
    const to = tid.address().port;
    peer.send('hello', to, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 20));
    stranger.send('x', to, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 20));
    peer.send('boom', to, '127.0.0.1');
    await Promise.race([all, once(tid, 'close')]);
    expect(seen).toEqual(['peer:hello', 'stranger:true', 'internal:bug']);
    for (const s of [tid, peer, stranger]) s.close();
  });
});
