import { describe, expect, it } from 'vitest';
import { DropOldestQueue } from '../../../gateway/src/stats/drop-oldest-queue.js';

describe('DropOldestQueue', () => {
  it('drop-oldest queue: keeps the newest items up to its bound and says how many it dropped', () => {
    const q = new DropOldestQueue<number>(3);
    expect([1, 2, 3].map((n) => q.push(n, 0))).toEqual([0, 0, 0]);
    expect(q.push(4, 0)).toBe(1);
    expect(q.length).toBe(3);
    expect(q.take(10)).toEqual([2, 3, 4]);
    expect(q.length).toBe(0);
  });

  it('drop-oldest queue: items taken out and not yet acknowledged count against the bound', () => {
    const q = new DropOldestQueue<number>(4);
    for (const n of [1, 2, 3, 4]) q.push(n, 0);
    const batch = q.take(2);
    expect(batch).toEqual([1, 2]);
    // Two in flight: room for two queued, so a third push drops the oldest queued.
    expect(q.push(5, batch.length)).toBe(1);
    expect(q.length).toBe(2);
    // A failed batch goes back to the front, oldest first, under the same bound.
    expect(q.putBack(batch)).toBe(0);
    expect(q.take(10)).toEqual([1, 2, 4, 5]);
  });

  it('drop-oldest queue: while a batch is out, a push drops the oldest queued item, not the batch', () => {
    const q = new DropOldestQueue<number>(3);
    for (const n of [1, 2, 3]) q.push(n, 0);
    const batch = q.take(2);
    expect(q.push(4, batch.length)).toBe(1);
    expect(q.putBack(batch)).toBe(0);
    expect(q.take(10)).toEqual([1, 2, 4]);
  });

  it('drop-oldest queue: a batch put back beyond the bound drops the oldest first, its own included', () => {
    const q = new DropOldestQueue<number>(3);
    for (const n of [1, 2, 3]) q.push(n, 0);
    const batch = q.take(2);
    q.push(4, 0);
    q.push(5, 0);
    expect(q.putBack(batch)).toBe(2);
    expect(q.take(10)).toEqual([3, 4, 5]);
  });

  it('drop-oldest queue: stays in order across compaction of a long run (bounded loop)', () => {
    const q = new DropOldestQueue<number>(100);
    let dropped = 0;
    for (let n = 0; n < 10_000; n++) dropped += q.push(n, 0);
    expect(dropped).toBe(9_900);
    const taken: number[] = [];
    for (let i = 0; i < 5 && q.length > 0; i++) taken.push(...q.take(30));
    expect(taken).toEqual(Array.from({ length: 100 }, (_, i) => 9_900 + i));
  });
});
