/**
 * Packet codec: one golden table drives both encode and decode (h11's SIMPLE_CASES,
 * rs-tftpd's parses_* / serializes_*), then named malformed and tolerated inputs, then seeded
 * properties: round-trip, and "decode throws nothing but TftpError".
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TftpError } from '../../../gateway/src/protocol/error-codes.js';
import {
  decodePacket,
  encodeAck,
  encodeData,
  encodeError,
  encodePacket,
  MAX_ERROR_MESSAGE_BYTES,
  MAX_FILENAME_BYTES,
  MAX_OPTIONS,
  Opcode,
  type Packet,
} from '../../../gateway/src/protocol/packet.js';

/** Hex with optional blanks, and `"text"` runs for readable ASCII. */
function hex(spec: string): Buffer {
  const parts: Buffer[] = [];
  for (const m of spec.matchAll(/"([^"]*)"|([0-9a-fA-F\s]+)/g)) {
    if (m[1] !== undefined) parts.push(Buffer.from(m[1], 'latin1'));
    else parts.push(Buffer.from(m[2].replace(/\s+/g, ''), 'hex'));
  }
  return Buffer.concat(parts);
}

/** Decoded packets carry Buffer views; compare them as plain bytes. */
function plain(p: Packet): unknown {
  if (p.op === Opcode.Data) return { ...p, data: Uint8Array.from(p.data) };
  if (p.op === Opcode.Rrq || p.op === Opcode.Wrq || p.op === Opcode.Oack) return { ...p, options: { ...p.options } };
  return p;
}

const FULL_BLOCK = new Uint8Array(512).map((_, i) => i & 0xff);

const GOLDEN: { name: string; packet: Packet; hex: string }[] = [
  {
    name: 'RRQ without options',
    packet: { op: Opcode.Rrq, filename: 'boot.bin', mode: 'octet', options: {} },
    hex: '0001 "boot.bin" 00 "octet" 00',
  },
  {
    name: 'RRQ with blksize and tsize',
    packet: { op: Opcode.Rrq, filename: 'boot.bin', mode: 'octet', options: { blksize: '1468', tsize: '0' } },
    hex: '0001 "boot.bin" 00 "octet" 00 "blksize" 00 "1468" 00 "tsize" 00 "0" 00',
  },
  {
    name: 'WRQ in netascii mode',
    packet: { op: Opcode.Wrq, filename: 'up.txt', mode: 'netascii', options: {} },
    hex: '0002 "up.txt" 00 "netascii" 00',
  },
  {
    name: 'WRQ with windowsize',
    packet: { op: Opcode.Wrq, filename: 'dir/up.bin', mode: 'octet', options: { windowsize: '16' } },
    hex: '0002 "dir/up.bin" 00 "octet" 00 "windowsize" 00 "16" 00',
  },
  {
    name: 'DATA, empty final block',
    packet: { op: Opcode.Data, block: 1, data: new Uint8Array(0) },
    hex: '0003 0001',
  },
  {
    name: 'DATA, short block',
    packet: { op: Opcode.Data, block: 0x1234, data: Uint8Array.of(0xde, 0xad, 0xbe, 0xef) },
    hex: '0003 1234 deadbeef',
  },
  {
    name: 'DATA, full 512-byte block',
    packet: { op: Opcode.Data, block: 2, data: FULL_BLOCK },
    hex: `0003 0002 ${Buffer.from(FULL_BLOCK).toString('hex')}`,
  },
  {
    name: 'DATA, block 65535',
    packet: { op: Opcode.Data, block: 65535, data: Uint8Array.of(1) },
    hex: '0003 ffff 01',
  },
  { name: 'ACK 0', packet: { op: Opcode.Ack, block: 0 }, hex: '0004 0000' },
  { name: 'ACK 65535', packet: { op: Opcode.Ack, block: 65535 }, hex: '0004 ffff' },
  {
    name: 'ERROR 1 with a message',
    packet: { op: Opcode.Error, code: 1, message: 'File not found' },
    hex: '0005 0001 "File not found" 00',
  },
  { name: 'ERROR 8 with an empty message', packet: { op: Opcode.Error, code: 8, message: '' }, hex: '0005 0008 00' },
  {
    name: 'OACK with blksize and windowsize',
    packet: { op: Opcode.Oack, options: { blksize: '1468', windowsize: '16' } },
    hex: '0006 "blksize" 00 "1468" 00 "windowsize" 00 "16" 00',
  },
  { name: 'OACK with no options', packet: { op: Opcode.Oack, options: {} }, hex: '0006' },
];

