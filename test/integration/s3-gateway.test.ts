/**
 * Buckets behind the real gateway, end to end: a real s3rver (counting every request it serves),
 * a real redis-server, the gateway with a bucket route and an in-process function answering
 * s3Object(), and real TFTP clients (curl, tftp-hpa, atftp, and the project's own client where
 * the exact ERROR code and text matter).
 *
 * What s3rver cannot do is listed in test/helpers/s3rver.ts: it checks only the access key id,
 * so "denied" is an unknown key id on a second gateway.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { pino } from 'pino';
import { startGateway, type GatewayConfigInput, type RunningGateway, type SessionRecord } from '../../gateway/src/index.js';
import { get, type GetResult } from '../../client/index.js';
import { TftpError } from '../../gateway/src/protocol/error-codes.js';
import { Opcode } from '../../gateway/src/protocol/packet.js';
import { s3Object } from '../../sdk/index.js';
import { startS3rver, type S3rverRequest, type TestS3rver } from '../helpers/s3rver.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { seededBytes, testSeed } from '../helpers/seeded.js';
import { describeRun, killAllClients, runClient } from '../interop/run-client.js';
import { RawPeer } from '../helpers/raw-peer.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const BUCKET = 'boot';
const SEED = testSeed(0x53_33);
// Larger than cacheWholeMaxBytes (1 MiB), not a multiple of the chunk size: the last chunk is short.
const BIG = 5 * MiB + 123;
const FLEET_KEY = 's3-gateway-test-fleet-key-0123456789abcdef';

const objects = new Map<string, Buffer>();
function object(key: string, size: number, seed: number): Buffer {
  const bytes = seededBytes(SEED + seed, size);
  objects.set(key, bytes);
  return bytes;
}

let s3: TestS3rver;
let redis: TestRedis;
let folder: string;
const scratch = mkdtempSync(join(tmpdir(), 'tftpfn-s3gw-'));
const gateways: RunningGateway[] = [];

interface TestGw {
  gw: RunningGateway;
  port: number;
  records: SessionRecord[];
  lines: Record<string, unknown>[];
}

/** A gateway on the shared s3rver and Redis; config fields override the defaults below. */
async function gateway(config: GatewayConfigInput = {}): Promise<TestGw> {
  const records: SessionRecord[] = [];
  const lines: Record<string, unknown>[] = [];
  const gw = await startGateway({
    config: {
      hosts: ['127.0.0.1'],
      port: 0,
      ...s3.gatewayConfig,
      redisUrl: redis.url,
      // One fleet key: without it each gateway tags Redis entries with its own random key and
      // the fleet test below would find nothing shared (cache/tagged-kv.ts).
      cacheHmacKey: FLEET_KEY,
      cacheWholeMaxBytes: MiB,
      routes: [
        { match: 'boot/**', bucket: BUCKET, prefix: '', stripPrefix: true },
        { match: 'fn/**', function: 'pick', stripPrefix: true },
      ],
      defaultRoute: { folder },
      ...config,
    },
    // The SDK path: a function that names an object; the gateway streams it like a bucket route.
    functions: { pick: (request) => s3Object({ bucket: BUCKET, key: request.path }) },
    logger: pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) }),
    onSession: (r) => records.push(r),
  });
  gateways.push(gw);
  return { gw, port: gw.port, records, lines };
}

/** The record of the next session for `file` after the first `after` records. */
async function recordAfter(t: TestGw, file: string, after: number, ms = 10_000): Promise<SessionRecord> {
  const end = Date.now() + ms;
  for (;;) {
    const r = t.records.slice(after).find((x) => x.file === file);
    if (r) return r;
    if (Date.now() > end) throw new Error(`no session record for ${file}`);
    await new Promise((res) => setTimeout(res, 10));
  }
}

/** GETs s3rver served for one key (HEADs and the helper's own writes excluded). */
function getsOf(log: S3rverRequest[], key: string): S3rverRequest[] {
  return log.filter((r) => r.method === 'GET' && decodeURIComponent(r.path.split('?')[0]) === `/${BUCKET}/${key}`);
}

type Fetch = (port: number, path: string) => Promise<{ body: Buffer | undefined; code: number | null; why: string }>;

function outFile(): string {
  return join(mkdtempSync(join(scratch, 'out-')), 'got');
}
function readOrUndefined(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch {
    return undefined;
  }
}

