/**
 * The object source's parts on their own, with a fake clock and an in-memory store: the
 * metadata check (object-meta.ts) and the shared chunk table (chunk-table.ts). The whole
 * reader is tested through ObjectSource in object-source.test.ts.
 */
import { describe, expect, test } from 'vitest';
import { MemoryKvStore } from '../../../gateway/src/cache/memory-kv.js';
import { ChunkTable, type ChunkTableStats } from '../../../gateway/src/objects/chunk-table.js';
import { ObjectMeta, type ObjectMetaStats } from '../../../gateway/src/objects/object-meta.js';
import { ObjectStoreError, type ObjectInfo, type ObjectRef, type ObjectStore } from '../../../gateway/src/objects/object-store.js';

const ref: ObjectRef = { bucket: 'b', key: 'k' };

/** One object of `size` bytes (byte i is i & 0xff) at ETag 'e1'; counts what it is asked. */
class OneObject implements ObjectStore {
  readonly kind = 's3';
  heads = 0;
  conditionalHeads = 0;
  gets = 0;
  failGets = 0;
  constructor(readonly size: number) {}
  async head(_ref: ObjectRef, opts: { ifNoneMatch?: string } = {}): Promise<ObjectInfo | 'not-modified'> {
    this.heads++;
    if (opts.ifNoneMatch !== undefined) {
      this.conditionalHeads++;
      if (opts.ifNoneMatch === 'e1') return 'not-modified';
    }
    return { size: this.size, etag: 'e1' };
  }
  async getRange(_ref: ObjectRef, start: number, end: number): Promise<Uint8Array> {
    this.gets++;
    if (this.failGets > 0) {
      this.failGets--;
      throw new ObjectStoreError('unavailable', 'injected');
    }
    return Uint8Array.from({ length: end - start }, (_, i) => (start + i) & 0xff);
  }
  async close(): Promise<void> {}
}

const metaStats = (): ObjectMetaStats => ({ upstreamHeads: 0, upstreamErrors: 0, notModified: 0 });
const chunkStats = (): ChunkTableStats => ({ cacheHits: 0, cacheMisses: 0, coalesced: 0, bytesFromCache: 0, bytesFromBucket: 0, upstreamGets: 0, upstreamErrors: 0 });

describe('object meta', () => {
  test('object meta: trusted while fresh, then re-checked with a conditional HEAD that costs no body', async () => {
    const store = new OneObject(10);
    let nowMs = 0;
    const stats = metaStats();
    const meta = new ObjectMeta(store, new MemoryKvStore(), { freshnessMs: 1000, cacheTtlSeconds: 60 }, stats, () => nowMs);
    expect(await meta.info(ref)).toEqual({ size: 10, etag: 'e1' });
    nowMs = 999;
    await meta.info(ref);
    expect(store.heads).toBe(1);
    nowMs = 1000;
    expect(await meta.info(ref)).toEqual({ size: 10, etag: 'e1' });
    expect(store.heads).toBe(2);
    expect(store.conditionalHeads).toBe(1);
    expect(stats).toEqual({ upstreamHeads: 2, upstreamErrors: 0, notModified: 1 });
  });

  test('object meta: concurrent checks of one object share one HEAD', async () => {
    const store = new OneObject(10);
    const meta = new ObjectMeta(store, new MemoryKvStore(), { freshnessMs: 1000, cacheTtlSeconds: 60 }, metaStats(), () => 0);
    const infos = await Promise.all([meta.info(ref), meta.info(ref), meta.info(ref)]);
    expect(infos.map((i) => i.etag)).toEqual(['e1', 'e1', 'e1']);
    expect(store.heads).toBe(1);
  });

  test("object meta: another gateway's fresh check in the shared cache saves this one its HEAD", async () => {
    const store = new OneObject(10);
    const kv = new MemoryKvStore();
    await new ObjectMeta(store, kv, { freshnessMs: 60_000, cacheTtlSeconds: 60 }, metaStats(), () => 0).info(ref);
    const other = new ObjectMeta(store, kv, { freshnessMs: 60_000, cacheTtlSeconds: 60 }, metaStats(), () => 5);
    expect(await other.info(ref)).toEqual({ size: 10, etag: 'e1' });
    expect(store.heads).toBe(1);
  });
});

describe('chunk table', () => {
  const info: ObjectInfo = { size: 16, etag: 'e1' };

  test('chunk table: concurrent readers of one chunk share one GET', async () => {
    const store = new OneObject(16);
    const stats = chunkStats();
    const table = new ChunkTable(store, new MemoryKvStore(), { memoryBytes: 1024, cacheTtlSeconds: 60 }, stats);
    const a = table.acquire(ref, info, 8, 1);
    const b = table.acquire(ref, info, 8, 1);
    expect(b).toBe(a);
    expect(Array.from(await a.bytes)).toEqual([8, 9, 10, 11, 12, 13, 14, 15]);
    expect(store.gets).toBe(1);
    expect(a.from).toBe('bucket');
    expect(stats.coalesced).toBe(1);
    expect(table.coalesced).toBe(1);
  });

  test('chunk table: past its budget it drops idle chunks only, least recently used first', async () => {
    const store = new OneObject(16);
    const table = new ChunkTable(store, new MemoryKvStore(), { memoryBytes: 10, cacheTtlSeconds: 60 }, chunkStats());
    const first = table.acquire(ref, info, 8, 0);
    await first.bytes;
    const second = table.acquire(ref, info, 8, 1);
    await second.bytes;
    // 16 bytes held over a 10-byte budget: both are in use, so both stay.
    expect(table.memoryHeld).toBe(16);
    table.release(first);
    expect(table.memoryHeld).toBe(8);
    // The dropped chunk is fetched again (from the shared cache now, not the bucket).
    const again = table.acquire(ref, info, 8, 0);
    await again.bytes;
    expect(again).not.toBe(first);
    expect(again.from).toBe('cache');
    expect(store.gets).toBe(2);
  });

  test('chunk table: a failed fetch is forgotten, so the next reader fetches afresh', async () => {
    const store = new OneObject(16);
    store.failGets = 1;
    const stats = chunkStats();
    const table = new ChunkTable(store, new MemoryKvStore(), { memoryBytes: 1024, cacheTtlSeconds: 60 }, stats);
    const failed = table.acquire(ref, info, 8, 0);
    await expect(failed.bytes).rejects.toMatchObject({ kind: 'unavailable' });
    expect(table.memoryHeld).toBe(0);
    const retry = table.acquire(ref, info, 8, 0);
    expect(retry).not.toBe(failed);
    expect((await retry.bytes).byteLength).toBe(8);
    expect(store.gets).toBe(2);
    expect(stats.upstreamErrors).toBe(1);
  });
});
