/**
 * The shared object reader, against an in-memory object store that counts what it is asked
 * (the S3 wire itself is tested against s3rver elsewhere): coalescing across sessions at
 * different speeds, the shared cache, freshness by conditional HEAD, and error mapping.
 */
import { describe, expect, test } from 'vitest';
import { pino } from 'pino';
import type { KvStats, KvStore } from '../../../gateway/src/cache/kv.js';
import { TftpError } from '../../../gateway/src/protocol/error-codes.js';
import { ObjectSource, type ObjectSourceOptions } from '../../../gateway/src/objects/object-source.js';
import { ObjectStoreError, type ObjectInfo, type ObjectRef, type ObjectStore } from '../../../gateway/src/objects/object-store.js';
import type { ByteReader } from '../../../gateway/src/sources/types.js';
import { seededBytes as seeded } from '../../helpers/seeded.js';

const seededBytes = (n: number, seed: number) => seeded(seed, n);

class FakeBucket implements ObjectStore {
  readonly kind = 's3';
  readonly objects = new Map<string, { bytes: Uint8Array; etag: string }>();
  heads = 0;
  conditionalHeads = 0;
  gets = 0;
  bytesSent = 0;
  /** Failures to inject: the next N calls of a kind throw this. */
  failNext: { head?: ObjectStoreError[]; get?: ObjectStoreError[] } = {};
  getDelayMs = 0;

  put(key: string, bytes: Uint8Array, etag: string): void {
    this.objects.set(`b/${key}`, { bytes, etag });
  }

  async head(ref: ObjectRef, opts: { ifNoneMatch?: string } = {}): Promise<ObjectInfo | 'not-modified'> {
    this.heads++;
    const f = this.failNext.head?.shift();
    if (f) throw f;
    const o = this.objects.get(`${ref.bucket}/${ref.key}`);
    if (!o) throw new ObjectStoreError('not-found', `no ${ref.key}`);
    if (opts.ifNoneMatch !== undefined) {
      this.conditionalHeads++;
      if (opts.ifNoneMatch === o.etag) return 'not-modified';
    }
    return { size: o.bytes.byteLength, etag: o.etag };
  }

  async getRange(ref: ObjectRef, start: number, end: number, etag: string): Promise<Uint8Array> {
    this.gets++;
    if (this.getDelayMs) await new Promise((r) => setTimeout(r, this.getDelayMs));
    const f = this.failNext.get?.shift();
    if (f) throw f;
    const o = this.objects.get(`${ref.bucket}/${ref.key}`);
    if (!o) throw new ObjectStoreError('not-found', 'gone');
    if (o.etag !== etag) throw new ObjectStoreError('changed', 'etag moved');
    this.bytesSent += end - start;
    return o.bytes.slice(start, end);
  }

  async close(): Promise<void> {}
}

/** A plain map standing in for the shared cache; `down` makes it behave as an outage does. */
class MapKv implements KvStore {
  readonly kind = 'memory';
  readonly stats: KvStats = { hits: 0, misses: 0, bypassed: 0, errors: 0 };
  readonly map = new Map<string, Uint8Array>();
  down = false;
  get available() {
    return !this.down;
  }
  async get(key: string) {
    if (this.down) {
      this.stats.bypassed++;
      return undefined;
    }
    const v = this.map.get(key);
    if (v) this.stats.hits++;
    else this.stats.misses++;
    return v;
  }
  async set(key: string, value: Uint8Array) {
    if (!this.down) this.map.set(key, value);
  }
  async touch() {}
  async del(key: string) {
    this.map.delete(key);
  }
  async close() {}
}

const MiB = 1024 * 1024;
const opts = (over: Partial<ObjectSourceOptions> = {}): ObjectSourceOptions => ({
  chunkBytes: MiB,
  wholeObjectMaxBytes: 8 * MiB,
  memoryBytes: 256 * MiB,
  cacheTtlSeconds: 3600,
  freshnessMs: 30_000,
  upstreamAttempts: 3,
  readAheadBytes: 64 * 1024,
  midTransferWaitMs: 2000,
  ...over,
});
const log = pino({ level: 'silent' });
const ref = (key: string): ObjectRef => ({ bucket: 'b', key });

