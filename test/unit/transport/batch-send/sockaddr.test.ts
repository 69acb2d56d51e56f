/** sockaddr bytes for sendmsg: IPv4 and IPv6 literals in the Linux layout. */
import { describe, expect, it } from 'vitest';
import { sockaddrOf } from '../../../../gateway/src/transport/batch-send/sockaddr.js';

describe('sockaddr', () => {
  it('an IPv4 peer is AF_INET, port and address in network order, 16 bytes', () => {
    expect(sockaddrOf('192.0.2.7', 6969)?.toString('hex')).toBe('0200' + '1b39' + 'c0000207' + '0000000000000000');
  });

  it('an IPv6 peer is AF_INET6 with the address expanded, 28 bytes', () => {
    const b = sockaddrOf('::1', 69)!;
    expect(b.length).toBe(28);
    expect(b.readUInt16LE(0)).toBe(10);
    expect(b.readUInt16BE(2)).toBe(69);
    expect(b.subarray(8, 24).toString('hex')).toBe('00000000000000000000000000000001');
    expect(sockaddrOf('2001:db8::a:b', 1)!.subarray(8, 24).toString('hex')).toBe('20010db80000000000000000000a000b');
    expect(sockaddrOf('::ffff:192.0.2.1', 1)!.subarray(8, 24).toString('hex')).toBe('00000000000000000000ffffc0000201');
  });

  it('a scoped or malformed address has no sockaddr (that peer stays on the plain path)', () => {
    expect(sockaddrOf('fe80::1%eth0', 69)).toBeUndefined();
    expect(sockaddrOf('not-an-ip', 69)).toBeUndefined();
  });
});
