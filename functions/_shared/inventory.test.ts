import { invoke, text, type Handler } from 'tftpfn/sdk';
import { describe, expect, test } from 'vitest';
import grubInventory from '../grub/inventory.json' with { type: 'json' };
import ipxeInventory from '../ipxe/inventory.json' with { type: 'json' };
import { canonicalIp, lookup, parseInventory } from './inventory.js';

const problem = (raw: unknown): string => {
  try {
    parseInventory(raw, 'test.json');
  } catch (e) {
    return (e as Error).message;
  }
  return 'no error';
};

describe('inventory: validation', () => {
  test('inventory: the bundled examples are valid', () => {
    expect(parseInventory(grubInventory, 'grub').machines.size).toBe(2);
    expect(parseInventory(ipxeInventory, 'ipxe').machines.size).toBe(2);
  });

  test('inventory: keys become canonical MACs and IPs, cmdline is split into words', () => {
    const inv = parseInventory(
      {
        machines: {
          'AA-BB-CC-DD-EE-F0': { kernel: '/k', cmdline: '  ro   quiet ' },
          '01-aa-bb-cc-dd-ee-f2': { kernel: '/k' },
          '2001:DB8:0::1': { kernel: '/k', initrd: ['/a', '/b'], menuTimeout: 0 },
        },
      },
      'test.json',
    );
    expect([...inv.machines.keys()]).toEqual(['aa:bb:cc:dd:ee:f0', 'aa:bb:cc:dd:ee:f2', '2001:db8::1']);
    expect(inv.machines.get('aa:bb:cc:dd:ee:f0')).toEqual({
      hostname: undefined, kernel: '/k', initrd: [], cmdline: ['ro', 'quiet'], menuTimeout: undefined,
    });
    expect(inv.machines.get('2001:db8::1')?.initrd).toEqual(['/a', '/b']);
    expect(inv.default).toBeUndefined();
  });

  test('inventory: each mistake is reported with where it is and what is expected', () => {
    expect(problem([])).toBe('inventory test.json: must be a JSON object with "machines" and/or "default"');
    expect(problem({ machine: {} })).toBe('inventory test.json: unknown field "machine" (expected "machines" and "default")');
    expect(problem({ machines: { 'web01': { kernel: '/k' } } })).toBe(
      'inventory test.json: machines["web01"]: the key must be a MAC (aa:bb:cc:dd:ee:ff) or an IP address',
    );
    expect(problem({ machines: { aabbccddeeff: { kernel: '/k' } } })).toMatch(/the key must be a MAC/);
    expect(problem({ machines: { 'aa:bb:cc:dd:ee:ff': { kernel: '/k' }, 'AA-BB-CC-DD-EE-FF': { kernel: '/k' } } })).toBe(
      'inventory test.json: machines["AA-BB-CC-DD-EE-FF"]: the same machine as another key (aa:bb:cc:dd:ee:ff)',
    );
    expect(problem({ default: { kernal: '/k' } })).toBe(
      'inventory test.json: default: unknown field "kernal" (expected hostname, kernel, initrd, cmdline, menuTimeout)',
    );
    expect(problem({ default: {} })).toBe('inventory test.json: default.kernel must be a non-empty string');
    expect(problem({ default: { kernel: ' ' } })).toBe('inventory test.json: default.kernel must be a non-empty string');
    expect(problem({ default: { kernel: '/k', initrd: ['/i', 3] } })).toBe('inventory test.json: default.initrd[1] must be a non-empty string');
    expect(problem({ default: { kernel: '/k', initrd: 3 } })).toBe('inventory test.json: default.initrd must be a string or an array of strings');
    expect(problem({ default: { kernel: '/k\r' } })).toBe(
      'inventory test.json: default.kernel must not contain control characters or line breaks',
    );
    expect(problem({ default: { kernel: '/k', hostname: 'web 01' } })).toBe(
      'inventory test.json: default.hostname must be a hostname (letters, digits, "-" and "."), got "web 01"',
    );
    for (const menuTimeout of [-1, 1.5, '5', 3601]) {
      expect(problem({ default: { kernel: '/k', menuTimeout } })).toBe(
        'inventory test.json: default.menuTimeout must be a whole number of seconds from 0 to 3600',
      );
    }
  });
});

describe('inventory: lookup', () => {
  const inv = parseInventory(
    {
      default: { hostname: 'fallback', kernel: '/d' },
      machines: { 'aa:bb:cc:dd:ee:f0': { kernel: '/mac' }, '10.0.0.7': { kernel: '/ip' } },
    },
    'test.json',
  );
  const which: Handler = (request) => {
    const m = lookup(inv, request);
    return text(`${m?.by} ${m?.key} ${m?.entry.kernel}`);
  };

  test('lookup: MAC first, then peer IP, then default', async () => {
    const both = { path: '01-aa-bb-cc-dd-ee-f0.cfg', peer: { address: '10.0.0.7' } };
    expect((await invoke(which, both)).body.toString()).toBe('mac aa:bb:cc:dd:ee:f0 /mac');
    expect((await invoke(which, { path: 'x.cfg', peer: { address: '10.0.0.7' } })).body.toString()).toBe('ip 10.0.0.7 /ip');
    expect((await invoke(which, 'x.cfg')).body.toString()).toBe('default default /d');
  });

  test('lookup: no match and no default is undefined', () => {
    const empty = parseInventory({ machines: {} }, 'test.json');
    const request = { peer: { address: '10.0.0.7', port: 1, family: 'IPv4' }, mac: undefined } as Parameters<Handler>[0];
    expect(lookup(empty, request)).toBeUndefined();
  });

  test('canonicalIp: one spelling per address, IPv4-mapped IPv6 as IPv4', () => {
    expect(canonicalIp('10.0.0.7')).toBe('10.0.0.7');
    expect(canonicalIp('::ffff:10.0.0.7')).toBe('10.0.0.7');
    expect(canonicalIp('::FFFF:a00:7')).toBe('10.0.0.7');
    expect(canonicalIp('2001:0DB8:0:0::1')).toBe('2001:db8::1');
    expect(canonicalIp('fe80::1')).toBe('fe80::1');
  });
});
