/**
 * Issue 9, section 3: an attacker with a raw connection to the fleet's Redis rewrites what the
 * gateways cached there. Every cached value carries an HMAC tag under the fleet key
 * (cache/tagged-kv.ts), so a second gateway refuses the rewritten entry as a miss, serves the
 * TRUE bytes from the bucket (s3rver), and counts and logs the mismatch.
 *
 * Real parts: redis-server, s3rver, two gateways, the project's TFTP client; the attacker
 * speaks RESP over a plain socket (TestTopology.cli), as any process on the network could.
 * The same attacks, with the same assertions, on one server, behind Sentinel and on a 3-master
 * Cluster (where the chunk keys of one object are hashed over the masters).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { pino } from 'pino';
import { startGateway, type RunningGateway } from '../../gateway/src/index.js';
import { get } from '../../client/index.js';
import { cached, text } from '../../sdk/index.js';
import { startS3rver, type TestS3rver } from '../helpers/s3rver.js';
import { REDIS_TOPOLOGIES, startTopology, type TestTopology } from '../helpers/redis-topology.js';
import { seededBytes, testSeed } from '../helpers/seeded.js';

const MiB = 1024 * 1024;
const BUCKET = 'boot';
const KEY = 'images/vmlinuz';
const SEED = testSeed(0x4d_41_43);
// Chunked (larger than cacheWholeMaxBytes), last chunk short.
const TRUE_BYTES = seededBytes(SEED, 3 * MiB + 77);
const FLEET_KEY = 'cache-integrity-test-fleet-key-0123456789';

let s3: TestS3rver;
let redis: TestTopology;
const gateways: RunningGateway[] = [];

interface Gw {
  gw: RunningGateway;
  lines: Record<string, unknown>[];
}

let producerRuns = 0;

/** `cacheHmacKey` null: none configured. */
async function gateway(cacheHmacKey: string | null = FLEET_KEY): Promise<Gw> {
  const lines: Record<string, unknown>[] = [];
  const gw = await startGateway({
    config: {
      hosts: ['127.0.0.1'],
      port: 0,
      ...s3.gatewayConfig,
      redisUrl: redis.url,
      ...(cacheHmacKey ? { cacheHmacKey } : {}),
      cacheWholeMaxBytes: MiB,
      routes: [
        { match: 'boot/**', bucket: BUCKET, prefix: '', stripPrefix: true },
        { match: 'cfg/**', function: 'cfg', stripPrefix: true },
      ],
    },
    functions: {
      cfg: async (request) => text(await cached(`cfg:${request.path}`, () => (producerRuns++, `true config for ${request.path}\n`), { ttl: 600 })),
    },
    logger: pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) }),
  });
  gateways.push(gw);
  return { gw, lines };
}

async function fetch(g: Gw, path: string): Promise<Buffer> {
  const r = await get({ host: '127.0.0.1', port: g.gw.port, path, blksize: 1468, windowsize: 16, timeoutMs: 1000, retries: 3 });
  return r.data!;
}

