import dgram from 'node:dgram';
import { networkInterfaces } from 'node:os';
import { describe, expect, it } from 'vitest';
import { bindSessionSocket, bindUdp, bindUdpSoon, expandHosts, literalLookup } from '../../../gateway/src/transport/bind.js';

const local = (family: 'IPv4' | 'IPv6') =>
  Object.entries(networkInterfaces()).flatMap(([name, addrs]) =>
    (addrs ?? [])
      .filter((a) => a.family === family)
      .map((a) => (family === 'IPv6' && a.address.toLowerCase().startsWith('fe80:') ? `${a.address}%${name}` : a.address)),
  );

describe('expandHosts', () => {
  it('bind: 0.0.0.0 becomes one IPv4 listener per interface address, loopback included', () => {
    const out = expandHosts(['0.0.0.0']);
    expect(out.map((a) => a.address).sort()).toEqual([...new Set(local('IPv4'))].sort());
    expect(out.every((a) => a.family === 'IPv4')).toBe(true);
    expect(out.map((a) => a.address)).toContain('127.0.0.1');
  });

  it('bind: :: becomes one IPv6 listener per interface address, link-local ones with their zone', () => {
    const out = expandHosts(['::']);
    expect(out.map((a) => a.address).sort()).toEqual([...new Set(local('IPv6'))].sort());
    expect(out.every((a) => a.family === 'IPv6')).toBe(true);
    for (const a of out) if (a.address.toLowerCase().startsWith('fe80:')) expect(a.address).toMatch(/%.+$/);
  });

  it('bind: explicit addresses are kept in order with their family', () => {
    expect(expandHosts(['127.0.0.1', '::1'])).toEqual([
      { address: '127.0.0.1', family: 'IPv4' },
      { address: '::1', family: 'IPv6' },
    ]);
  });

  it('bind: an address named twice, or also covered by a wildcard, is listened on once', () => {
    const out = expandHosts(['127.0.0.1', '0.0.0.0', '127.0.0.1']);
    expect(out.filter((a) => a.address === '127.0.0.1')).toHaveLength(1);
    expect(out[0]).toEqual({ address: '127.0.0.1', family: 'IPv4' });
  });

  it('bind: a host that is not an IP address is refused with a message naming it and the fix', () => {
    expect(() => expandHosts(['localhost'])).toThrow(/"localhost" is not an IP address.*0\.0\.0\.0/);
    expect(() => expandHosts(['10.0.0.300'])).toThrow(/"10\.0\.0\.300"/);
  });
});

describe('bindSessionSocket', () => {
  /**
   * Three consecutive free UDP ports below the ephemeral range (32768+ on Linux), so neither a
   * fixed choice nor another test's ephemeral socket can collide with the range under test.
   */
  async function freeRange(): Promise<number> {
    for (let attempt = 0; attempt < 50; attempt++) {
      const base = 20_000 + Math.floor(Math.random() * 12_000);
      const held: dgram.Socket[] = [];
      try {
        for (let p = base; p < base + 3; p++) {
          const s = dgram.createSocket('udp4');
          held.push(s);
          await new Promise<void>((resolve, reject) => {
            s.once('error', reject);
            s.bind(p, '127.0.0.1', () => resolve());
          });
        }
        return base;
      } catch {
        /* taken: try another base */
      } finally {
        await Promise.all(held.map((s) => new Promise<void>((r) => { try { s.close(() => r()); } catch { r(); } })));
      }
    }
    throw new Error('no three consecutive free UDP ports found');
  }

  it('bind: a session socket with a port range binds inside the range and moves on when a port is taken', async () => {
    const low = await freeRange();
    const high = low + 2;
    const sockets = [];
    try {
      for (let i = 0; i < 3; i++) sockets.push(await bindSessionSocket('127.0.0.1', 'IPv4', { low, high }, 0));
      const ports = sockets.map((s) => s.address().port).sort();
      expect(ports).toEqual([low, low + 1, high]);
      await expect(bindSessionSocket('127.0.0.1', 'IPv4', { low, high }, 0)).rejects.toThrow(/no free port/);
    } finally {
      for (const s of sockets) s.close();
    }
  });

  it('bind: a session socket without a range gets an ephemeral port on the given address', async () => {
    const s = await bindSessionSocket('::1', 'IPv6', undefined, 0);
    try {
      expect(s.address()).toMatchObject({ address: '::1', family: 'IPv6' });
      expect(s.address().port).toBeGreaterThan(0);
    } finally {
      s.close();
    }
  });
});

describe('bindUdpSoon (session sockets bound inside the call)', () => {
  it('bind: without a port range the session socket comes back bound at once, not as a promise, with its buffers sized when asked', () => {
    const s = bindSessionSocket('127.0.0.1', 'IPv4', undefined, 1 << 20);
    expect(s).toBeInstanceOf(dgram.Socket);
    const socket = s as dgram.Socket;
    try {
      expect(socket.address()).toMatchObject({ address: '127.0.0.1', family: 'IPv4' });
      expect(socket.address().port).toBeGreaterThan(0);
      // Linux reports twice what was set (its bookkeeping share), capped by rmem_max/wmem_max.
      expect(socket.getRecvBufferSize()).toBeGreaterThan(212_992);
    } finally {
      socket.close();
    }
  });

  it('bind: an address that is not on this machine is thrown at once by bindUdpSoon, and rejected by bindUdp', async () => {
    // 192.0.2.1 is TEST-NET-1 (RFC 5737): never a local address.
    const opts = { address: '192.0.2.1', family: 'IPv4' as const, port: 0, exclusive: true, bufferBytes: 0 };
    expect(() => bindUdpSoon(opts)).toThrow(expect.objectContaining({ code: 'EADDRNOTAVAIL' }));
    await expect(bindUdp(opts)).rejects.toMatchObject({ code: 'EADDRNOTAVAIL' });
  });
});

describe('literalLookup (dgram lookup for the IP literals we send to)', () => {
  const look = (address: string) => {
    let got: { err: NodeJS.ErrnoException | null; address: string; family: number } | undefined;
    literalLookup(address, {}, (err, a, family) => (got = { err, address: a, family }));
    return got!;
  };

  it('bind: answers at once, and the address kept from the last call never answers for another', () => {
    // The last answer is kept (every send of a session goes to one address): a different
    // address after it, of either family, and a zoned or malformed one, get their own answer.
    expect(look('127.0.0.1')).toEqual({ err: null, address: '127.0.0.1', family: 4 });
    expect(look('127.0.0.1')).toEqual({ err: null, address: '127.0.0.1', family: 4 });
    expect(look('::1')).toEqual({ err: null, address: '::1', family: 6 });
    expect(look('fe80::1%lo')).toEqual({ err: null, address: 'fe80::1%lo', family: 6 });
    expect(look('127.0.0.2')).toEqual({ err: null, address: '127.0.0.2', family: 4 });
    const bad = look('boot.example');
    expect(bad.err?.code).toBe('EINVAL');
    expect(bad.err?.message).toBe('not an IP literal: boot.example');
    // A refused name is not remembered: the same name is refused again, the last good one still answers.
    expect(look('boot.example').err?.code).toBe('EINVAL');
    expect(look('::1')).toEqual({ err: null, address: '::1', family: 6 });
  });
});
