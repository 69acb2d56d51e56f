/**
 * The window sender over real loopback sockets: a GSO window arrives at a plain dgram receiver
 * as the right datagrams (sizes, order, block numbers), the forced plain path sends the same,
 * and every kind of GSO failure still delivers each datagram exactly once, in order.
 */
import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { bindUdp } from '../../../../gateway/src/transport/bind.js';
import { loadGsoSyscall, type GsoSyscall } from '../../../../gateway/src/transport/batch-send/gso-syscall.js';
import { socketFd } from '../../../../gateway/src/transport/batch-send/socket-fd.js';
import { sendPathSnapshot } from '../../../../gateway/src/transport/batch-send/send-path-stats.js';
import { WindowSender, oneBuffer, resetProcessFallback } from '../../../../gateway/src/transport/batch-send/window-sender.js';

// The project's machines (and CI) are Linux >= 4.18 with the optional koffi installed, so GSO
// must be there: a missing koffi binary fails here instead of silently testing the fallback only.
const loaded = loadGsoSyscall();
const sockets: dgram.Socket[] = [];

afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
  resetProcessFallback();
});

async function pair(family: 'IPv4' | 'IPv6' = 'IPv4') {
  const address = family === 'IPv4' ? '127.0.0.1' : '::1';
  const from = await bindUdp({ address, family, port: 0, exclusive: true, bufferBytes: 4 * 1024 * 1024 });
  const to = await bindUdp({ address, family, port: 0, exclusive: true, bufferBytes: 4 * 1024 * 1024 });
  sockets.push(from, to);
  return { from, to, peer: { address, port: to.address().port } };
}

/** A DATA packet as the session polls it: a 4-byte header and a payload view. */
function data(block: number, payloadBytes: number): Uint8Array[] {
  const h = Buffer.alloc(4);
  h.writeUInt16BE(3, 0);
  h.writeUInt16BE(block, 2);
  return [h, Buffer.alloc(payloadBytes, block & 0xff)];
}

/** Waits for `n` datagrams (bounded by timeoutMs) and returns them. */
function receive(socket: dgram.Socket, n: number, timeoutMs = 3000): Promise<Buffer[]> {
  return new Promise((resolve) => {
    const got: Buffer[] = [];
    const timer = setTimeout(() => resolve(got), timeoutMs);
    socket.on('message', (m) => {
      got.push(m);
      if (got.length === n) {
        clearTimeout(timer);
        // A little longer: a duplicate would show up as an extra datagram.
        setTimeout(() => resolve(got), 50);
      }
    });
  });
}

const described = (msgs: Buffer[]) => msgs.map((m) => `${m.readUInt16BE(0)}:${m.readUInt16BE(2)}:${m.length}:${m.length > 4 ? m[m.length - 1] : 0}`);
const expected = (blocks: { block: number; payloadBytes: number }[]) => blocks.map((b) => `3:${b.block}:${b.payloadBytes + 4}:${b.payloadBytes === 0 ? 0 : b.block & 0xff}`);

/** The real syscall, with a switch that makes the next calls fail with `code`. */
function switchable(real: GsoSyscall) {
  const state = { failWith: undefined as string | undefined, calls: 0 };
  const syscall: GsoSyscall = {
    send(fd, sockaddr, parts, segmentBytes) {
      state.calls++;
      if (state.failWith) return { ok: false, errno: -1, code: state.failWith };
      return real.send(fd, sockaddr, parts, segmentBytes);
    },
  };
  return { syscall, state };
}

