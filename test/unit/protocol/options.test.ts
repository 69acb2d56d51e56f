/**
 * Option negotiation (RFC 2347, 2348, 2349, 7440): each edge of each option on its own line,
 * and the rule that the OACK states exactly the values the session will use.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TftpError } from '../../../gateway/src/protocol/error-codes.js';
import {
  DEFAULT_BLOCK_SIZE,
  negotiate,
  type NegotiationLimits,
  type OptionName,
  parseRefuseList,
  PROTOCOL_MAX_BLOCK_SIZE,
} from '../../../gateway/src/protocol/options.js';
import { decodePacket, encodePacket, Opcode, type OptionMap } from '../../../gateway/src/protocol/packet.js';

const LIMITS: NegotiationLimits = { maxBlockSize: PROTOCOL_MAX_BLOCK_SIZE, maxWindowSize: 64, refuse: new Set() };

function limits(extra: Partial<NegotiationLimits> = {}): NegotiationLimits {
  return { ...LIMITS, ...extra };
}

/** Negotiates a read of a 1000-byte file unless told otherwise (pass null for an unknown size). */
function read(options: OptionMap, l: NegotiationLimits = LIMITS, sizeBytes: number | null = 1000) {
  return negotiate('read', options, l, sizeBytes ?? undefined);
}

describe('options: blksize (RFC 2348)', () => {
  it('options: blksize 7 is below the protocol minimum and is ignored', () => {
    const n = read({ blksize: '7' });
    expect(n.blockSize).toBe(DEFAULT_BLOCK_SIZE);
    expect(n.oack).toBeNull();
  });

  it('options: blksize 8 is the smallest accepted value', () => {
    const n = read({ blksize: '8' });
    expect(n.blockSize).toBe(8);
    expect(n.oack).toEqual({ blksize: '8' });
  });

  it('options: blksize 65464 is the largest accepted value', () => {
    const n = read({ blksize: '65464' });
    expect(n.blockSize).toBe(65464);
    expect(n.oack).toEqual({ blksize: '65464' });
  });

  it('options: blksize 65465 is lowered to 65464 and the OACK says 65464', () => {
    const n = read({ blksize: '65465' });
    expect(n.blockSize).toBe(65464);
    expect(n.oack).toEqual({ blksize: '65464' });
  });

  it('options: blksize above the server maximum is lowered and the OACK states exactly the value used', () => {
    const n = read({ blksize: '9000' }, limits({ maxBlockSize: 1468 }));
    expect(n.blockSize).toBe(1468);
    expect(n.oack).toEqual({ blksize: '1468' });
  });

  it('options: blksize 0 is ignored', () => {
    expect(read({ blksize: '0' }).oack).toBeNull();
  });
});

describe('options: windowsize (RFC 7440)', () => {
  it('options: windowsize 0 is ignored', () => {
    const n = read({ windowsize: '0' });
    expect(n.windowSize).toBe(1);
    expect(n.oack).toBeNull();
  });

  it('options: windowsize 1 is accepted and acknowledged', () => {
    const n = read({ windowsize: '1' });
    expect(n.windowSize).toBe(1);
    expect(n.oack).toEqual({ windowsize: '1' });
  });

  it('options: windowsize up to the server cap is accepted as asked', () => {
    expect(read({ windowsize: '64' })).toMatchObject({ windowSize: 64, oack: { windowsize: '64' } });
  });

  it('options: windowsize above the server cap is lowered to the cap', () => {
    const n = read({ windowsize: '65535' }, limits({ maxWindowSize: 16 }));
    expect(n.windowSize).toBe(16);
    expect(n.oack).toEqual({ windowsize: '16' });
  });

  it('options: windowsize above 65535 is outside RFC 7440 and is ignored', () => {
    expect(read({ windowsize: '65536' }).oack).toBeNull();
  });
});