const curl: Fetch = async (port, path) => {
  const out = outFile();
  // curl asks for tsize (and blksize 512) by default.
  const args = ['-sS', '--tftp-blksize', '1468', '-o', out, `tftp://127.0.0.1:${port}/${path}`];
  const r = await runClient('curl', args, { timeoutMs: 60_000 });
  return { body: readOrUndefined(out), code: r.code, why: describeRun('curl', args, r) };
};
const tftpHpa: Fetch = async (port, path) => {
  const out = outFile();
  // tftp-hpa's client sends no options: 512-byte blocks, lock-step, no tsize.
  const args = ['-m', 'binary', '127.0.0.1', String(port), '-c', 'get', path, out];
  const r = await runClient('tftp', args, { timeoutMs: 60_000 });
  return { body: readOrUndefined(out), code: r.code, why: describeRun('tftp', args, r) };
};
const atftp: Fetch = async (port, path) => {
  const out = outFile();
  const args = ['--option', 'tsize 0', '--option', 'blksize 1468', '--option', 'windowsize 16', '-g', '-r', path, '-l', out, '127.0.0.1', String(port)];
  const r = await runClient('atftp', args, { timeoutMs: 60_000 });
  return { body: readOrUndefined(out), code: r.code, why: describeRun('atftp', args, r) };
};

/** The project client's failure, as the ERROR packet's code and text. */
async function tftpError(port: number, path: string): Promise<{ code: number; message: string }> {
  const e = await get({ host: '127.0.0.1', port, path, timeoutMs: 1000, retries: 3 }).then(
    (): unknown => undefined,
    (err: unknown) => err,
  );
  if (!(e instanceof TftpError)) throw new Error(`expected a TFTP ERROR for ${path}, got ${String(e)}`);
  return { code: e.tftpCode, message: e.message };
}