describe('window sender: UDP GSO path', () => {
  it('the native call loads here (Linux, koffi installed)', () => {
    expect(loaded.ok ? 'loaded' : loaded.reason).toBe('loaded');
  });

  it("reads a socket's descriptor without Node's DEP0112 warning (socket._handle)", async () => {
    const { from } = await pair();
    const warnings: string[] = [];
    const onWarning = (w: Error & { code?: string }) => warnings.push(w.code ?? w.name);
    process.on('warning', onWarning);
    const fd = socketFd(from);
    await new Promise((r) => setImmediate(r));
    process.off('warning', onWarning);
    expect(fd).toBeGreaterThan(2);
    expect(warnings).toEqual([]);
  });

  it('a window of 64 blocks of 1468 bytes plus a short last block arrives as 65 datagrams, sizes, order and block numbers intact', async () => {
    const { from, to, peer } = await pair();
    const sender = new WindowSender('gso');
    expect(await sender.ready).toBe('gso');
    const blocks = [...Array.from({ length: 64 }, (_, i) => ({ block: 65500 + i > 65535 ? i - 36 : 65500 + i, payloadBytes: 1468 })), { block: 29, payloadBytes: 700 }];
    const before = sendPathSnapshot();
    const arrived = receive(to, blocks.length);
    sender.sendWindow(from, blocks.map((b) => data(b.block, b.payloadBytes)), peer);
    expect(described(await arrived)).toEqual(expected(blocks));
    const after = sendPathSnapshot();
    // 44 + 20 blocks in two GSO sends; the short last block on its own.
    expect(after.gsoSends - before.gsoSends).toBe(2);
    expect(after.gsoSegments - before.gsoSegments).toBe(64);
    expect(after.plainDatagrams - before.plainDatagrams).toBe(1);
  });

  it('GSO windows copied through the one scratch buffer arrive byte for byte, window after window', async () => {
    const { from, to, peer } = await pair();
    const sender = new WindowSender('gso');
    expect(await sender.ready).toBe('gso');
    // Random payloads (seeded), two windows of 44 in a row: the second reuses the scratch buffer
    // the first was copied into, so a stale or misplaced byte would show.
    let seed = 0x5eed;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    const window = (first: number) =>
      Array.from({ length: 44 }, (_, i) => {
        const h = Buffer.alloc(4);
        h.writeUInt16BE(3, 0);
        h.writeUInt16BE(first + i, 2);
        return [h, Buffer.from(Array.from({ length: 1468 }, rand))];
      });
    const w1 = window(1);
    const w2 = window(45);
    const before = sendPathSnapshot();
    const arrived = receive(to, 88);
    sender.sendWindow(from, w1, peer);
    sender.sendWindow(from, w2, peer);
    const got = await arrived;
    expect(sendPathSnapshot().gsoSends - before.gsoSends).toBe(2);
    expect(got.length).toBe(88);
    [...w1, ...w2].forEach((parts, i) => expect(got[i].equals(Buffer.concat(parts)), `datagram ${i + 1} (seed 0x5eed)`).toBe(true));
  });

  it('works on IPv6 (::1) too', async () => {
    const { from, to, peer } = await pair('IPv6');
    const sender = new WindowSender('auto');
    expect(await sender.ready).toBe('gso');
    const blocks = Array.from({ length: 16 }, (_, i) => ({ block: i + 1, payloadBytes: 512 }));
    const before = sendPathSnapshot();
    const arrived = receive(to, blocks.length);
    sender.sendWindow(from, blocks.map((b) => data(b.block, b.payloadBytes)), peer);
    expect(described(await arrived)).toEqual(expected(blocks));
    expect(sendPathSnapshot().gsoSegments - before.gsoSegments).toBe(16);
  });

  it('EIO (a NIC without checksum offload) turns GSO off for the sender; the window still arrives once, in order', async () => {
    const { syscall, state } = switchable(loaded.ok ? loaded.syscall : (undefined as never));
    const { from, to, peer } = await pair();
    const sender = new WindowSender('auto', { syscall });
    expect(await sender.ready).toBe('gso');
    state.failWith = 'EIO';
    const blocks = Array.from({ length: 8 }, (_, i) => ({ block: i + 1, payloadBytes: 1024 }));
    const before = sendPathSnapshot();
    const arrived = receive(to, 16);
    sender.sendWindow(from, blocks.map((b) => data(b.block, b.payloadBytes)), peer);
    expect(sender.currentPath).toBe('plain');
    const callsAfterFirst = state.calls;
    const next = Array.from({ length: 8 }, (_, i) => ({ block: i + 9, payloadBytes: 1024 }));
    sender.sendWindow(from, next.map((b) => data(b.block, b.payloadBytes)), peer);
    expect(described(await arrived)).toEqual(expected([...blocks, ...next]));
    // No further GSO attempt once off.
    expect(state.calls).toBe(callsAfterFirst);
    // Off for the whole process: a sender started afterwards does not even probe.
    const later = new WindowSender('auto', { syscall });
    expect(await later.ready).toBe('plain');
    expect(state.calls).toBe(callsAfterFirst);
    const after = sendPathSnapshot();
    expect(after.fallbacksByCode.EIO - (before.fallbacksByCode.EIO ?? 0)).toBe(1);
    expect(after.plainDatagrams - before.plainDatagrams).toBe(16);
  });

  it('EINVAL turns GSO off for that socket only; EAGAIN sends that window through dgram and keeps GSO on', async () => {
    const { syscall, state } = switchable(loaded.ok ? loaded.syscall : (undefined as never));
    const a = await pair();
    const b = await pair();
    const sender = new WindowSender('auto', { syscall });
    expect(await sender.ready).toBe('gso');
    const window = (first: number) => Array.from({ length: 4 }, (_, i) => data(first + i, 600));
    const onA = receive(a.to, 8);
    const onB = receive(b.to, 8);
    state.failWith = 'EINVAL';
    sender.sendWindow(a.from, window(1), a.peer);
    state.failWith = 'EAGAIN';
    sender.sendWindow(b.from, window(1), b.peer);
    state.failWith = undefined;
    const calls = state.calls;
    const before = sendPathSnapshot();
    sender.sendWindow(a.from, window(5), a.peer);
    sender.sendWindow(b.from, window(5), b.peer);
    expect(described(await onA)).toEqual(expected(Array.from({ length: 8 }, (_, i) => ({ block: i + 1, payloadBytes: 600 }))));
    expect(described(await onB)).toEqual(expected(Array.from({ length: 8 }, (_, i) => ({ block: i + 1, payloadBytes: 600 }))));
    // Socket a stays plain (no call); socket b went back to GSO (one call).
    expect(state.calls - calls).toBe(1);
    expect(sendPathSnapshot().gsoSegments - before.gsoSegments).toBe(4);
    expect(sender.currentPath).toBe('gso');
  });
});