describe('packet codec: golden table', () => {
  for (const c of GOLDEN) {
    it(`packet: encodes ${c.name}`, () => {
      expect(encodePacket(c.packet).toString('hex')).toBe(hex(c.hex).toString('hex'));
    });
    it(`packet: decodes ${c.name}`, () => {
      expect(plain(decodePacket(hex(c.hex)))).toEqual(plain(c.packet));
    });
  }

  it('packet: encodeData, encodeAck and encodeError agree with encodePacket', () => {
    expect(encodeData(7, Uint8Array.of(1, 2))).toEqual(encodePacket({ op: Opcode.Data, block: 7, data: Uint8Array.of(1, 2) }));
    expect(encodeAck(7)).toEqual(encodePacket({ op: Opcode.Ack, block: 7 }));
    expect(encodeError(2, 'no')).toEqual(encodePacket({ op: Opcode.Error, code: 2, message: 'no' }));
  });

  it('packet: encodeError cuts the message to the wire limit and still ends with NUL', () => {
    const wire = encodeError(0, 'x'.repeat(1000));
    expect(wire.length).toBe(4 + MAX_ERROR_MESSAGE_BYTES + 1);
    expect(wire[wire.length - 1]).toBe(0);
  });

  it('packet: decodes from a Uint8Array view at a non-zero offset', () => {
    const backing = Buffer.concat([Buffer.from('garbage'), hex('0004 0102')]);
    const view = new Uint8Array(backing.buffer, backing.byteOffset + 7, 4);
    expect(decodePacket(view)).toEqual({ op: Opcode.Ack, block: 0x0102 });
  });
});

