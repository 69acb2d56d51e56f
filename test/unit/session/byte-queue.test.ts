/** The read session's source buffer: chunks in, blocks out, copying only across chunks. */
import { describe, expect, it } from 'vitest';
import { ByteQueue } from '../../../gateway/src/session/byte-queue.js';

describe('byte queue', () => {
  it('byte queue: a block inside one chunk is a view of that chunk, not a copy', () => {
    const q = new ByteQueue();
    const chunk = new Uint8Array([1, 2, 3, 4, 5, 6]);
    q.push(chunk);
    const block = q.take(4);
    expect([...block]).toEqual([1, 2, 3, 4]);
    expect(block.buffer).toBe(chunk.buffer);
    expect(q.bytes).toBe(2);
    expect([...q.take(2)]).toEqual([5, 6]);
    expect(q.bytes).toBe(0);
  });

  it('byte queue: a block spanning chunks is assembled in order, and empty chunks are skipped', () => {
    const q = new ByteQueue();
    q.push(new Uint8Array([1, 2]));
    q.push(new Uint8Array(0));
    q.push(new Uint8Array([3]));
    q.push(new Uint8Array([4, 5, 6]));
    expect(q.bytes).toBe(6);
    expect([...q.take(5)]).toEqual([1, 2, 3, 4, 5]);
    expect([...q.take(1)]).toEqual([6]);
    expect([...q.take(0)]).toEqual([]);
  });

  it('byte queue: blocks taken one after another from a chunk are views at their offsets; a block that spans into the next chunk starts where the last one ended', () => {
    const q = new ByteQueue();
    const first = new Uint8Array([1, 2, 3, 4, 5, 6]);
    const second = new Uint8Array([7, 8, 9, 10]);
    q.push(first);
    q.push(second);
    const a = q.take(2);
    const b = q.take(2);
    expect([...a]).toEqual([1, 2]);
    expect([...b]).toEqual([3, 4]);
    expect(b.buffer).toBe(first.buffer);
    expect(b.byteOffset).toBe(first.byteOffset + 2);
    const spanning = q.take(4);
    expect([...spanning]).toEqual([5, 6, 7, 8]);
    expect(spanning.buffer).not.toBe(first.buffer);
    const last = q.take(2);
    expect([...last]).toEqual([9, 10]);
    expect(last.buffer).toBe(second.buffer);
    expect(q.bytes).toBe(0);
    // Views stay valid: taking more never changes the bytes a block showed.
    expect([...a, ...b]).toEqual([1, 2, 3, 4]);
  });

  it('byte queue: clear drops everything held', () => {
    const q = new ByteQueue();
    q.push(new Uint8Array(10));
    q.clear();
    expect(q.bytes).toBe(0);
  });
});