describe('window sender: plain path', () => {
  it("sendPath 'plain' sends every datagram through dgram, none through GSO", async () => {
    const { from, to, peer } = await pair();
    const sender = new WindowSender('plain');
    expect(await sender.ready).toBe('plain');
    const blocks = [...Array.from({ length: 20 }, (_, i) => ({ block: i + 1, payloadBytes: 1468 })), { block: 21, payloadBytes: 0 }];
    const before = sendPathSnapshot();
    const arrived = receive(to, blocks.length);
    sender.sendWindow(from, blocks.map((b) => data(b.block, b.payloadBytes)), peer);
    expect(described(await arrived)).toEqual(expected(blocks));
    const after = sendPathSnapshot();
    expect(after.gsoSends).toBe(before.gsoSends);
    expect(after.plainDatagrams - before.plainDatagrams).toBe(21);
  });

  it('a failed probe (the native call fails at start) leaves the plain path, with the reason', async () => {
    const sender = new WindowSender('auto', { syscall: { send: () => ({ ok: false, errno: 22, code: 'EINVAL' }) } });
    expect(await sender.ready).toBe('plain');
    expect(sendPathSnapshot().reason).toMatch(/probe sendmsg with UDP_SEGMENT failed with EINVAL/);
  });
});

describe('window sender: what dgram is given on the plain path (oneBuffer)', () => {
  it('a small datagram of parts becomes one copied Buffer with the same bytes; the source is not aliased', () => {
    const [header, payload] = data(7, 512);
    const out = oneBuffer([header, payload]);
    expect(Array.isArray(out)).toBe(false);
    expect(Buffer.from(out as Uint8Array)).toEqual(Buffer.concat([header, payload]));
    // A copy: the source's bytes may be reused once the session lets go of them.
    payload.fill(0xee);
    expect((out as Uint8Array)[4]).toBe(7);
  });

  it('a whole datagram and a one-part datagram go as they are; a block above 1 KiB (1028 bytes with its header) keeps its parts, never copied', () => {
    const whole = Buffer.from([0, 4, 0, 1]);
    expect(oneBuffer(whole)).toBe(whole);
    expect(oneBuffer([whole])).toBe(whole);
    const big = data(1, 1025); // 1029 bytes in all
    expect(oneBuffer(big)).toBe(big);
    const storm = data(1, 1468);
    expect(oneBuffer(storm)).toBe(storm);
    const edge = data(1, 1024); // 1028: still copied
    expect(Buffer.from(oneBuffer(edge) as Uint8Array)).toEqual(Buffer.concat(edge));
  });

  it('the plain path delivers copied small blocks and uncopied large ones, each once and in order', async () => {
    const { from, to, peer } = await pair();
    const sender = new WindowSender('plain');
    await sender.ready;
    const blocks = [
      { block: 1, payloadBytes: 512 },
      { block: 2, payloadBytes: 8192 },
      { block: 3, payloadBytes: 1468 },
      { block: 4, payloadBytes: 0 },
    ];
    const arrived = receive(to, blocks.length);
    sender.sendWindow(from, blocks.map((b) => data(b.block, b.payloadBytes)), peer);
    expect(described(await arrived)).toEqual(expected(blocks));
  });
});
