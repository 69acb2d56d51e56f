import { describe, expect, test } from 'vitest';
import { encodeFrame, FrameDecoder, FrameTooLargeError } from '../../../gateway/src/runtime/frame-codec.js';
import { prng } from '../../helpers/seeded.js';

const payload = (n: number, fill = 7) => new Uint8Array(n).fill(fill);

describe('frame codec', () => {
  test('a frame is a 4-byte big-endian length, then the payload', () => {
    expect([...encodeFrame(new Uint8Array([1, 2, 3]))]).toEqual([0, 0, 0, 3, 1, 2, 3]);
  });

  test('frames split across pushes at every byte come out whole and in order', () => {
    const stream = Buffer.concat([encodeFrame(payload(5, 1)), encodeFrame(payload(0)), encodeFrame(payload(300, 2))]);
    const d = new FrameDecoder(1024);
    const out: Buffer[] = [];
    for (let i = 0; i < stream.length; i++) {
      d.push(stream.subarray(i, i + 1));
      for (let f = d.next(); f; f = d.next()) out.push(f);
    }
    expect(out.map((f) => f.length)).toEqual([5, 0, 300]);
    expect(out[2].every((b) => b === 2)).toBe(true);
    expect(d.pendingBytes).toBe(0);
  });

  test('random chunking round-trips random frames (seeded)', () => {
    const rnd = prng(9);
    const sizes = Array.from({ length: 200 }, () => Math.floor(rnd() * 2000));
    const stream = Buffer.concat(sizes.map((n, i) => encodeFrame(payload(n, i % 256))));
    const d = new FrameDecoder(4096);
    const got: number[] = [];
    for (let at = 0; at < stream.length; ) {
      const step = 1 + Math.floor(rnd() * 3000);
      d.push(stream.subarray(at, at + step));
      at += step;
      for (let f = d.next(); f; f = d.next()) got.push(f.length);
    }
    expect(got).toEqual(sizes);
  });

  test('a length over the limit is refused from its header alone, before the payload is buffered', () => {
    const d = new FrameDecoder(1024);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(0xfffffff0, 0);
    d.push(head);
    expect(() => d.next()).toThrow(FrameTooLargeError);
    expect(() => d.next()).toThrow(/4294967280 bytes exceeds the limit of 1024/);
  });
});