async function drain(reader: ByteReader, hint = 1468, pauseEvery = 0, pauseMs = 0): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  let n = 0;
  for (let c = await reader.read(hint); c !== null; c = await reader.read(hint)) {
    parts.push(c);
    if (pauseEvery && ++n % pauseEvery === 0) await new Promise((r) => setTimeout(r, pauseMs));
  }
  await reader.close();
  return Buffer.concat(parts);
}

/** Reads to the end, comparing each chunk with `expected` in place (no copies: 200 × 20 MiB). */
async function drainMatches(reader: ByteReader, expected: Uint8Array, hint: number, pauseEvery: number, pauseMs: number): Promise<boolean> {
  let pos = 0;
  let n = 0;
  let same = true;
  for (let c = await reader.read(hint); c !== null; c = await reader.read(hint)) {
    if (Buffer.compare(c, expected.subarray(pos, pos + c.byteLength)) !== 0) same = false;
    pos += c.byteLength;
    if (++n % pauseEvery === 0) await new Promise((r) => setTimeout(r, pauseMs));
  }
  await reader.close();
  return same && pos === expected.byteLength;
}

async function failure(p: Promise<unknown>): Promise<TftpError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(TftpError);
  return e as TftpError;
}

describe('coalescing', () => {
  test('200 sessions at different speeds on a 20 MiB object cost the bucket one copy', async () => {
    const bucket = new FakeBucket();
    const body = seededBytes(20 * MiB, 7);
    bucket.put('vmlinuz', body, 'e1');
    bucket.getDelayMs = 5;
    const src = new ObjectSource(bucket, new MapKv(), opts(), log);
    const sessions = Array.from({ length: 200 }, async (_, i) => {
      const { reader } = await src.openRead(ref('vmlinuz'));
      // Staggered starts and three speeds: fast, medium, slow.
      await new Promise((r) => setTimeout(r, (i % 10) * 3));
      return drainMatches(reader, body, [1468, 8192, 65536][i % 3], 64, i % 3);
    });
    expect(await Promise.all(sessions)).toEqual(Array.from({ length: 200 }, () => true));
    expect(bucket.bytesSent).toBe(20 * MiB);
    expect(bucket.gets).toBe(20);
    expect(bucket.heads).toBe(1);
    expect(src.stats.bytesFromBucket).toBe(20 * MiB);
    expect(src.stats.coalesced).toBeGreaterThan(1000);
  });

  test('a small object is one fetch and one cache entry; tsize is its size', async () => {
    const bucket = new FakeBucket();
    bucket.put('grub.cfg', new TextEncoder().encode('set timeout=5\n'), 'g1');
    const kv = new MapKv();
    const src = new ObjectSource(bucket, kv, opts(), log);
    const { reader, source, cacheHit } = await src.openRead(ref('grub.cfg'));
    expect([reader.size, source, cacheHit]).toEqual([14, 's3', false]);
    expect((await drain(reader)).toString()).toBe('set timeout=5\n');
    expect([...kv.map.keys()].filter((k) => k.startsWith('obj:'))).toEqual(['obj:b/grub.cfg@g1:14:0']);
    // The next session reuses the bytes in process: a cache hit, and no new GET.
    const again = await src.openRead(ref('grub.cfg'));
    expect([again.source, again.cacheHit, bucket.gets]).toEqual(['cache', true, 1]);
  });

  test('an empty object opens and reads as empty', async () => {
    const bucket = new FakeBucket();
    bucket.put('empty', new Uint8Array(0), 'z');
    const { reader } = await new ObjectSource(bucket, new MapKv(), opts(), log).openRead(ref('empty'));
    expect(reader.size).toBe(0);
    expect(await reader.read(512)).toBeNull();
    expect(bucket.gets).toBe(0);
  });
});

