import { describe, expect, it } from 'vitest';
import { prefixOf } from '../../../gateway/src/admission/prefix.js';

const defaults = { v4: 24, v6: 64 };

describe('prefix', () => {
  it('prefix: an IPv4 address is counted under its /24 by default', () => {
    expect(prefixOf('192.0.2.77', defaults)).toBe('192.0.2.0/24');
    expect(prefixOf('127.0.1.9', defaults)).toBe('127.0.1.0/24');
    expect(prefixOf('127.0.0.9', defaults)).not.toBe(prefixOf('127.0.1.9', defaults));
  });

  it('prefix: other IPv4 lengths keep exactly that many bits', () => {
    expect(prefixOf('10.1.2.3', { v4: 16, v6: 64 })).toBe('10.1.0.0/16');
    expect(prefixOf('10.1.2.3', { v4: 32, v6: 64 })).toBe('10.1.2.3/32');
    expect(prefixOf('10.1.2.255', { v4: 25, v6: 64 })).toBe('10.1.2.128/25');
    expect(prefixOf('255.255.255.255', { v4: 1, v6: 64 })).toBe('128.0.0.0/1');
  });

  it('prefix: an IPv6 address is counted under its /64 by default, in RFC 5952 text', () => {
    expect(prefixOf('2001:db8:1:2:aaaa:bbbb:cccc:dddd', defaults)).toBe('2001:db8:1:2::/64');
    expect(prefixOf('2001:DB8:0:0:1::5', defaults)).toBe('2001:db8::/64');
    expect(prefixOf('::1', defaults)).toBe('::/64');
    expect(prefixOf('fe80::1%eth0', defaults)).toBe('fe80::/64');
    expect(prefixOf('2001:db8:1:2:3:4:5:6', { v4: 24, v6: 128 })).toBe('2001:db8:1:2:3:4:5:6/128');
    expect(prefixOf('2001:db8:1:2:3:4:5:6', { v4: 24, v6: 48 })).toBe('2001:db8:1::/48');
  });

  it('prefix: an IPv4-mapped IPv6 address counts as the IPv4 address it carries', () => {
    expect(prefixOf('::ffff:192.0.2.77', defaults)).toBe('192.0.2.0/24');
    expect(prefixOf('::ffff:c000:24d', defaults)).toBe('192.0.2.0/24');
  });

  it('prefix: something that is not an address has no prefix', () => {
    expect(prefixOf('not-an-address', defaults)).toBeUndefined();
    expect(prefixOf('', defaults)).toBeUndefined();
  });
});
