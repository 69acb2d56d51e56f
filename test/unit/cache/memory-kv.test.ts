import { describe, expect, it } from 'vitest';
import { MemoryKvStore } from '../../../gateway/src/cache/memory-kv.js';

function fakeClock(startMs = 1_000_000) {
  let t = startMs;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

const bytes = (n: number, fill = 0xab) => new Uint8Array(n).fill(fill);

describe('MemoryKvStore', () => {
  it('get: returns what set stored, byte for byte, and counts hits and misses', async () => {
    const kv = new MemoryKvStore();
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    await kv.set('k', all);
    expect(await kv.get('k')).toEqual(all);
    expect(await kv.get('nope')).toBeUndefined();
    expect(kv.stats).toEqual({ hits: 1, misses: 1, bypassed: 0, errors: 0 });
    expect(kv.available).toBe(true);
    expect(kv.kind).toBe('memory');
  });

  it('set: copies the value, so a caller reusing its buffer does not change the cache', async () => {
    const kv = new MemoryKvStore();
    const buf = bytes(4, 1);
    await kv.set('k', buf);
    buf.fill(9);
    expect(await kv.get('k')).toEqual(bytes(4, 1));
  });

  it('evicts the least recently used entries when total bytes would exceed maxBytes', async () => {
    // Each entry costs key length (1) + 99 value bytes = 100.
    const kv = new MemoryKvStore({ maxBytes: 300 });
    await kv.set('a', bytes(99));
    await kv.set('b', bytes(99));
    await kv.set('c', bytes(99));
    expect(kv.sizeBytes).toBe(300);
    await kv.get('a'); // a is now the most recently used; b the least
    await kv.set('d', bytes(99));
    expect(await kv.get('b')).toBeUndefined();
    expect(await kv.get('a')).toBeDefined();
    expect(await kv.get('c')).toBeDefined();
    expect(await kv.get('d')).toBeDefined();
    expect(kv.sizeBytes).toBe(300);
  });

  it('evicts as many entries as a large value needs', async () => {
    const kv = new MemoryKvStore({ maxBytes: 300 });
    for (const k of ['a', 'b', 'c']) await kv.set(k, bytes(99));
    await kv.set('z', bytes(199)); // 200: a and b must go, c stays
    expect(await kv.get('a')).toBeUndefined();
    expect(await kv.get('b')).toBeUndefined();
    expect(await kv.get('c')).toBeDefined();
    expect(await kv.get('z')).toBeDefined();
    expect(kv.sizeBytes).toBe(100 + 200);
  });

  it('does not store an entry larger than maxBytes, and leaves the others alone', async () => {
    const kv = new MemoryKvStore({ maxBytes: 100 });
    await kv.set('a', bytes(50));
    await kv.set('big', bytes(100)); // 3 + 100 > 100
    expect(await kv.get('big')).toBeUndefined();
    expect(await kv.get('a')).toBeDefined();
    expect(kv.sizeBytes).toBe(51);
  });

  it('set: replacing a key accounts its bytes once', async () => {
    const kv = new MemoryKvStore({ maxBytes: 1000 });
    await kv.set('k', bytes(100));
    await kv.set('k', bytes(10));
    expect(kv.sizeBytes).toBe(11);
    expect(kv.size).toBe(1);
  });

  it('expires an entry after its TTL (fake clock), and 0 means no expiry', async () => {
    const clock = fakeClock();
    const kv = new MemoryKvStore({ now: clock.now });
    await kv.set('short', bytes(1), 2);
    await kv.set('forever', bytes(1), 0);
    await kv.set('none', bytes(1));
    clock.advance(1999);
    expect(await kv.get('short')).toBeDefined();
    clock.advance(1);
    expect(await kv.get('short')).toBeUndefined();
    clock.advance(365 * 24 * 3600_000);
    expect(await kv.get('forever')).toBeDefined();
    expect(await kv.get('none')).toBeDefined();
    expect(kv.sizeBytes).toBe('forever'.length + 1 + 'none'.length + 1);
  });

  it('touch: re-arms the TTL of a live key and ignores a missing or expired one', async () => {
    const clock = fakeClock();
    const kv = new MemoryKvStore({ now: clock.now });
    await kv.set('k', bytes(1), 10);
    clock.advance(9000);
    await kv.touch('k', 10);
    clock.advance(9000);
    expect(await kv.get('k')).toBeDefined();
    clock.advance(1000);
    expect(await kv.get('k')).toBeUndefined();
    await kv.touch('k', 10);
    expect(await kv.get('k')).toBeUndefined();
    await kv.touch('never-set', 10);
    expect(kv.size).toBe(0);
  });

  it('touch: marks the key recently used, so it survives eviction', async () => {
    const kv = new MemoryKvStore({ maxBytes: 200 });
    await kv.set('a', bytes(99), 60);
    await kv.set('b', bytes(99), 60);
    await kv.touch('a', 60);
    await kv.set('c', bytes(99));
    expect(await kv.get('a')).toBeDefined();
    expect(await kv.get('b')).toBeUndefined();
  });

  it('prunes expired entries at the LRU end on writes, without reads', async () => {
    const clock = fakeClock();
    const kv = new MemoryKvStore({ now: clock.now });
    await kv.set('old1', bytes(10), 1);
    await kv.set('old2', bytes(10), 1);
    clock.advance(1000);
    await kv.set('new', bytes(10));
    expect(kv.size).toBe(1);
    expect(kv.sizeBytes).toBe(13);
  });

  it('del: removes the key and its bytes', async () => {
    const kv = new MemoryKvStore();
    await kv.set('k', bytes(10));
    await kv.del('k');
    await kv.del('k');
    expect(await kv.get('k')).toBeUndefined();
    expect(kv.sizeBytes).toBe(0);
  });

  it('stays within maxBytes under a seeded random workload', async () => {
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const clock = fakeClock();
    const kv = new MemoryKvStore({ maxBytes: 10_000, now: clock.now });
    for (let i = 0; i < 5000; i++) {
      const key = `k${Math.floor(rand() * 200)}`;
      const op = rand();
      if (op < 0.5) await kv.set(key, bytes(Math.floor(rand() * 3000)), Math.floor(rand() * 3));
      else if (op < 0.8) await kv.get(key);
      else if (op < 0.9) await kv.touch(key, 1);
      else await kv.del(key);
      clock.advance(Math.floor(rand() * 50));
      expect(kv.sizeBytes, `seed 12345, step ${i}`).toBeLessThanOrEqual(10_000);
    }
    expect(kv.stats.hits + kv.stats.misses).toBeGreaterThan(0);
  });
});
