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

  it('byte queue: clear drops everything held', () => {
    const q = new ByteQueue();
    q.push(new Uint8Array(10));
    q.clear();
    expect(q.bytes).toBe(0);
  });
});
