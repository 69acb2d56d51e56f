/**
 * A boot storm on one object, cold cache: 500 clients fetch the same kernel from a bucket at
 * once, at different speeds. Sessions on the same object (bucket, key, ETag) share upstream
 * reads, so the bucket sends about one copy of it, however many clients there are. Counted at
 * the S3 server (s3rver's own log of every request and every body byte it wrote), not by the
 * gateway's view of itself.
 *
 * Size: the storm is 500 × 20 MiB. On the 2-core test machine that is ~10 GiB through
 * loopback with the gateway and all 500 clients in one process, which takes minutes; this test
 * uses OBJECT_BYTES (4 MiB by default) with 256 KiB chunks, so there are still 16+ chunks and
 * the clients are spread over several chunk boundaries at any time. The full 500 × 20 MiB is
 * measured by the benchmark. TFTPFN_STORM_MIB=20 runs this test at full size.
 *
 * A second, smaller storm runs with no memory budget for idle chunks (cacheMemoryBytes 0):
 * chunks in use must still be shared, or upstream traffic would grow with the clients.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { pino } from 'pino';
import { startGateway, type RunningGateway, type SessionRecord } from '../../gateway/src/index.js';
import { get, type GetOptions } from '../../client/index.js';
import { startS3rver, type TestS3rver } from '../helpers/s3rver.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { seededBytes, testSeed } from '../helpers/seeded.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const BUCKET = 'boot';
const KEY = 'fedora/vmlinuz';
const SEED = testSeed(0x5707);
const CHUNK_BYTES = 256 * KiB;
const sha256 = (b: Uint8Array | Buffer) => createHash('sha256').update(b).digest('hex');

/** One cold storm: fresh s3rver, Redis and gateway, CLIENTS clients on one object. */
function storm(CLIENTS: number, OBJECT_BYTES: number, extra: Record<string, unknown>): void {
  let s3: TestS3rver;
  let redis: TestRedis;
  let gw: RunningGateway;
  const records: SessionRecord[] = [];
  const object = seededBytes(SEED, OBJECT_BYTES);

  beforeAll(async () => {
    console.log(`s3-storm seed ${SEED} (replay with TFTPFN_TEST_SEED=${SEED}), object ${OBJECT_BYTES} bytes`);
    // Fresh s3rver, fresh Redis, fresh gateway: nothing of the object is cached anywhere.
    [s3, redis] = await Promise.all([startS3rver(), startRedis()]);
    await s3.createBucket(BUCKET);
    await s3.putObject(BUCKET, KEY, object);
    gw = await startGateway({
      config: {
        hosts: ['127.0.0.1'],
        port: 0,
        ...s3.gatewayConfig,
        redisUrl: redis.url,
        cacheChunkBytes: CHUNK_BYTES,
        cacheWholeMaxBytes: 0,
        // Every client shares 127.0.0.1.
        maxSessionsPerClient: 1000,
        // One process carries the gateway and 500 clients on 2 cores: allow for a busy event loop.
        retries: 10,
        routes: [{ match: 'boot/**', bucket: BUCKET, prefix: '', stripPrefix: true }],
        ...extra,
      },
      logger: pino({ level: process.env.TFTPFN_TEST_LOG ?? 'silent' }),
      onSession: (r) => records.push(r),
    });
  });

  afterAll(async () => {
    await gw?.close(0);
    await s3?.stop();
    await redis?.cleanup();
  });

  /** Four kinds of client, so the sessions move through the object at different speeds. */
  function clientOptions(i: number): { opts: Partial<GetOptions>; hashed: boolean } {
    switch (i % 4) {
      case 0:
        return { opts: { blksize: 1468, windowsize: 16 }, hashed: false };
      case 1:
        // Starts late: holds block 1 for up to 1.2 s, so it trails the others by many chunks.
        return { opts: { blksize: 1468, windowsize: 8, holdAfterFirstBlockMs: 200 + ((i * 37) % 1000) }, hashed: false };
      case 2:
        return { opts: { blksize: 8192, windowsize: 8 }, hashed: false };
      default:
        // Keeps the bytes (hashed as they come): slower, and proves the content, not only the length.
        return { opts: { blksize: 1468, windowsize: 12 }, hashed: true };
    }
  }

  test(`storm: ${CLIENTS} clients on one cold object; the bucket sends at most 2× its bytes`, async () => {
    const started = performance.now();
    const results = await Promise.all(
      Array.from({ length: CLIENTS }, async (_, i) => {
        const { opts, hashed } = clientOptions(i);
        const hash = hashed ? createHash('sha256') : undefined;
        try {
          const r = await get({
            host: '127.0.0.1',
            port: gw.port,
            path: `boot/${KEY}`,
            timeoutMs: 1000,
            retries: 10,
            ...opts,
            ...(hash ? { sink: { write: (c: Uint8Array) => hash.update(c) } } : { discard: true }),
          });
          return { ok: true, bytes: r.bytes, hash: hash?.digest('hex') };
        } catch (e) {
          return { ok: false, bytes: 0, error: String(e) };
        }
      }),
    );
    const durationMs = performance.now() - started;

    const failed = results.filter((r) => !r.ok || r.bytes !== OBJECT_BYTES);
    expect(failed.slice(0, 5), `${failed.length} of ${CLIENTS} transfers failed or came out short`).toEqual([]);
    const want = sha256(object);
    for (const r of results) if (r.hash !== undefined) expect(r.hash).toBe(want);

    const log = (await s3.requests()).filter((r) => decodeURIComponent(r.path.split('?')[0]) === `/${BUCKET}/${KEY}`);
    const gets = log.filter((r) => r.method === 'GET');
    const heads = log.filter((r) => r.method === 'HEAD');
    const bucketBytes = gets.reduce((n, r) => n + r.bytes, 0);
    const chunks = Math.ceil(OBJECT_BYTES / CHUNK_BYTES);
    const end = Date.now() + 5000;
    while (records.length < CLIENTS && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    const fromBucket = records.filter((r) => r.cacheHit === false).length;
    const retransmits = records.reduce((n, r) => n + r.retransmits, 0);
    const slowestMs = Math.max(...records.map((r) => r.durationMs));
    const stats = gw.stats().objects!;
    console.log(
      `storm: ${CLIENTS} × ${OBJECT_BYTES} bytes in ${Math.round(durationMs)} ms; bucket: ${gets.length} GETs (${chunks} chunks), ` +
        `${bucketBytes} bytes (${(bucketBytes / OBJECT_BYTES).toFixed(2)}× the object), ${heads.length} HEADs; ` +
        `sessions that started on a bucket fetch: ${fromBucket}; coalesced chunk reads: ${stats.coalesced}; ` +
        `server retransmits: ${retransmits}; slowest session ${Math.round(slowestMs)} ms`,
    );

    // Upstream traffic does not grow with the number of clients.
    expect(bucketBytes).toBeLessThanOrEqual(2 * OBJECT_BYTES);
    expect(gets.length).toBeLessThanOrEqual(2 * chunks + 4);
    expect(heads.length).toBeLessThanOrEqual(4);
    expect(gets.every((r) => r.status === 206)).toBe(true);
    expect(records.length).toBe(CLIENTS);
    expect(records.filter((r) => r.outcome !== 'ok' || r.bytes !== OBJECT_BYTES)).toEqual([]);
  });
}

describe('500 clients, default memory budget', () => storm(500, Number(process.env.TFTPFN_STORM_MIB ?? 4) * MiB + 321, {}));
describe('50 clients, no memory budget for idle chunks', () => storm(50, 2 * MiB + 321, { cacheMemoryBytes: 0 }));