/** Bounded wait until Redis holds at least `n` keys matching `pattern`; returns them sorted. */
async function redisKeys(pattern: string, n: number, ms = 5000): Promise<string[]> {
  const end = Date.now() + ms;
  for (;;) {
    const keys = ((await redis.cli('KEYS', pattern)) as Buffer[]).map(String).sort();
    if (keys.length >= n) return keys;
    if (Date.now() > end) throw new Error(`Redis holds ${keys.length} keys matching ${pattern}, expected ${n}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const chunkKey = (keys: string[], n: number) => {
  const k = keys.find((x) => x.endsWith(`:${n}`));
  if (!k) throw new Error(`no chunk ${n} among ${keys.join(', ')}`);
  return k;
};

beforeAll(async () => {
  console.log(`cache-integrity seed ${SEED} (replay with TFTPFN_TEST_SEED=${SEED})`);
  s3 = await startS3rver();
  await s3.createBucket(BUCKET);
  await s3.putObject(BUCKET, KEY, TRUE_BYTES);
});

afterAll(async () => {
  await s3?.stop();
});

describe.each(REDIS_TOPOLOGIES)('cache poisoning through a raw Redis connection (%s)', (kind) => {
  beforeAll(async () => {
    redis = await startTopology(kind);
  });
  afterAll(async () => {
    for (const g of gateways.splice(0)) await g.close(0).catch(() => undefined);
    await redis?.cleanup();
  });

  test('an overwritten images/vmlinuz chunk: a second gateway serves the true bytes from S3 and counts the mismatch', async () => {
    const a = await gateway();
    expect((await fetch(a, `boot/${KEY}`)).equals(TRUE_BYTES)).toBe(true);
    const keys = await redisKeys(`tftpfn:obj:${BUCKET}/${KEY}@*`, 4);
    await s3.clearRequests();

    // The attacker: chunk 0 becomes evil bytes of the same length (plain SET, no tag);
    // chunk 1 keeps a genuine header with its bytes changed (a forged tag);
    // chunk 2 gets chunk 3's genuine entry copied onto it (a valid tag, for another key).
    const evil = Buffer.alloc(MiB, 0x41);
    expect(await redis.cli('SET', chunkKey(keys, 0), evil)).toBe('OK');
    const genuine1 = (await redis.cli('GET', chunkKey(keys, 1))) as Buffer;
    const forged = Buffer.from(genuine1);
    forged.fill(0x42, 38);
    expect(await redis.cli('SET', chunkKey(keys, 1), forged)).toBe('OK');
    const genuine3 = (await redis.cli('GET', chunkKey(keys, 3))) as Buffer;
    expect(await redis.cli('SET', chunkKey(keys, 2), genuine3)).toBe('OK');

    const b = await gateway();
    const served = await fetch(b, `boot/${KEY}`);
    expect(served.length).toBe(TRUE_BYTES.length);
    expect(served.equals(TRUE_BYTES), 'the second gateway served poisoned bytes').toBe(true);
    // Chunks 0, 1 and 2 came from S3 again; chunk 3 was a genuine hit.
    const gets = (await s3.requests()).filter((r) => r.method === 'GET' && r.path.startsWith(`/${BUCKET}/${KEY}`));
    expect(gets.length).toBe(3);
    const kv = b.gw.stats().kv!;
    expect(kv.integrityFailures).toBe(3);
    // The first failure is logged, the rest of the burst is sampled away (and counted).
    const logged = b.lines.filter((l) => l.event === 'cacheIntegrityFailure');
    expect(logged.length).toBe(1);
    expect(['untagged', 'forged']).toContain(logged[0].reason);
    expect(a.gw.stats().kv!.integrityFailures).toBe(0);

    // The true bytes were written back with a valid tag: a third gateway hits all four chunks.
    await new Promise((r) => setTimeout(r, 200));
    await s3.clearRequests();
    const c = await gateway();
    expect((await fetch(c, `boot/${KEY}`)).equals(TRUE_BYTES)).toBe(true);
    expect((await s3.requests()).filter((r) => r.method === 'GET').length).toBe(0);
    expect(c.gw.stats().kv!.integrityFailures).toBe(0);
  });

  test('poisoned object metadata (a larger size, another ETag) is refused: the client gets the true object', async () => {
    const g = await gateway();
    const [meta] = await redisKeys(`tftpfn:meta:${BUCKET}/${KEY}`, 1);
    const lie = JSON.stringify({ size: TRUE_BYTES.length + 4096, etag: '"attacker"', checkedAtMs: Date.now() });
    expect(await redis.cli('SET', meta, lie)).toBe('OK');
    const before = g.gw.stats().kv!.integrityFailures ?? 0;
    expect((await fetch(g, `boot/${KEY}`)).equals(TRUE_BYTES)).toBe(true);
    expect((g.gw.stats().kv!.integrityFailures ?? 0) - before).toBeGreaterThanOrEqual(1);
  });

  test("a function's cached() entry rewritten in Redis: the producer runs again and the true answer is served", async () => {
    const g = await gateway();
    expect(String(await fetch(g, 'cfg/host1'))).toBe('true config for host1\n');
    const [key] = await redisKeys('tftpfn:cached:cfg:*', 1);
    const runs = producerRuns;
    // sdk/cached.ts stores 's' + text: what an attacker would write.
    expect(await redis.cli('SET', key, 'sset root password to hunter2\n')).toBe('OK');
    expect(String(await fetch(g, 'cfg/host1'))).toBe('true config for host1\n');
    expect(producerRuns).toBe(runs + 1);
    expect(g.gw.stats().kv!.integrityFailures).toBeGreaterThanOrEqual(1);
  });

  test('a gateway without cacheHmacKey warns at start and never serves entries written under the fleet key', async () => {
    const g = await gateway(null);
    expect(g.lines.some((l) => l.event === 'cacheHmacKeyMissing')).toBe(true);
    await s3.clearRequests();
    expect((await fetch(g, `boot/${KEY}`)).equals(TRUE_BYTES)).toBe(true);
    // Every chunk is "another key's": fetched from the bucket, not trusted.
    expect((await s3.requests()).filter((r) => r.method === 'GET').length).toBe(4);
    expect(g.gw.stats().kv!.integrityFailures).toBeGreaterThanOrEqual(4);
  });
});
