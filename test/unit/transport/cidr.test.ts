import { describe, expect, it } from 'vitest';
import { addressValue, cidrContains, ClientFilter, parseCidr } from '../../../gateway/src/transport/cidr.js';

const inside = (cidr: string, address: string) => cidrContains(parseCidr(cidr), address);

describe('parseCidr and cidrContains', () => {
  it('cidr: an IPv4 CIDR contains exactly its network', () => {
    expect(inside('10.0.0.0/8', '10.0.0.0')).toBe(true);
    expect(inside('10.0.0.0/8', '10.255.255.255')).toBe(true);
    expect(inside('10.0.0.0/8', '11.0.0.0')).toBe(false);
    expect(inside('10.0.0.0/8', '9.255.255.255')).toBe(false);
    expect(inside('192.168.1.128/25', '192.168.1.200')).toBe(true);
    expect(inside('192.168.1.128/25', '192.168.1.127')).toBe(false);
  });

  it('cidr: a bare IPv4 address means /32', () => {
    const c = parseCidr('127.0.0.1');
    expect(c.family).toBe(4);
    expect(c.prefix).toBe(32);
    expect(cidrContains(c, '127.0.0.1')).toBe(true);
    expect(cidrContains(c, '127.0.0.2')).toBe(false);
  });

  it('cidr: /0 contains every address of its family and none of the other', () => {
    expect(inside('0.0.0.0/0', '1.2.3.4')).toBe(true);
    expect(inside('0.0.0.0/0', '255.255.255.255')).toBe(true);
    expect(inside('0.0.0.0/0', '2001:db8::1')).toBe(false);
    expect(inside('::/0', '2001:db8::1')).toBe(true);
    expect(inside('::/0', '1.2.3.4')).toBe(false);
  });

  it('cidr: an IPv6 CIDR contains exactly its network, in any spelling', () => {
    expect(inside('2001:db8::/32', '2001:db8:ffff:1::42')).toBe(true);
    expect(inside('2001:db8::/32', '2001:0DB8:0000:0000:0000:0000:0000:0001')).toBe(true);
    expect(inside('2001:db8::/32', '2001:db9::1')).toBe(false);
    expect(inside('fd00::/8', 'fdab:1::1')).toBe(true);
    expect(inside('fd00::/8', 'fe80::1')).toBe(false);
    expect(inside('fe80::/10', 'febf::1')).toBe(true);
    expect(inside('fe80::/10', 'fec0::1')).toBe(false);
  });

  it('cidr: a bare IPv6 address means /128', () => {
    const c = parseCidr('::1');
    expect(c.family).toBe(6);
    expect(c.prefix).toBe(128);
    expect(cidrContains(c, '::1')).toBe(true);
    expect(cidrContains(c, '0:0:0:0:0:0:0:1')).toBe(true);
    expect(cidrContains(c, '::2')).toBe(false);
  });

  it('cidr: a link-local address with a zone id matches its network', () => {
    expect(inside('fe80::/64', 'fe80::1%eth0')).toBe(true);
  });

  it('cidr: an IPv4-mapped IPv6 address (dotted or hex) is matched as IPv4', () => {
    expect(addressValue('::ffff:10.1.2.3')).toEqual({ family: 4, value: addressValue('10.1.2.3')!.value });
    expect(addressValue('::ffff:a01:203')).toEqual({ family: 4, value: addressValue('10.1.2.3')!.value });
    expect(inside('10.0.0.0/8', '::ffff:10.1.2.3')).toBe(true);
    expect(inside('10.0.0.0/8', '::FFFF:a01:203')).toBe(true);
    expect(inside('10.0.0.0/8', '::ffff:11.1.2.3')).toBe(false);
    // Mapped addresses are not IPv6 for the filter: an IPv6 catch-all does not match them.
    expect(inside('::/0', '::ffff:10.1.2.3')).toBe(false);
  });

  it('cidr: something that is not an address is neither inside nor an error', () => {
    expect(addressValue('not-an-ip')).toBeUndefined();
    expect(inside('0.0.0.0/0', 'not-an-ip')).toBe(false);
  });

  it.each(['banana', '', '300.1.1.1/8', '10.0.0/8', '10.0.0.0/33', '10.0.0.0/-1', '10.0.0.0/8.5', '::1/129', 'fd00::/abc', 'gggg::/16'])(
    'cidr: refuses the bad CIDR text %j with a message that quotes it',
    (text) => {
      expect(() => parseCidr(text)).toThrow(JSON.stringify(text));
    },
  );

  // An empty prefix must not silently become /0: in an allow list that would admit everyone.
  it.each(['10.0.0.0/', '10.0.0.0/8/9', '10.0.0.0/0x8', '10.0.0.0/1e1', 'fd00::/'])(
    'cidr: refuses the malformed prefix in %j instead of guessing a length',
    (text) => {
      expect(() => parseCidr(text)).toThrow();
    },
  );
});

describe('ClientFilter', () => {
  it('client filter: an empty allow list permits everyone', () => {
    const f = new ClientFilter([], []);
    expect(f.permits('127.0.0.1')).toBe(true);
    expect(f.permits('::1')).toBe(true);
    expect(f.permits('::ffff:192.0.2.1')).toBe(true);
  });

  it('client filter: a non-empty allow list permits only its networks', () => {
    const f = new ClientFilter(['10.0.0.0/8', 'fd00::/8'], []);
    expect(f.permits('10.1.1.1')).toBe(true);
    expect(f.permits('fd00::5')).toBe(true);
    expect(f.permits('192.168.0.1')).toBe(false);
    expect(f.permits('::1')).toBe(false);
  });

  it('client filter: deny wins over allow', () => {
    const f = new ClientFilter(['10.0.0.0/8'], ['10.0.0.5', '10.9.0.0/16']);
    expect(f.permits('10.0.0.4')).toBe(true);
    expect(f.permits('10.0.0.5')).toBe(false);
    expect(f.permits('10.9.1.1')).toBe(false);
    expect(f.permits('10.8.1.1')).toBe(true);
  });

  it('client filter: deny alone blocks its networks and permits the rest', () => {
    const f = new ClientFilter([], ['127.0.0.0/8', '::1']);
    expect(f.permits('127.0.0.1')).toBe(false);
    expect(f.permits('::1')).toBe(false);
    expect(f.permits('192.0.2.1')).toBe(true);
  });

  it('client filter: an IPv4 deny also catches the IPv4-mapped IPv6 form of the address', () => {
    const f = new ClientFilter([], ['192.0.2.0/24']);
    expect(f.permits('::ffff:192.0.2.7')).toBe(false);
    expect(f.permits('::ffff:198.51.100.7')).toBe(true);
  });

  it('client filter: a bad CIDR in either list throws at construction', () => {
    expect(() => new ClientFilter(['10.0.0.0/99'], [])).toThrow('prefix length');
    expect(() => new ClientFilter([], ['nope'])).toThrow('"nope"');
  });
});

describe('IPv4-mapped networks', () => {
  it('cidr: an IPv4-mapped network in IPv6 form matches the IPv4 addresses it covers', () => {
    const c = parseCidr('::ffff:10.0.0.0/104');
    expect(cidrContains(c, '10.1.2.3')).toBe(true);
    expect(cidrContains(c, '::ffff:10.9.9.9')).toBe(true);
    expect(cidrContains(c, '11.0.0.1')).toBe(false);
    expect(() => parseCidr('::ffff:10.0.0.0/64')).toThrow(/96..128/);
  });
});