describe('options: timeout (RFC 2349)', () => {
  it('options: timeout 0 is ignored', () => {
    const n = read({ timeout: '0' });
    expect(n.timeoutMs).toBeUndefined();
    expect(n.oack).toBeNull();
  });

  it('options: timeout 1 is accepted as one second', () => {
    expect(read({ timeout: '1' })).toMatchObject({ timeoutMs: 1000, oack: { timeout: '1' } });
  });

  it('options: timeout 255 is accepted', () => {
    expect(read({ timeout: '255' })).toMatchObject({ timeoutMs: 255_000, oack: { timeout: '255' } });
  });

  it('options: timeout 256 is ignored', () => {
    const n = read({ timeout: '256' });
    expect(n.timeoutMs).toBeUndefined();
    expect(n.oack).toBeNull();
  });
});

describe('options: tsize (RFC 2349)', () => {
  it('options: tsize=0 on an RRQ with a known size answers the exact size', () => {
    expect(read({ tsize: '0' }, LIMITS, 123456)).toMatchObject({ tsize: 123456, oack: { tsize: '123456' } });
  });

  it('options: tsize=0 on an RRQ for an empty file answers 0', () => {
    expect(read({ tsize: '0' }, LIMITS, 0)).toMatchObject({ tsize: 0, oack: { tsize: '0' } });
  });

  it('options: tsize on an RRQ with an unknown size is left out of the OACK', () => {
    const n = read({ tsize: '0', blksize: '1024' }, LIMITS, null);
    expect(n.tsize).toBeUndefined();
    expect(n.oack).toEqual({ blksize: '1024' });
  });

  it('options: tsize alone on an RRQ with an unknown size yields no OACK', () => {
    expect(read({ tsize: '0' }, LIMITS, null).oack).toBeNull();
  });

  it('options: tsize on a WRQ is echoed as the client announced it', () => {
    expect(negotiate('write', { tsize: '4096' }, LIMITS, undefined)).toMatchObject({ tsize: 4096, oack: { tsize: '4096' } });
  });
});