describe('the shared cache', () => {
  test('a second gateway on the same cache serves from it without a GET, and its HEAD is saved too', async () => {
    const bucket = new FakeBucket();
    const body = seededBytes(3 * MiB + 17, 3);
    bucket.put('initrd', body, 'i1');
    const kv = new MapKv();
    const first = new ObjectSource(bucket, kv, opts({ wholeObjectMaxBytes: MiB }), log);
    await drain((await first.openRead(ref('initrd'))).reader);
    expect([bucket.heads, bucket.gets]).toEqual([1, 4]);

    const second = new ObjectSource(bucket, kv, opts({ wholeObjectMaxBytes: MiB }), log);
    const opened = await second.openRead(ref('initrd'));
    expect([opened.source, opened.cacheHit]).toEqual(['cache', true]);
    expect((await drain(opened.reader)).equals(Buffer.from(body))).toBe(true);
    expect([bucket.heads, bucket.gets]).toEqual([1, 4]);
    expect(second.stats).toMatchObject({ cacheHits: 4, bytesFromCache: 3 * MiB + 17, bytesFromBucket: 0 });
  });

  test('with the cache down, reads go straight to the bucket and nothing fails', async () => {
    const bucket = new FakeBucket();
    bucket.put('k', seededBytes(2 * MiB, 1), 'k1');
    const kv = new MapKv();
    kv.down = true;
    const src = new ObjectSource(bucket, kv, opts({ wholeObjectMaxBytes: 0 }), log);
    expect((await drain((await src.openRead(ref('k'))).reader)).length).toBe(2 * MiB);
    expect(kv.stats.bypassed).toBeGreaterThan(0);
    expect(src.stats.bytesFromBucket).toBe(2 * MiB);
  });
});

describe('freshness', () => {
  test('metadata is trusted while fresh, then re-checked with a conditional HEAD; a change is picked up', async () => {
    let clock = 0;
    const bucket = new FakeBucket();
    bucket.put('cfg', new TextEncoder().encode('one'), 'v1');
    const src = new ObjectSource(bucket, new MapKv(), opts({ freshnessMs: 1000 }), log, () => clock);
    expect((await drain((await src.openRead(ref('cfg'))).reader)).toString()).toBe('one');
    clock = 500;
    await drain((await src.openRead(ref('cfg'))).reader);
    expect(bucket.heads).toBe(1);
    clock = 1500;
    await drain((await src.openRead(ref('cfg'))).reader);
    expect([bucket.heads, bucket.conditionalHeads, src.stats.notModified, bucket.gets]).toEqual([2, 1, 1, 1]);
    bucket.put('cfg', new TextEncoder().encode('two'), 'v2');
    clock = 3000;
    expect((await drain((await src.openRead(ref('cfg'))).reader)).toString()).toBe('two');
    expect(bucket.gets).toBe(2);
  });
});

