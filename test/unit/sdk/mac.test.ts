import { describe, expect, it } from 'vitest';
import { macForms, parseMac } from '../../../sdk/mac.js';

const MAC = 'aa:bb:cc:dd:ee:ff';

// [path, expected MAC or undefined]
const CASES: Array<[string, string | undefined]> = [
  ['pxelinux.cfg/01-aa-bb-cc-dd-ee-ff', MAC],
  ['pxelinux.cfg/01-AA-BB-CC-DD-EE-FF', MAC],
  ['/pxelinux.cfg/01-Aa-bB-cc-DD-ee-FF', MAC],
  ['grub.cfg-01-aa-bb-cc-dd-ee-ff', MAC],
  ['boot/grub/grub.cfg-01-AA-BB-CC-DD-EE-FF', MAC],
  ['01-aa-bb-cc-dd-ee-ff.ipxe', MAC],
  ['hosts/01-aa-bb-cc-dd-ee-ff/kernel', MAC],
  ['aa:bb:cc:dd:ee:ff/ipxe.efi', MAC],
  ['AA:BB:CC:DD:EE:FF/ipxe.efi', MAC],
  ['aa-bb-cc-dd-ee-ff/grub.cfg', MAC],
  ['machines/AA-BB-CC-DD-EE-FF/grub.cfg', MAC],
  ['aa-bb-cc-dd-ee-ff.cfg', MAC],
  ['01-12-34-56-78-9a-bc', '12:34:56:78:9a:bc'],
  // GRUB's grub.cfg-${net_default_mac}, and the dashed spelling.
  ['grub.cfg-aa:bb:cc:dd:ee:ff', MAC],
  ['boot/grub/grub.cfg-AA-BB-CC-DD-EE-FF', MAC],
  ['node-12-34-56-78-9a-bc', '12:34:56:78:9a:bc'],
  // The first segment that holds one wins.
  ['12:34:56:78:9a:bc/01-aa-bb-cc-dd-ee-ff', '12:34:56:78:9a:bc'],
  // No MAC
  ['pxelinux.cfg/default', undefined],
  ['pxelinux.0', undefined],
  ['grub.cfg', undefined],
  ['pxelinux.cfg/C0A80001', undefined],
  ['aabbccddeeff', undefined],
  ['pxelinux.cfg/01-aa-bb-cc-dd-ee', undefined],
  ['pxelinux.cfg/01-aa-bb-cc-dd-ee-ff-00', undefined],
  ['pxelinux.cfg/01-gg-bb-cc-dd-ee-ff', undefined],
  ['pxelinux.cfg/01-aa:bb:cc:dd:ee:ff', undefined],
  ['aa:bb-cc:dd:ee:ff/ipxe.efi', undefined],
  ['aa:bb:cc:dd:ee:ff:00/ipxe.efi', undefined],
  ['aa:bb:cc:dd:ee:f/ipxe.efi', undefined],
  ['xaa-bb-cc-dd-ee-ff/grub.cfg', undefined],
  ['02-aa-bb-cc-dd-ee-ff', undefined],
  // A group (multicast) address is never a NIC's.
  ['03:00:00:00:00:01/ipxe.efi', undefined],
  ['01-00-5e-00-00-01/grub.cfg', undefined],
  ['', undefined],
  // Seven pairs are not a MAC, whichever six one might pick.
  ['01-12-34-56-78-9a-bc-de', undefined],
  ['grub.cfg-12-34-56-78-9a-bc-de', undefined],
  ['12-34-56-78-9a-bc-de', undefined],
  ['grub.cfg-aa:bb:cc:dd:ee', undefined],
];

describe('parseMac', () => {
  it.each(CASES)('parseMac: %j gives %j', (path, expected) => {
    expect(parseMac(path)).toBe(expected);
  });
});

describe('macForms', () => {
  const forms = { colon: MAC, dash: 'aa-bb-cc-dd-ee-ff', pxe: '01-aa-bb-cc-dd-ee-ff' };

  it.each(['aa:bb:cc:dd:ee:ff', 'AA:BB:CC:DD:EE:FF', 'aa-bb-cc-dd-ee-ff', '01-AA-BB-CC-DD-EE-FF', 'aabbccddeeff', 'AABBCCDDEEFF'])(
    'macForms: spells %j in all three forms',
    (input) => {
      expect(macForms(input)).toEqual(forms);
    },
  );

  it('macForms: round-trips with parseMac', () => {
    const { colon, dash, pxe } = macForms('12:34:56:78:9A:BC');
    expect(parseMac(`${colon}/x`)).toBe(colon);
    expect(parseMac(`${dash}/x`)).toBe(colon);
    expect(parseMac(`pxelinux.cfg/${pxe}`)).toBe(colon);
  });

  it.each(['', 'aa:bb:cc:dd:ee', 'aa:bb-cc:dd:ee:ff', 'gg:bb:cc:dd:ee:ff', '01-aabbccddeeff', '01:aa:bb:cc:dd:ee:ff', 'aa:bb:cc:dd:ee:ff/x'])(
    'macForms: throws a TypeError on %j',
    (input) => {
      expect(() => macForms(input)).toThrow(TypeError);
    },
  );

  it('macForms: throws a TypeError on a non-string', () => {
    expect(() => macForms(42 as unknown as string)).toThrow(TypeError);
  });
});