function expectMalformed(bytes: Uint8Array): void {
  let thrown: unknown;
  try {
    decodePacket(bytes);
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(TftpError);
  expect(thrown).toMatchObject({ code: 'TFTP_MALFORMED_PACKET', tftpCode: 4 });
}

const MALFORMED: { name: string; bytes: Buffer }[] = [
  { name: 'an empty datagram', bytes: hex('') },
  { name: 'a single byte', bytes: hex('00') },
  { name: 'a DATA truncated inside its block number', bytes: hex('0003 00') },
  { name: 'an ACK truncated inside its block number', bytes: hex('0004 00') },
  { name: 'an ERROR truncated inside its code', bytes: hex('0005 00') },
  { name: 'an RRQ with only an opcode', bytes: hex('0001') },
  { name: 'an RRQ whose filename has no NUL', bytes: hex('0001 "boot.bin"') },
  { name: 'an RRQ whose mode has no NUL', bytes: hex('0001 "boot.bin" 00 "octet"') },
  { name: 'an RRQ with no mode at all', bytes: hex('0001 "boot.bin" 00') },
  { name: 'an RRQ whose option name has no NUL', bytes: hex('0001 "f" 00 "octet" 00 "blksize"') },
  { name: 'an RRQ with an option name but no value (odd list)', bytes: hex('0001 "f" 00 "octet" 00 "blksize" 00') },
  { name: 'an RRQ whose last value has no NUL', bytes: hex('0001 "f" 00 "octet" 00 "blksize" 00 "1468"') },
  { name: 'an RRQ with an empty option name', bytes: hex('0001 "f" 00 "octet" 00 00 "1468" 00') },
  { name: 'an RRQ with an empty filename', bytes: hex('0001 00 "octet" 00') },
  { name: 'a WRQ with an empty filename', bytes: hex('0002 00 "octet" 00') },
  {
    name: `an RRQ with a filename of ${MAX_FILENAME_BYTES + 1} bytes`,
    bytes: hex(`0001 "${'a'.repeat(MAX_FILENAME_BYTES + 1)}" 00 "octet" 00`),
  },
  { name: 'an RRQ in the obsolete "mail" mode', bytes: hex('0001 "f" 00 "mail" 00') },
  { name: 'an RRQ in an unknown mode', bytes: hex('0001 "f" 00 "binary" 00') },
  {
    name: `an RRQ with ${MAX_OPTIONS + 1} options`,
    bytes: hex(`0001 "f" 00 "octet" 00 ${Array.from({ length: MAX_OPTIONS + 1 }, (_, i) => `"o${i}" 00 "1" 00`).join(' ')}`),
  },
  { name: 'an OACK with an odd option list', bytes: hex('0006 "blksize" 00') },
  { name: 'an OACK whose value has no NUL', bytes: hex('0006 "blksize" 00 "1468"') },
  { name: 'unknown opcode 0', bytes: hex('0000 0001') },
  { name: 'unknown opcode 7', bytes: hex('0007 0001') },
  { name: 'unknown opcode 0x0100 (byte-swapped RRQ)', bytes: hex('0100 "f" 00 "octet" 00') },
  { name: 'unknown opcode 0xffff', bytes: hex('ffff 0001') },
];

describe('packet codec: malformed datagrams', () => {
  for (const c of MALFORMED) {
    it(`packet: refuses ${c.name} with TFTP_MALFORMED_PACKET (ERROR 4)`, () => {
      expectMalformed(c.bytes);
    });
  }

  it(`packet: accepts a filename of exactly ${MAX_FILENAME_BYTES} bytes`, () => {
    const name = 'a'.repeat(MAX_FILENAME_BYTES);
    expect(decodePacket(hex(`0001 "${name}" 00 "octet" 00`))).toMatchObject({ filename: name });
  });

  it(`packet: accepts exactly ${MAX_OPTIONS} options`, () => {
    const opts = Array.from({ length: MAX_OPTIONS }, (_, i) => `"o${i}" 00 "1" 00`).join(' ');
    const p = decodePacket(hex(`0001 "f" 00 "octet" 00 ${opts}`));
    expect(Object.keys((p as { options: object }).options)).toHaveLength(MAX_OPTIONS);
  });
});

describe('packet codec: tolerated quirks', () => {
  it('packet: ignores NUL padding after the mode', () => {
    expect(plain(decodePacket(hex('0001 "f" 00 "octet" 00 000000 00')))).toEqual({
      op: Opcode.Rrq,
      filename: 'f',
      mode: 'octet',
      options: {},
    });
  });

  it('packet: ignores NUL padding after the last option', () => {
    expect(plain(decodePacket(hex('0001 "f" 00 "octet" 00 "tsize" 00 "0" 00 0000')))).toMatchObject({ options: { tsize: '0' } });
  });

  it('packet: reads only the first four bytes of a padded ACK', () => {
    expect(decodePacket(hex('0004 0005 dead beef'))).toEqual({ op: Opcode.Ack, block: 5 });
  });

  it('packet: lower-cases option names and keeps values as sent', () => {
    const p = decodePacket(hex('0001 "f" 00 "octet" 00 "BlkSize" 00 "1468" 00 "TSIZE" 00 "0" 00'));
    expect(plain(p)).toMatchObject({ options: { blksize: '1468', tsize: '0' } });
  });

  it('packet: lower-cases the mode', () => {
    expect(decodePacket(hex('0001 "f" 00 "OCTET" 00'))).toMatchObject({ mode: 'octet' });
    expect(decodePacket(hex('0002 "f" 00 "NetAscii" 00'))).toMatchObject({ mode: 'netascii' });
  });

  it('packet: keeps the first of duplicate options, whatever their case', () => {
    const p = decodePacket(hex('0001 "f" 00 "octet" 00 "blksize" 00 "1024" 00 "BLKSIZE" 00 "512" 00 "blksize" 00 "8" 00'));
    expect(plain(p)).toMatchObject({ options: { blksize: '1024' } });
  });

  it('packet: reads an ERROR message that lacks its final NUL', () => {
    expect(decodePacket(hex('0005 0002 "denied"'))).toEqual({ op: Opcode.Error, code: 2, message: 'denied' });
  });

  it('packet: keeps at most 255 bytes of an ERROR message from a peer', () => {
    const p = decodePacket(hex(`0005 0000 "${'m'.repeat(1000)}" 00`));
    expect(p).toMatchObject({ op: Opcode.Error, message: 'm'.repeat(MAX_ERROR_MESSAGE_BYTES) });
  });

  it('packet: does not let an option named __proto__ touch the prototype', () => {
    const p = decodePacket(hex('0001 "f" 00 "octet" 00 "__proto__" 00 "x" 00 "constructor" 00 "y" 00'));
    const options = (p as { options: Record<string, string> }).options;
    expect(Object.keys(options).sort()).toEqual(['__proto__', 'constructor']);
    expect(options.constructor).toBe('y');
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });
});

// ---- Properties (fast-check prints the seed and the shrunk counterexample on failure) ----

const utf8Length = (s: string): number => Buffer.byteLength(s, 'utf8');
const noNul = (s: string): boolean => !s.includes('\0');

const filenameArb = fc
  .string({ unit: 'binary', minLength: 1, maxLength: 64 })
  .filter((s) => noNul(s) && utf8Length(s) <= MAX_FILENAME_BYTES);
const optionNameArb = fc
  .string({ unit: 'binary', minLength: 1, maxLength: 12 })
  .map((s) => s.toLowerCase())
  // Lower-casing must be stable for the decoder's lower-cased key to equal ours.
  .filter((s) => s.length > 0 && noNul(s) && s.toLowerCase() === s);
const optionValueArb = fc.string({ unit: 'binary', maxLength: 12 }).filter(noNul);
const optionsArb = fc.dictionary(optionNameArb, optionValueArb, { maxKeys: MAX_OPTIONS, noNullPrototype: true });

const packetArb: fc.Arbitrary<Packet> = fc.oneof(
  fc.record({
    op: fc.constantFrom(Opcode.Rrq, Opcode.Wrq),
    filename: filenameArb,
    mode: fc.constantFrom('octet' as const, 'netascii' as const),
    options: optionsArb,
  }),
  fc.record({ op: fc.constant(Opcode.Data), block: fc.integer({ min: 0, max: 0xffff }), data: fc.uint8Array({ maxLength: 1500 }) }),
  fc.record({ op: fc.constant(Opcode.Ack), block: fc.integer({ min: 0, max: 0xffff }) }),
  fc.record({
    op: fc.constant(Opcode.Error),
    code: fc.integer({ min: 0, max: 0xffff }),
    message: fc.string({ unit: 'binary', maxLength: 80 }).filter((s) => noNul(s) && utf8Length(s) <= MAX_ERROR_MESSAGE_BYTES),
  }),
  fc.record({ op: fc.constant(Opcode.Oack), options: optionsArb }),
) as fc.Arbitrary<Packet>;

/** decodePacket must throw nothing but a TftpError(TFTP_MALFORMED_PACKET); returns false otherwise. */
function decodesOrRefusesCleanly(bytes: Uint8Array): boolean {
  try {
    decodePacket(bytes);
    return true;
  } catch (e) {
    return e instanceof TftpError && e.code === 'TFTP_MALFORMED_PACKET' && e.tftpCode === 4;
  }
}

describe('packet codec: properties', () => {
  it('packet: decode(encode(p)) equals p for any valid packet', () => {
    fc.assert(
      fc.property(packetArb, (p) => {
        expect(plain(decodePacket(encodePacket(p)))).toEqual(plain(p));
      }),
      { numRuns: 2000 },
    );
  });

  it('packet: random bytes never make decode throw anything but TftpError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), decodesOrRefusesCleanly), { numRuns: 5000 });
  });

  it('packet: random bytes behind a valid opcode never make decode throw anything but TftpError', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 7 }), fc.uint8Array({ maxLength: 64 }), (op, tail) =>
        decodesOrRefusesCleanly(Buffer.concat([Buffer.of(0, op), tail])),
      ),
      { numRuns: 5000 },
    );
  });

  it('packet: mutated valid packets never make decode throw anything but TftpError', () => {
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
      fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }),
    );
    fc.assert(
      fc.property(packetArb, fc.array(mutation, { minLength: 1, maxLength: 4 }), (p, mutations) => {
        let bytes = Buffer.from(encodePacket(p));
        for (const m of mutations) {
          const at = bytes.length === 0 ? 0 : m.at % (bytes.length + 1);
          if (m.kind === 'flip' && bytes.length > 0) bytes[at % bytes.length] = m.value;
          else if (m.kind === 'truncate') bytes = bytes.subarray(0, at);
          else if (m.kind === 'insert') bytes = Buffer.concat([bytes.subarray(0, at), m.bytes, bytes.subarray(at)]);
          else if (m.kind === 'delete') bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + m.count)]);
        }
        return decodesOrRefusesCleanly(bytes);
      }),
      { numRuns: 3000 },
    );
  });
});