describe('options: general rules (RFC 2347)', () => {
  it('options: names are matched case-insensitively because the decoder lower-cases them', () => {
    const rrq = encodePacket({
      op: Opcode.Rrq,
      filename: 'f',
      mode: 'octet',
      options: { BLKSIZE: '1024', WindowSize: '4', TimeOut: '3', TSize: '0' },
    });
    const p = decodePacket(rrq);
    if (p.op !== Opcode.Rrq) throw new Error('expected RRQ');
    const n = read(p.options, LIMITS, 77);
    expect(n).toMatchObject({ blockSize: 1024, windowSize: 4, timeoutMs: 3000, tsize: 77 });
    expect(n.oack).toEqual({ blksize: '1024', windowsize: '4', timeout: '3', tsize: '77' });
  });

  it('options: unknown options are ignored, even with non-numeric values', () => {
    const n = read({ multicast: '', rollover: 'yes', blksize: '1024' });
    expect(n.oack).toEqual({ blksize: '1024' });
  });

  it('options: no OACK when nothing was accepted', () => {
    const n = read({ blksize: '4', windowsize: '0', timeout: '0', multicast: '' }, LIMITS, null);
    expect(n).toEqual({ blockSize: DEFAULT_BLOCK_SIZE, windowSize: 1, timeoutMs: undefined, tsize: undefined, oack: null });
  });

  it('options: no options at all means defaults and no OACK', () => {
    expect(read({})).toEqual({ blockSize: 512, windowSize: 1, timeoutMs: undefined, tsize: undefined, oack: null });
  });

  it('options: the refuse list hides options from the OACK and leaves defaults in force', () => {
    const n = read({ blksize: '1024', tsize: '0', windowsize: '8' }, limits({ refuse: new Set<OptionName>(['tsize', 'blksize']) }));
    expect(n).toMatchObject({ blockSize: 512, tsize: undefined, windowSize: 8 });
    expect(n.oack).toEqual({ windowsize: '8' });
  });

  it('options: a refused option is not parsed, so a bad value for it does not fail', () => {
    expect(read({ tsize: 'abc' }, limits({ refuse: new Set<OptionName>(['tsize']) })).oack).toBeNull();
  });

  it('options: surrounding blanks in a value are forgiven', () => {
    expect(read({ blksize: ' 1024 ' }).blockSize).toBe(1024);
  });

  for (const [name, value] of [
    ['blksize', 'abc'],
    ['blksize', '-512'],
    ['blksize', '1e3'],
    ['blksize', ''],
    ['windowsize', '0x10'],
    ['timeout', '1.5'],
    ['timeout', ''],
    ['windowsize', ''],
    ['tsize', ''],
    ['tsize', '+0'],
  ] as const) {
    it(`options: ${name}=${JSON.stringify(value)} is refused with TftpError 8`, () => {
      let thrown: unknown;
      try {
        read({ [name]: value });
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toBeInstanceOf(TftpError);
      expect(thrown).toMatchObject({ tftpCode: 8, code: 'TFTP_OPTION_REFUSED' });
    });
  }

  it('options: the OACK only ever states values the session will use', () => {
    const num = fc.oneof(fc.integer({ min: 0, max: 70000 }).map(String), fc.constant(undefined));
    fc.assert(
      fc.property(
        fc.record({ blksize: num, windowsize: num, timeout: num, tsize: num }),
        fc.constantFrom('read' as const, 'write' as const),
        fc.integer({ min: 8, max: 65464 }),
        fc.integer({ min: 1, max: 1024 }),
        fc.option(fc.nat(), { nil: undefined }),
        (req, kind, maxBlockSize, maxWindowSize, size) => {
          const requested: OptionMap = {};
          for (const [k, v] of Object.entries(req)) if (v !== undefined) requested[k] = v;
          const n = negotiate(kind, requested, limits({ maxBlockSize, maxWindowSize }), size);
          // Without an accepted blksize the RFC 1350 default of 512 holds, whatever our maximum.
          if (n.oack?.blksize === undefined) expect(n.blockSize).toBe(DEFAULT_BLOCK_SIZE);
          else expect(n.blockSize).toBeLessThanOrEqual(maxBlockSize);
          expect(n.blockSize).toBeGreaterThanOrEqual(8);
          expect(n.windowSize).toBeGreaterThanOrEqual(1);
          expect(n.windowSize).toBeLessThanOrEqual(maxWindowSize);
          if (n.oack) {
            expect(Object.keys(n.oack).length).toBeGreaterThan(0);
            for (const k of Object.keys(n.oack)) expect(requested).toHaveProperty(k);
            if (n.oack.blksize !== undefined) expect(n.oack.blksize).toBe(String(n.blockSize));
            if (n.oack.windowsize !== undefined) expect(n.oack.windowsize).toBe(String(n.windowSize));
            if (n.oack.timeout !== undefined) expect(Number(n.oack.timeout) * 1000).toBe(n.timeoutMs);
            if (n.oack.tsize !== undefined) expect(n.oack.tsize).toBe(String(n.tsize));
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('options: huge values, leading zeros and empty values (issue 9)', () => {
  it('options: blksize=99999999999999999999 is a valid request above the maximum and is lowered, not refused (RFC 2348)', () => {
    const n = read({ blksize: '99999999999999999999' });
    expect(n.blockSize).toBe(PROTOCOL_MAX_BLOCK_SIZE);
    expect(n.oack).toEqual({ blksize: String(PROTOCOL_MAX_BLOCK_SIZE) });
  });

  it('options: a huge blksize is lowered to the server maximum', () => {
    expect(read({ blksize: '9'.repeat(400) }, limits({ maxBlockSize: 1468 }))).toMatchObject({ blockSize: 1468, oack: { blksize: '1468' } });
  });

  it('options: leading zeros are decimal, not octal, at any length', () => {
    expect(read({ blksize: '0001024' }).oack).toEqual({ blksize: '1024' });
    expect(read({ blksize: `${'0'.repeat(30)}1468` }).blockSize).toBe(1468);
    expect(read({ windowsize: '0008' }).oack).toEqual({ windowsize: '8' });
    expect(read({ timeout: '000000000000000000005' }).oack).toEqual({ timeout: '5' });
  });

  it('options: blksize 0000007 is still below 8 and ignored', () => {
    expect(read({ blksize: '0000007' }).oack).toBeNull();
  });

  it('options: a huge timeout is outside 1..255 and is ignored, not refused (RFC 2349)', () => {
    const n = read({ timeout: '99999999999999999999', blksize: '1024' });
    expect(n.timeoutMs).toBeUndefined();
    expect(n.oack).toEqual({ blksize: '1024' });
  });

  it('options: a huge windowsize is outside 1..65535 and is ignored, not refused (RFC 7440)', () => {
    const n = read({ windowsize: '99999999999999999999', blksize: '1024' });
    expect(n.windowSize).toBe(1);
    expect(n.oack).toEqual({ blksize: '1024' });
  });

  it("options: on an RRQ the client's tsize value is not used, so a huge one still gets the exact size", () => {
    expect(read({ tsize: '99999999999999999999' }, LIMITS, 4096)).toMatchObject({ tsize: 4096, oack: { tsize: '4096' } });
    expect(read({ tsize: '12345678901' }, LIMITS, 7)).toMatchObject({ tsize: 7, oack: { tsize: '7' } });
  });

  it('options: a WRQ tsize with leading zeros is echoed without them', () => {
    expect(negotiate('write', { tsize: '000512' }, LIMITS, undefined)).toMatchObject({ tsize: 512, oack: { tsize: '512' } });
  });

  it('options: a WRQ tsize of 2^53 bytes and more is refused as too large (ERROR 3), never echoed inexactly', () => {
    for (const tsize of ['9007199254740992', '99999999999999999999']) {
      let thrown: unknown;
      try {
        negotiate('write', { tsize }, LIMITS, undefined);
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toBeInstanceOf(TftpError);
      expect(thrown).toMatchObject({ tftpCode: 3 });
    }
    expect(negotiate('write', { tsize: '9007199254740991' }, LIMITS, undefined).oack).toEqual({ tsize: '9007199254740991' });
  });

  it('options: any digit string never throws on an RRQ and the OACK states the values used', () => {
    const digits = fc.stringMatching(/^[0-9]{1,40}$/);
    fc.assert(
      fc.property(digits, digits, digits, digits, (blksize, windowsize, timeout, tsize) => {
        const n = read({ blksize, windowsize, timeout, tsize }, LIMITS, 10);
        expect(n.blockSize).toBeGreaterThanOrEqual(8);
        expect(n.blockSize).toBeLessThanOrEqual(PROTOCOL_MAX_BLOCK_SIZE);
        expect(Number.isInteger(n.blockSize)).toBe(true);
        expect(n.windowSize).toBeLessThanOrEqual(64);
        if (n.oack?.blksize !== undefined) expect(n.oack.blksize).toBe(String(n.blockSize));
        if (n.oack?.timeout !== undefined) expect(Number(n.oack.timeout)).toBeLessThanOrEqual(255);
        expect(n.oack?.tsize).toBe('10');
      }),
      { numRuns: 500, seed: 9 },
    );
  });
});

describe('options: refuse list', () => {
  it('options: parseRefuseList trims, lower-cases and skips empty entries', () => {
    expect([...parseRefuseList([' TSize', '', 'blksize '])].sort()).toEqual(['blksize', 'tsize']);
  });

  it('options: parseRefuseList names an unknown entry and the allowed ones', () => {
    expect(() => parseRefuseList(['tsize', 'multicast'])).toThrow(/"multicast".*blksize, timeout, tsize, windowsize/);
  });
});