describe('failures', () => {
  test('missing → ERROR 1, denied → ERROR 2, with fixed texts that name no bucket or key', async () => {
    const bucket = new FakeBucket();
    const src = new ObjectSource(bucket, new MapKv(), opts(), log);
    const missing = await failure(src.openRead(ref('secret/path/vmlinuz')));
    expect([missing.tftpCode, missing.message]).toEqual([1, 'file not found']);
    bucket.failNext.head = [new ObjectStoreError('denied', 'AccessDenied on b/x')];
    const denied = await failure(src.openRead(ref('x')));
    expect([denied.tftpCode, denied.message]).toEqual([2, 'access violation']);
  });

  test('unavailable before the first block is retried with backoff, then ERROR 0 "upstream unavailable"', async () => {
    const bucket = new FakeBucket();
    bucket.put('k', seededBytes(1000, 2), 'k1');
    bucket.failNext.head = [new ObjectStoreError('unavailable', '503'), new ObjectStoreError('unavailable', 'timeout')];
    bucket.failNext.get = [new ObjectStoreError('unavailable', 'ECONNRESET')];
    const src = new ObjectSource(bucket, new MapKv(), opts(), log);
    expect((await drain((await src.openRead(ref('k'))).reader)).length).toBe(1000);
    expect([bucket.heads, bucket.gets]).toEqual([3, 2]);

    const down = new FakeBucket();
    down.put('k', seededBytes(10, 2), 'k1');
    down.failNext.head = Array.from({ length: 3 }, () => new ObjectStoreError('unavailable', 'ECONNREFUSED 127.0.0.1:9000'));
    const e = await failure(new ObjectSource(down, new MapKv(), opts(), log).openRead(ref('k')));
    expect([e.tftpCode, e.message, e.code]).toEqual([0, 'upstream unavailable', 'TFTP_UPSTREAM_FAILED']);
    expect(down.heads).toBe(3);
  });

  test('a chunk failing mid-transfer is retried once, then the read fails with ERROR 0; the next session fetches afresh', async () => {
    const bucket = new FakeBucket();
    const body = seededBytes(3 * MiB, 5);
    bucket.put('big', body, 'b1');
    const src = new ObjectSource(bucket, new MapKv(), opts({ wholeObjectMaxBytes: 0 }), log);
    const { reader } = await src.openRead(ref('big'));
    bucket.failNext.get = Array.from({ length: 3 }, () => new ObjectStoreError('unavailable', 'socket hang up'));
    const e = await failure(drain(reader, 65536));
    expect([e.tftpCode, e.message]).toEqual([0, 'upstream unavailable']);
    const again = await src.openRead(ref('big'));
    expect((await drain(again.reader, 65536)).equals(Buffer.from(body))).toBe(true);
  });

  test('an object replaced mid-transfer fails that session rather than mixing versions', async () => {
    const bucket = new FakeBucket();
    bucket.put('big', seededBytes(3 * MiB, 5), 'old');
    const src = new ObjectSource(bucket, new MapKv(), opts({ wholeObjectMaxBytes: 0 }), log);
    const { reader } = await src.openRead(ref('big'));
    await reader.read(65536);
    bucket.put('big', seededBytes(3 * MiB, 6), 'new');
    const e = await failure(drain(reader, 65536));
    expect(e.tftpCode).toBe(0);
  });

  test('a bucket that hangs mid-transfer fails the session within midTransferWaitMs', async () => {
    const bucket = new FakeBucket();
    bucket.put('big', seededBytes(3 * MiB, 5), 'b1');
    const src = new ObjectSource(bucket, new MapKv(), opts({ wholeObjectMaxBytes: 0, midTransferWaitMs: 300 }), log);
    const { reader } = await src.openRead(ref('big'));
    // From now on every GET takes far longer than the wait allows.
    bucket.getDelayMs = 5000;
    await reader.read(65536); // chunk 0 is already here
    const started = Date.now();
    const e = await failure(drain(reader, 65536));
    expect([e.tftpCode, e.message]).toEqual([0, 'upstream unavailable']);
    expect(Date.now() - started).toBeLessThan(1500);
  });

  test('with no memory budget, sessions reading at the same time still share each chunk', async () => {
    const bucket = new FakeBucket();
    const body = seededBytes(2 * MiB, 9);
    bucket.put('k', body, 'k1');
    bucket.getDelayMs = 20;
    const src = new ObjectSource(bucket, new MapKv(), opts({ wholeObjectMaxBytes: 0, chunkBytes: 256 * 1024, memoryBytes: 0 }), log);
    const results = await Promise.all(Array.from({ length: 50 }, async () => drainMatches((await src.openRead(ref('k'))).reader, body, 65536, 4, 1)));
    expect(results.every(Boolean)).toBe(true);
    expect(bucket.bytesSent).toBeLessThanOrEqual(2 * 2 * MiB);
    // Idle chunks do not stay: the budget is respected once nobody reads.
    expect(src.memoryHeld).toBe(0);
  });

  test('the in-process chunk table stays within its budget', async () => {
    const bucket = new FakeBucket();
    for (let i = 0; i < 10; i++) bucket.put(`f${i}`, seededBytes(2 * MiB, i), `e${i}`);
    const src = new ObjectSource(bucket, new MapKv(), opts({ wholeObjectMaxBytes: 0, memoryBytes: 4 * MiB }), log);
    for (let i = 0; i < 10; i++) await drain((await src.openRead(ref(`f${i}`))).reader, 65536);
    expect(src.memoryHeld).toBeLessThanOrEqual(4 * MiB);
  });
});