/** Bounded wait until Redis holds at least `n` keys matching `pattern`. */
async function waitForRedisKeys(pattern: string, n: number, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    const keys = (await redis.cli('KEYS', pattern)) as Buffer[];
    if (keys.length >= n) return;
    if (Date.now() > end) throw new Error(`Redis holds ${keys.length} keys matching ${pattern}, expected ${n}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

let main: TestGw;

beforeAll(async () => {
  console.log(`s3-gateway seed ${SEED} (replay with TFTPFN_TEST_SEED=${SEED})`);
  folder = mkdtempSync(join(tmpdir(), 'tftpfn-s3gw-folder-'));
  writeFileSync(join(folder, 'local.txt'), 'served from a folder\n');
  [s3, redis] = await Promise.all([startS3rver(), startRedis()]);
  await s3.createBucket(BUCKET);
  const fixtures: [string, number][] = [
    ['kernels/curl.img', BIG],
    ['kernels/hpa.img', BIG],
    ['kernels/atftp.img', BIG],
    ['kernels/fleet.img', BIG],
    ['small/cfg.txt', 3000],
    ['kernels/outage.img', 4 * MiB],
    ['kernels/during-outage.img', 200 * KiB],
    ['kernels/hung.img', 4 * MiB],
  ];
  for (const [i, [key, size]] of fixtures.entries()) await s3.putObject(BUCKET, key, object(key, size, i));
  main = await gateway();
});

afterAll(async () => {
  killAllClients();
  for (const g of gateways) await g.close(0).catch(() => undefined);
  await s3?.stop();
  await redis?.cleanup();
  rmSync(scratch, { recursive: true, force: true });
  if (folder) rmSync(folder, { recursive: true, force: true });
});

describe('real clients fetch objects from the bucket', () => {
  const cases: [string, Fetch, string, string, boolean][] = [
    // name, client, path on the wire, object key, whether the client asks for tsize
    ['curl (bucket route)', curl, 'boot/kernels/curl.img', 'kernels/curl.img', true],
    ['tftp-hpa (function returning s3Object)', tftpHpa, 'fn/kernels/hpa.img', 'kernels/hpa.img', false],
    ['atftp (bucket route, tsize, blksize 1468, windowsize 16)', atftp, 'boot/kernels/atftp.img', 'kernels/atftp.img', true],
  ];
  test.each(cases)('%s: byte-identical, right tsize; the second fetch is a cache hit with no new GET', async (_name, fetch, path, key, asksTsize) => {
    const want = objects.get(key)!;
    const before = main.records.length;
    const first = await fetch(main.port, path);
    expect(first.code, first.why).toBe(0);
    expect(first.body?.length, first.why).toBe(want.length);
    expect(first.body!.equals(want), 'bytes differ').toBe(true);
    const rec1 = await recordAfter(main, path, before);
    expect(rec1).toMatchObject({ outcome: 'ok', bytes: want.length, source: 's3', cacheHit: false, tsize: asksTsize ? want.length : undefined });
    const getsAfterFirst = getsOf(await s3.requests(), key);
    // Chunked (the object is larger than cacheWholeMaxBytes): one ranged GET per 1 MiB chunk.
    expect(getsAfterFirst.length).toBe(Math.ceil(want.length / MiB));
    expect(getsAfterFirst.every((r) => r.range !== undefined && r.status === 206)).toBe(true);
    expect(getsAfterFirst.reduce((n, r) => n + r.bytes, 0)).toBe(want.length);

    const mid = main.records.length;
    const second = await fetch(main.port, path);
    expect(second.body?.equals(want), second.why).toBe(true);
    const rec2 = await recordAfter(main, path, mid);
    expect(rec2).toMatchObject({ outcome: 'ok', bytes: want.length, source: 'cache', cacheHit: true });
    expect(getsOf(await s3.requests(), key).length, 'the second fetch reached the bucket').toBe(getsAfterFirst.length);
  });

  test('a second gateway on the same Redis serves a warm object with no GET (the fleet shares one cache)', async () => {
    const key = 'kernels/fleet.img';
    const want = objects.get(key)!;
    const warmed = await get({ host: '127.0.0.1', port: main.port, path: `boot/${key}`, blksize: 1468, windowsize: 16 });
    expect(warmed.data!.equals(want)).toBe(true);
    const getsBefore = getsOf(await s3.requests(), key).length;
    // The shared cache is written in the background: wait until every chunk is in Redis.
    await waitForRedisKeys(`tftpfn:obj:${BUCKET}/${key}@*`, Math.ceil(want.length / MiB));
    const other = await gateway();
    const r = await get({ host: '127.0.0.1', port: other.port, path: `boot/${key}`, blksize: 1468, windowsize: 16, tsize: true });
    expect(r.data!.equals(want)).toBe(true);
    const rec = await recordAfter(other, `boot/${key}`, 0);
    expect(rec).toMatchObject({ outcome: 'ok', source: 'cache', cacheHit: true, tsize: want.length });
    expect(getsOf(await s3.requests(), key).length).toBe(getsBefore);
  });
});

describe('missing and denied objects', () => {
  // Nothing that names the object or the credentials may reach the wire.
  const secrets = [BUCKET, 'nope', 'missing.img', 'S3RVER', 'WRONGKEY', 'InvalidAccessKeyId', 'NoSuchKey'];
  const clean = (message: string) => secrets.filter((s) => message.includes(s));

  test.each([
    ['bucket route', 'boot/nope/missing.img'],
    ['function returning s3Object', 'fn/nope/missing.img'],
  ])('missing key (%s): ERROR 1 "file not found"; curl exits 68 (CURLE_TFTP_NOTFOUND)', async (_name, path) => {
    const before = main.records.length;
    const e = await tftpError(main.port, path);
    expect(e).toEqual({ code: 1, message: 'file not found' });
    expect(clean(e.message)).toEqual([]);
    const rec = await recordAfter(main, path, before);
    expect(rec).toMatchObject({ outcome: 'not-found', errorCode: 1, bytes: 0 });
    const c = await curl(main.port, path);
    expect(c.code, c.why).toBe(68);
  });

  test('denied (an access key id the server does not know): ERROR 2 "access violation"; curl exits 69 (CURLE_TFTP_PERM)', async () => {
    const wrong = await gateway({ s3AccessKeyId: 'WRONGKEY', s3SecretAccessKey: 'WRONGSECRET' });
    for (const path of ['boot/small/cfg.txt', 'fn/small/cfg.txt', 'boot/nope/missing.img']) {
      const e = await tftpError(wrong.port, path);
      expect(e, path).toEqual({ code: 2, message: 'access violation' });
      expect(clean(e.message)).toEqual([]);
      const rec = await recordAfter(wrong, path, 0);
      expect(rec).toMatchObject({ outcome: 'denied', errorCode: 2, bytes: 0 });
    }
    const c = await curl(wrong.port, 'boot/small/cfg.txt');
    expect(c.code, c.why).toBe(69);
    // The logs may say why (for the operator), but never the secret key.
    expect(JSON.stringify(wrong.lines)).not.toContain('WRONGSECRET');
    expect(JSON.stringify(wrong.records)).not.toContain('WRONG');
  });
});

describe('the S3 server stopped mid-transfer', () => {
  test('the client gets ERROR 0 within two timeouts, folders keep serving, and buckets serve again after a restart', async () => {
    const timeoutMs = 1000;
    // Small chunks, nothing fetched whole: the session needs a new chunk from the bucket every
    // 64 KiB, so the outage is met soon after it starts. Two attempts keep refusals short.
    const t = await gateway({ timeoutMs, cacheChunkBytes: 64 * KiB, cacheWholeMaxBytes: 0, upstreamAttempts: 2, s3RequestTimeoutMs: 1000 });
    const path = 'boot/kernels/outage.img';
    const want = objects.get('kernels/outage.img')!;
    const blockSize = 1468;
    const peer = await RawPeer.open();
    let halted = false;
    try {
      peer.rrq(t.port, path, { blksize: String(blockSize) });
      const oack = await peer.expect(Opcode.Oack, 5000);
      const tid = oack.from.port;
      peer.ack(tid, 0);
      // The client ACKs every block at once, except that it stops to let s3rver die after
      // 100 blocks (~143 KiB, inside the third chunk): the session has sent from the bucket's
      // bytes already and must now fail with ERROR 0 rather than hang or send wrong bytes.
      let received = 0;
      let haltedAt = 0;
      let error: { code: number; message: string } | undefined;
      const got: Buffer[] = [];
      for (let i = 0; i < 10_000 && !error; i++) {
        const r = await peer.next(3 * timeoutMs);
        if (r.packet.op === Opcode.Error) error = { code: r.packet.code, message: r.packet.message };
        else if (r.packet.op === Opcode.Data) {
          if (r.packet.block === ((received + 1) & 0xffff)) {
            received++;
            got.push(Buffer.from(r.packet.data));
          }
          if (received === 100 && !halted) {
            await s3.halt();
            halted = true;
            haltedAt = performance.now();
          }
          peer.ack(tid, received & 0xffff);
        }
      }
      const errorAfterMs = performance.now() - haltedAt;
      console.log(`S3 halted after ${received} blocks: ERROR ${error?.code} ${Math.round(errorAfterMs)} ms later`);
      expect(halted).toBe(true);
      expect(error).toEqual({ code: 0, message: 'upstream unavailable' });
      expect(errorAfterMs, `ERROR came ${Math.round(errorAfterMs)} ms after the halt`).toBeLessThan(2 * timeoutMs);
      // What did arrive is the object's prefix, and the session stopped short of the end.
      const prefix = Buffer.concat(got);
      expect(prefix.length).toBeLessThan(want.length);
      expect(prefix.equals(want.subarray(0, prefix.length))).toBe(true);
      const rec = await recordAfter(t, path, 0);
      expect(rec).toMatchObject({ outcome: 'upstream-error', errorCode: 0, errorMessage: 'upstream unavailable', source: 's3' });

      // Meanwhile the gateway serves other sources as before.
      const local = await curl(t.port, 'local.txt');
      expect(local.body?.toString(), local.why).toBe('served from a folder\n');
      // An object it has never seen cannot be fetched: ERROR 0, after the two attempts.
      const refused = await tftpError(t.port, 'boot/kernels/during-outage.img');
      expect(refused).toEqual({ code: 0, message: 'upstream unavailable' });
      expect((await recordAfter(t, 'boot/kernels/during-outage.img', 0)).outcome).toBe('upstream-error');
    } finally {
      peer.close();
      if (halted) await s3.restart();
    }

    // s3rver is back (same port, same data): both objects download whole.
    for (const [p, key] of [[path, 'kernels/outage.img'], ['fn/kernels/during-outage.img', 'kernels/during-outage.img']]) {
      const r = await get({ host: '127.0.0.1', port: t.port, path: p, blksize: blockSize, windowsize: 16 });
      expect(r.data!.equals(objects.get(key)!), p).toBe(true);
    }
  });
});

describe('the S3 server hung mid-transfer', () => {
  test('the client gets ERROR 0 within two timeouts when s3rver stops answering (SIGSTOP)', async () => {
    const timeoutMs = 1000;
    // As the halt test, but the server keeps its sockets open and says nothing: only a
    // deadline can end the wait. s3RequestTimeoutMs is left at its default.
    const t = await gateway({ timeoutMs, cacheChunkBytes: 64 * KiB, cacheWholeMaxBytes: 0, upstreamAttempts: 2, ...(process.env.HUNG_S3_TIMEOUT ? { s3RequestTimeoutMs: Number(process.env.HUNG_S3_TIMEOUT) } : {}) });
    const path = 'boot/kernels/hung.img';
    const peer = await RawPeer.open();
    let paused = false;
    try {
      peer.rrq(t.port, path, { blksize: '1468' });
      const oack = await peer.expect(Opcode.Oack, 5000);
      const tid = oack.from.port;
      peer.ack(tid, 0);
      let received = 0;
      let pausedAt = 0;
      let error: { code: number; message: string } | undefined;
      let lastAckAt = 0;
      for (let i = 0; i < 10_000 && !error; i++) {
        // A client re-ACKs on its own timeout; this one waits up to 20 s to see what comes.
        const r = await peer.next(20_000);
        if (r.packet.op === Opcode.Error) error = { code: r.packet.code, message: r.packet.message };
        else if (r.packet.op === Opcode.Data) {
          if (r.packet.block === ((received + 1) & 0xffff)) received++;
          if (received === 100 && !paused) {
            s3.pause();
            paused = true;
            pausedAt = performance.now();
          }
          peer.ack(tid, received & 0xffff);
          lastAckAt = performance.now();
        }
      }
      const afterPauseMs = performance.now() - pausedAt;
      const afterLastAckMs = performance.now() - lastAckAt;
      console.log(`S3 paused after 100 blocks; ${received} blocks in all; ERROR ${error?.code} "${error?.message}" ${Math.round(afterPauseMs)} ms after the pause, ${Math.round(afterLastAckMs)} ms after the last ACK`);
      expect(error).toEqual({ code: 0, message: 'upstream unavailable' });
      expect(afterLastAckMs).toBeLessThan(2 * timeoutMs);
    } finally {
      peer.close();
      if (paused) s3.resume();
    }
  });
});

describe('Redis killed and restarted under load', () => {
  test('200 transfers, 20 at a time, with Redis gone for a while: none fails; one outage line, one recovery line', async () => {
    // A small in-process chunk table, so chunks keep coming from Redis (not only from memory)
    // while it is up, and from the bucket while it is down.
    const t = await gateway({ cacheChunkBytes: 256 * KiB, cacheWholeMaxBytes: 256 * KiB, cacheMemoryBytes: 2 * MiB });
    const keys: string[] = [];
    for (let i = 0; i < 30; i++) {
      const key = `load/obj-${i}.bin`;
      const size = 100 * KiB + ((i * 97_301) % (1200 * KiB));
      await s3.putObject(BUCKET, key, object(key, size, 100 + i));
      keys.push(key);
    }
    const total = 200;
    const concurrency = 20;
    let issued = 0;
    let done = 0;
    const failures: string[] = [];
    const worker = async (): Promise<void> => {
      while (issued < total) {
        const n = issued++;
        // Objects 0-9 are asked for again and again (cached); 10-29 once or twice (mostly cold).
        const key = n % 2 === 0 ? keys[n % 10] : keys[10 + (n % 20)];
        const path = n % 3 === 0 ? `fn/${key}` : `boot/${key}`;
        try {
          const r: GetResult = await get({ host: '127.0.0.1', port: t.port, path, blksize: 1468, windowsize: 8, timeoutMs: 1000, retries: 5 });
          if (!r.data!.equals(objects.get(key)!)) failures.push(`${path}: wrong bytes (${r.data!.length})`);
        } catch (e) {
          failures.push(`${path}: ${String(e)}`);
        }
        done++;
      }
    };
    const load = Promise.all(Array.from({ length: concurrency }, worker));
    const waitDone = async (n: number) => {
      const end = Date.now() + 60_000;
      while (done < n && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
    };
    await waitDone(40);
    await redis.kill();
    const killedAt = done;
    await waitDone(90);
    await redis.start();
    const restartedAt = done;
    // The client reconnects with a backoff capped at 2 s: while the load still runs.
    const end = Date.now() + 5000;
    while (!t.lines.some((l) => l.event === 'redisReconnected') && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
    const reconnectedAt = done;
    await load;
    console.log(`Redis killed after ${killedAt} transfers, started after ${restartedAt}, reconnected after ${reconnectedAt}, of ${total}`);
    expect(failures).toEqual([]);
    expect(reconnectedAt, 'the load ended before the gateway saw Redis again').toBeLessThan(total);
    const events = t.lines.filter((l) => l.event === 'redisUnavailable' || l.event === 'redisReconnected');
    expect(events.map((l) => [l.event, l.level])).toEqual([
      ['redisUnavailable', 40],
      ['redisReconnected', 30],
    ]);
    // The last record lands just after the client's final ACK.
    const recEnd = Date.now() + 5000;
    while (t.records.length < total && Date.now() < recEnd) await new Promise((r) => setTimeout(r, 5));
    expect(t.records.filter((r) => r.outcome !== 'ok')).toEqual([]);
    expect(t.records.length).toBe(total);
    // Caching resumed: the restarted (empty) Redis holds chunks again.
    await waitForRedisKeys('tftpfn:obj:*', 1);
  });
});
