import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../../gateway/src/admission/token-bucket.js';
import { KeyedBuckets } from '../../../gateway/src/admission/keyed-buckets.js';

describe('token bucket', () => {
  it('token bucket: lets a full burst through at once, then refuses', () => {
    const b = new TokenBucket({ ratePerSecond: 10, burst: 5 }, 0);
    const results = Array.from({ length: 7 }, () => b.take(0));
    expect(results).toEqual([true, true, true, true, true, false, false]);
  });

  it('token bucket: refills at its rate on a fake clock, one token per 1000/rate ms', () => {
    const b = new TokenBucket({ ratePerSecond: 10, burst: 2 }, 0);
    expect(b.take(0)).toBe(true);
    expect(b.take(0)).toBe(true);
    expect(b.take(0)).toBe(false);
    expect(b.take(99)).toBe(false); // 0.99 token
    expect(b.take(100)).toBe(true); // 1 token after 100 ms
    expect(b.take(100)).toBe(false);
    expect(b.tokens(250)).toBeCloseTo(1.5, 6);
  });

  it('token bucket: never holds more than its burst, however long it was idle', () => {
    const b = new TokenBucket({ ratePerSecond: 1000, burst: 3 }, 0);
    expect(b.tokens(3_600_000)).toBe(3);
    let taken = 0;
    for (let i = 0; i < 10; i++) if (b.take(3_600_000)) taken++;
    expect(taken).toBe(3);
  });

  it('token bucket: a sustained rate above the limit gets exactly the limit over time', () => {
    const b = new TokenBucket({ ratePerSecond: 100, burst: 10 }, 0);
    let taken = 0;
    // 1,000 requests per second for 10 s (one per ms): 10 burst + 100/s x 10 s.
    for (let t = 0; t < 10_000; t++) if (b.take(t)) taken++;
    expect(taken).toBeGreaterThanOrEqual(1009);
    expect(taken).toBeLessThanOrEqual(1010);
  });

  it('token bucket: a clock that steps back refills nothing', () => {
    const b = new TokenBucket({ ratePerSecond: 10, burst: 1 }, 1000);
    expect(b.take(1000)).toBe(true);
    expect(b.take(500)).toBe(false);
    expect(b.take(1050)).toBe(false);
    expect(b.take(1100)).toBe(true);
  });
});

describe('keyed buckets', () => {
  it('keyed buckets: each key has its own bucket', () => {
    const k = new KeyedBuckets({ ratePerSecond: 1, burst: 2 }, 100);
    expect([k.take('a', 0), k.take('a', 0), k.take('a', 0)]).toEqual([true, true, false]);
    expect([k.take('b', 0), k.take('b', 0), k.take('b', 0)]).toEqual([true, true, false]);
  });

  it('keyed buckets: the table never grows past maxKeys, whatever the number of sources', () => {
    const k = new KeyedBuckets({ ratePerSecond: 1, burst: 1 }, 1000);
    for (let i = 0; i < 50_000; i++) k.take(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, 0);
    expect(k.size).toBe(1000);
  });

  it('keyed buckets: a refilled bucket is dropped first, so a draining key keeps its state', () => {
    const k = new KeyedBuckets({ ratePerSecond: 1, burst: 1 }, 2);
    expect(k.take('idle', 0)).toBe(true); // full again at 1000 ms
    expect(k.take('flooder', 1500)).toBe(true);
    // 'new' needs room: 'idle' has refilled (worthless), 'flooder' is still empty.
    expect(k.take('new', 1600)).toBe(true);
    expect(k.size).toBe(2);
    expect(k.take('flooder', 1700)).toBe(false);
  });
});
