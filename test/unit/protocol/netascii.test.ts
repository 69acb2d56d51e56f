/**
 * Netascii (RFC 1350, RFC 764): LF <-> CR LF and CR <-> CR NUL, streamed across chunk
 * boundaries. Properties split inputs at arbitrary, seeded boundaries.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NetasciiDecoder, NetasciiEncoder } from '../../../gateway/src/protocol/netascii.js';

const CR = 0x0d;
const LF = 0x0a;
const NUL = 0x00;

const bytes = (...b: number[]): Uint8Array => Uint8Array.of(...b);
const text = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'latin1'));

function concat(parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts));
}

/** Splits `input` at the given cut points (any order, any duplicates, clamped to the input). */
function split(input: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => Math.min(c, input.length)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let from = 0;
  for (const p of [...points, input.length]) {
    out.push(input.subarray(from, p));
    from = p;
  }
  return out;
}

function encodeChunks(chunks: Uint8Array[]): Uint8Array {
  const enc = new NetasciiEncoder();
  return concat(chunks.map((c) => enc.encode(c)));
}

function decodeChunks(chunks: Uint8Array[]): Uint8Array {
  const dec = new NetasciiDecoder();
  return concat([...chunks.map((c) => dec.decode(c)), dec.flush()]);
}

describe('netascii: encoding', () => {
  it('netascii: encodes LF as CR LF', () => {
    expect(new NetasciiEncoder().encode(text('a\nb\n'))).toEqual(text('a\r\nb\r\n'));
  });

  it('netascii: encodes a bare CR as CR NUL', () => {
    expect(new NetasciiEncoder().encode(text('a\rb'))).toEqual(bytes(0x61, CR, NUL, 0x62));
  });

  it('netascii: encodes CR LF as CR NUL CR LF', () => {
    expect(new NetasciiEncoder().encode(text('\r\n'))).toEqual(bytes(CR, NUL, CR, LF));
  });

  it('netascii: leaves text without CR or LF untouched', () => {
    expect(new NetasciiEncoder().encode(text('plain'))).toEqual(text('plain'));
  });

  it('netascii: encodes an empty chunk as nothing', () => {
    expect(new NetasciiEncoder().encode(new Uint8Array(0))).toHaveLength(0);
  });
});

describe('netascii: decoding', () => {
  it('netascii: decodes CR LF as LF', () => {
    expect(decodeChunks([text('a\r\nb\r\n')])).toEqual(text('a\nb\n'));
  });

  it('netascii: decodes CR NUL as CR', () => {
    expect(decodeChunks([bytes(0x61, CR, NUL, 0x62)])).toEqual(text('a\rb'));
  });

  it('netascii: keeps a bare CR and the byte after it rather than lose data', () => {
    expect(decodeChunks([bytes(CR, 0x41)])).toEqual(bytes(CR, 0x41));
  });

  it('netascii: a CR at the end of a chunk waits for LF in the next chunk', () => {
    const dec = new NetasciiDecoder();
    expect(dec.decode(bytes(0x61, CR))).toEqual(text('a'));
    expect(dec.decode(bytes(LF, 0x62))).toEqual(text('\nb'));
    expect(dec.flush()).toHaveLength(0);
  });

  it('netascii: a CR at the end of a chunk waits for NUL in the next chunk', () => {
    const dec = new NetasciiDecoder();
    expect(dec.decode(bytes(CR))).toHaveLength(0);
    expect(dec.decode(bytes(NUL))).toEqual(bytes(CR));
  });

  it('netascii: a pending CR survives an empty chunk', () => {
    const dec = new NetasciiDecoder();
    dec.decode(bytes(CR));
    expect(dec.decode(new Uint8Array(0))).toHaveLength(0);
    expect(dec.decode(bytes(LF))).toEqual(bytes(LF));
  });

  it('netascii: a trailing bare CR comes out of flush', () => {
    const dec = new NetasciiDecoder();
    expect(dec.decode(bytes(0x61, CR))).toEqual(text('a'));
    expect(dec.flush()).toEqual(bytes(CR));
    expect(dec.flush()).toHaveLength(0);
  });

  it('netascii: decodes CR NUL CR LF split after every byte', () => {
    expect(decodeChunks([bytes(CR), bytes(NUL), bytes(CR), bytes(LF)])).toEqual(bytes(CR, LF));
  });
});

describe('netascii: properties', () => {
  const cutsArb = fc.array(fc.nat({ max: 600 }), { maxLength: 12 });
  // Bytes rich in CR, LF and NUL, so boundaries fall between the pairs that matter.
  const dataArb = fc.oneof(
    fc.uint8Array({ maxLength: 512 }),
    fc.array(fc.constantFrom(CR, LF, NUL, 0x41), { maxLength: 128 }).map((a) => Uint8Array.from(a)),
  );

  it('netascii: decode(encode(x)) equals x for any bytes split at any chunk boundaries', () => {
    fc.assert(
      fc.property(dataArb, cutsArb, cutsArb, (input, encodeCuts, decodeCuts) => {
        const wire = encodeChunks(split(input, encodeCuts));
        expect(decodeChunks(split(wire, decodeCuts))).toEqual(input);
      }),
      { numRuns: 2000 },
    );
  });

  it('netascii: encoding does not depend on where the input is split', () => {
    fc.assert(
      fc.property(dataArb, cutsArb, (input, cuts) => {
        expect(encodeChunks(split(input, cuts))).toEqual(encodeChunks([input]));
      }),
      { numRuns: 1000 },
    );
  });

  it('netascii: decoding any bytes, even invalid netascii, does not depend on where they are split', () => {
    fc.assert(
      fc.property(dataArb, cutsArb, (wire, cuts) => {
        expect(decodeChunks(split(wire, cuts))).toEqual(decodeChunks([wire]));
      }),
      { numRuns: 2000 },
    );
  });

  it('netascii: encoded output never holds a CR followed by anything but LF or NUL', () => {
    fc.assert(
      fc.property(dataArb, (input) => {
        const wire = encodeChunks([input]);
        for (let i = 0; i < wire.length; i++) {
          if (wire[i] === CR) expect([LF, NUL]).toContain(wire[i + 1]);
        }
      }),
      { numRuns: 500 },
    );
  });
});
