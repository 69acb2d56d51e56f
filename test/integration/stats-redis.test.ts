/**
 * RedisStatsSink against a real redis-server and a real gateway: the stream entry of a known
 * transfer, counters that add up over 100 transfers, and the outage contract (no transfer
 * fails, buffered records arrive after a restart in order, drops are counted exactly, one
 * warn and one info line per outage).
 *
 * The stream, counter and close tests run on one server, behind Sentinel and on a 3-master
 * Cluster (docs/REDIS.md); the outage tests kill and pause one server.
 *
 * The test Redis keeps no data across a kill (--save ''), so after an outage the stream holds
 * exactly the records the sink had not yet had acknowledged when Redis died.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { pino } from 'pino';
import { get } from '../../client/index.js';
import { text } from '../../sdk/index.js';
import { startGateway, type RunningGateway, type SessionRecord } from '../../gateway/src/index.js';
import { RedisStatsSink, type RedisStatsSinkOptions } from '../../gateway/src/stats/redis-sink.js';
import { makeRoot } from '../helpers/gateway.js';
import { captureLog, eventually, type CapturedLog } from '../helpers/functions.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { REDIS_TOPOLOGIES, startTopology, type TestTopology } from '../helpers/redis-topology.js';

const GATEWAY_ID = 'gw-test-1';
const EXACT_BYTES = 512 * 8; // a multiple of 512: the transfer ends with an empty block
const SMALL_BYTES = 100;
const FN_BODY = 'hello from fn\n';
const fast = { timeoutMs: 300, retries: 5 };

let redis: TestRedis;
/** The Redis the tests of the moment use: a topology's, or the one server the outage tests kill. */
let store: { url: string; cli: TestRedis['cli'] };
let gw: RunningGateway;
let root: string;
/** Where the gateway's records go: the test of the moment sets a sink, and an order log. */
let onRecord: ((r: SessionRecord) => void) | undefined;
const sinks: RedisStatsSink[] = [];

beforeAll(async () => {
  redis = await startRedis();
  root = makeRoot({ 'exact.bin': Buffer.alloc(EXACT_BYTES, 7), 'small.txt': 'x'.repeat(SMALL_BYTES) });
  gw = await startGateway({
    config: {
      hosts: ['127.0.0.1'],
      port: 0,
      gatewayId: GATEWAY_ID,
      routes: [{ match: 'fn/**', function: 'hello', stripPrefix: true }],
      defaultRoute: { folder: root },
    },
    functions: { hello: () => text(FN_BODY) },
    logger: pino({ level: 'silent' }),
    onSession: (r) => onRecord?.(r),
  });
});

afterAll(async () => {
  await gw?.close(0);
  await redis?.cleanup();
});

afterEach(async () => {
  onRecord = undefined;
  await Promise.all(sinks.splice(0).map((s) => s.close()));
});

function newSink(extra: Partial<RedisStatsSinkOptions> = {}): { sink: RedisStatsSink; log: CapturedLog; order: SessionRecord[] } {
  const log = captureLog('info');
  const sink = new RedisStatsSink({
    url: store.url,
    gatewayId: GATEWAY_ID,
    streamKey: 'tftpfn:sessions',
    maxLen: 100_000,
    counterTtlSeconds: 3600,
    bufferMax: 10_000,
    flushMs: 50,
    logger: log.logger,
    ...extra,
  });
  sinks.push(sink);
  const order: SessionRecord[] = [];
  onRecord = (r) => {
    order.push(r);
    sink.push(r);
  };
  return { sink, log, order };
}

const warns = (log: CapturedLog) => log.lines.filter((l) => l.level === 40);
const infos = (log: CapturedLog) => log.lines.filter((l) => l.level === 30);

async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  if (!(await eventually(check, ms))) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

/** The stream as [id, fields] with fields as a string map. */
async function streamEntries(key = 'tftpfn:sessions'): Promise<{ id: string; fields: Record<string, string> }[]> {
  const reply = (await store.cli('XRANGE', key, '-', '+')) as [Buffer, Buffer[]][];
  return reply.map(([id, kv]) => {
    const fields: Record<string, string> = {};
    for (let i = 0; i < kv.length; i += 2) fields[String(kv[i])] = String(kv[i + 1]);
    return { id: String(id), fields };
  });
}

async function hashSum(pattern: string): Promise<Record<string, number>> {
  const keys = ((await store.cli('KEYS', pattern)) as Buffer[]).map(String);
  const sum: Record<string, number> = {};
  for (const k of keys) {
    const kv = (await store.cli('HGETALL', k)) as Buffer[];
    for (let i = 0; i < kv.length; i += 2) sum[String(kv[i])] = (sum[String(kv[i])] ?? 0) + Number(String(kv[i + 1]));
  }
  return sum;
}

async function zsetSum(pattern: string): Promise<Record<string, number>> {
  const keys = ((await store.cli('KEYS', pattern)) as Buffer[]).map(String);
  const sum: Record<string, number> = {};
  for (const k of keys) {
    const kv = (await store.cli('ZRANGE', k, 0, -1, 'WITHSCORES')) as Buffer[];
    for (let i = 0; i < kv.length; i += 2) sum[String(kv[i])] = (sum[String(kv[i])] ?? 0) + Number(String(kv[i + 1]));
  }
  return sum;
}

/** Runs `n` transfers `concurrency` at a time; `before(i)` may await (e.g. kill Redis) first. */
async function load(n: number, concurrency: number, path: (i: number) => string, before?: (i: number) => Promise<void>) {
  let next = 0;
  const failures: string[] = [];
  const worker = async () => {
    for (let i = next++; i < n; i = next++) {
      if (before) await before(i);
      try {
        await get({ host: '127.0.0.1', port: gw.port, path: path(i), blksize: 512, ...fast });
      } catch (e) {
        const err = e as Error & { tftpCode?: number };
        if (!(err.tftpCode === 1 && path(i).startsWith('missing'))) failures.push(`${path(i)}: ${err.message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return failures;
}

/** A client's transfer ends at its last ACK; the gateway's record follows a moment later. */
async function recordsIn(order: SessionRecord[], n: number): Promise<void> {
  await until(() => order.length >= n, 5000, `${n} session records`);
  expect(order).toHaveLength(n);
}

describe.each(REDIS_TOPOLOGIES)('redis stats sink (%s)', (kind) => {
  let topo: TestTopology;
  beforeAll(async () => {
    topo = await startTopology(kind);
  });
  afterAll(async () => {
    await topo?.cleanup();
  });
  beforeEach(async () => {
    store = topo;
    await topo.cli('FLUSHALL');
  });

  test('stream: a known transfer is one entry with its exact bytes, blocks, outcome and gateway', async () => {
    const { sink } = newSink();
    const got = await get({ host: '127.0.0.1', port: gw.port, path: 'exact.bin', blksize: 512, ...fast });
    expect(got.bytes).toBe(EXACT_BYTES);
    await until(() => sink.stats.flushed === 1, 5000, 'one record flushed');
    const entries = await streamEntries();
    expect(entries).toHaveLength(1);
    const { fields } = entries[0];
    expect(fields).toMatchObject({ gateway: GATEWAY_ID, outcome: 'ok', function: '-', file: 'exact.bin' });
    const r = JSON.parse(fields.r) as SessionRecord;
    expect(r).toMatchObject({ gateway: GATEWAY_ID, file: 'exact.bin', bytes: EXACT_BYTES, blocks: EXACT_BYTES / 512 + 1, outcome: 'ok', blockSize: 512 });
    expect(sink.stats).toMatchObject({ pushed: 1, flushed: 1, dropped: 0, buffered: 0, flushErrors: 0 });
    // The live view's last-seen entry, and TTLs on every counter key.
    expect(Number(String(await store.cli('HGET', 'tftpfn:stats:{tftpfn:sessions}:gateways', GATEWAY_ID)))).toBe(Date.parse(r.endedAt));
    for (const key of ((await store.cli('KEYS', 'tftpfn:stats:*')) as Buffer[]).map(String)) {
      const ttl = (await store.cli('TTL', key)) as number;
      expect(ttl, key).toBeGreaterThan(3500);
      expect(ttl, key).toBeLessThanOrEqual(3600);
    }
  });

  test('counters: 100 transfers (ok, not-found, a function) add up exactly across the minute hashes', async () => {
    const { sink, order } = newSink();
    const path = (i: number) => (i % 4 === 3 ? `missing-${i}.bin` : i % 5 === 0 ? 'fn/hi' : i % 2 === 0 ? 'exact.bin' : 'small.txt');
    const failures = await load(100, 10, path);
    expect(failures).toEqual([]);
    await recordsIn(order, 100);
    await until(() => sink.stats.flushed === 100, 10_000, '100 records flushed');

    const expected = { sessions: 0, bytes: 0, blocks: 0, errors: 0, ok: 0, notFound: 0 };
    const fnExpected = { sessions: 0, bytes: 0 };
    const files: Record<string, number> = {};
    for (let i = 0; i < 100; i++) {
      const p = path(i);
      expected.sessions++;
      files[p === 'fn/hi' ? 'hi' : p] = (files[p === 'fn/hi' ? 'hi' : p] ?? 0) + 1;
      if (p.startsWith('missing')) {
        expected.errors++;
        expected.notFound++;
        continue;
      }
      const size = p === 'exact.bin' ? EXACT_BYTES : p === 'small.txt' ? SMALL_BYTES : FN_BODY.length;
      expected.ok++;
      expected.bytes += size;
      expected.blocks += Math.floor(size / 512) + 1;
      if (p === 'fn/hi') {
        fnExpected.sessions++;
        fnExpected.bytes += size;
      }
    }
    const gwSum = await hashSum(`tftpfn:stats:{tftpfn:sessions}:gw:${GATEWAY_ID}:*`);
    expect(gwSum).toMatchObject({
      sessions: expected.sessions,
      bytes: expected.bytes,
      blocks: expected.blocks,
      errors: expected.errors,
      'outcome:ok': expected.ok,
      'outcome:not-found': expected.notFound,
    });
    expect(await hashSum('tftpfn:stats:{tftpfn:sessions}:fn:hello:*')).toMatchObject({ sessions: fnExpected.sessions, bytes: fnExpected.bytes, 'outcome:ok': fnExpected.sessions });
    const folderSum = await hashSum('tftpfn:stats:{tftpfn:sessions}:fn:-:*');
    expect(folderSum.sessions + fnExpected.sessions).toBe(100);
    // Top files count sessions; the function's file is the path it saw after stripPrefix.
    const topFiles = await zsetSum('tftpfn:stats:{tftpfn:sessions}:top:file:*');
    expect(Object.values(topFiles).reduce((a, b) => a + b, 0)).toBe(100);
    expect(topFiles['exact.bin']).toBe(files['exact.bin']);
    expect(topFiles['small.txt']).toBe(files['small.txt']);
    expect(await zsetSum('tftpfn:stats:{tftpfn:sessions}:top:peer:*')).toEqual({ '127.0.0.1': 100 });
    expect(await store.cli('XLEN', 'tftpfn:sessions')).toBe(100);
    // Batching: far fewer pipelines than records would be one round trip per record.
    expect(sink.stats.batches).toBeLessThanOrEqual(100);
  });

  test('close: flushes what is queued, then quits; a record pushed after close is counted as dropped', async () => {
    const { sink, order } = newSink({ flushMs: 60_000 });
    // Connected first: the 'ready' event flushes whatever is queued at that moment.
    await until(() => sink.client.status === 'ready', 5000, 'the sink connected');
    await load(3, 3, () => 'small.txt');
    await recordsIn(order, 3);
    expect(sink.stats.buffered).toBe(3);
    await sink.close();
    expect(sink.stats).toMatchObject({ pushed: 3, flushed: 3, buffered: 0 });
    expect(await store.cli('XLEN', 'tftpfn:sessions')).toBe(3);
    sink.push(order0());
    expect(sink.stats).toMatchObject({ pushed: 4, dropped: 1 });
  });
});

describe('redis stats sink through outages (one server)', () => {
  beforeAll(() => {
    store = redis;
  });
  beforeEach(async () => {
    if (!redis.running) await redis.start();
    await redis.cli('FLUSHALL');
  });

  test('outage: Redis killed during 200 transfers fails none; after restart the unacknowledged records arrive in order; one warn, one info', async () => {
    const { sink, log, order } = newSink();
    let flushedBeforeKill = -1;
    let maxBuffered = 0;
    let pushNs = 0n;
    const realPush = onRecord!;
    onRecord = (r) => {
      const t0 = process.hrtime.bigint();
      realPush(r);
      pushNs += process.hrtime.bigint() - t0;
      maxBuffered = Math.max(maxBuffered, sink.stats.buffered);
    };
    const failures = await load(200, 20, (i) => (i % 2 ? 'exact.bin' : 'small.txt'), async (i) => {
      if (i === 50) {
        await redis.kill();
        // The socket's close comes after any reply still in it: only then is the count final.
        await until(() => sink.client.status !== 'ready', 5000, 'the sink seeing the kill');
        // Acknowledged now means it died with the server (no persistence); the rest must come back.
        flushedBeforeKill = sink.stats.flushed;
      }
      if (i === 150) await redis.start();
    });
    expect(failures).toEqual([]);
    await recordsIn(order, 200);
    await until(() => sink.stats.flushed === 200, 15_000, 'every record flushed after the restart');
    expect(sink.stats).toMatchObject({ pushed: 200, flushed: 200, dropped: 0, buffered: 0 });
    expect(flushedBeforeKill).toBeGreaterThanOrEqual(0);
    const ids = (await streamEntries()).map((e) => (JSON.parse(e.fields.r) as SessionRecord).id);
    expect(ids).toEqual(order.slice(flushedBeforeKill).map((r) => r.id));
    expect(maxBuffered).toBeGreaterThan(0);
    expect(warns(log)).toHaveLength(1);
    expect(warns(log)[0].event).toBe('statsRedisUnavailable');
    expect(infos(log)).toHaveLength(1);
    expect(infos(log)[0]).toMatchObject({ event: 'statsRedisReconnected', droppedWhileDown: 0 });
    console.log(
      `outage: flushed before kill ${flushedBeforeKill}, max buffered ${maxBuffered}, batches ${sink.stats.batches}, flushErrors ${sink.stats.flushErrors}, ` +
        `push() mean ${(Number(pushNs) / 200 / 1000).toFixed(1)} µs, reconnect info ${JSON.stringify(infos(log)[0])}`,
    );
  });

  test('outage with a tiny buffer: the oldest are dropped and counted; flushed + dropped + buffered === pushed', async () => {
    await redis.kill();
    const { sink, log, order } = newSink({ bufferMax: 10 });
    const failures = await load(200, 20, (i) => (i % 2 ? 'exact.bin' : 'small.txt'));
    expect(failures).toEqual([]);
    await recordsIn(order, 200);
    expect(sink.stats).toMatchObject({ pushed: 200, flushed: 0, dropped: 190, buffered: 10 });
    await redis.start();
    await until(() => sink.stats.buffered === 0, 15_000, 'the buffer flushed after the restart');
    const s = sink.stats;
    expect(s.flushed + s.dropped + s.buffered).toBe(s.pushed);
    expect(s).toMatchObject({ pushed: 200, flushed: 10, dropped: 190 });
    // Drop-oldest: what survives is the newest ten, in order.
    const ids = (await streamEntries()).map((e) => (JSON.parse(e.fields.r) as SessionRecord).id);
    expect(ids).toEqual(order.slice(190).map((r) => r.id));
    expect(warns(log)).toHaveLength(1);
    expect(infos(log)).toHaveLength(1);
    expect(infos(log)[0]).toMatchObject({ droppedWhileDown: 190 });
  });

  test('a sink made while Redis is down buffers, then delivers once Redis starts', async () => {
    await redis.kill();
    const { sink, log, order } = newSink();
    const failures = await load(5, 5, () => 'small.txt');
    expect(failures).toEqual([]);
    await recordsIn(order, 5);
    // Nothing is attempted while down: the records wait.
    await new Promise((r) => setTimeout(r, 200));
    expect(sink.stats).toMatchObject({ pushed: 5, flushed: 0, buffered: 5 });
    await redis.start();
    await until(() => sink.stats.flushed === 5, 10_000, 'five records flushed');
    expect(await redis.cli('XLEN', 'tftpfn:sessions')).toBe(5);
    expect(warns(log)).toHaveLength(1);
    expect(infos(log)).toHaveLength(1);
  });

  test('a hung Redis (SIGSTOP): batches time out and are kept; after SIGCONT they arrive; one warn, one info', async () => {
    const { sink, log, order } = newSink();
    await until(() => sink.client.status === 'ready', 5000, 'the sink connected');
    redis.pause();
    try {
      await expect(load(20, 10, () => 'small.txt')).resolves.toEqual([]);
      await recordsIn(order, 20);
      await until(() => sink.stats.flushErrors >= 1, 10_000, 'a batch timing out');
      expect(sink.stats).toMatchObject({ flushed: 0, buffered: 20, dropped: 0 });
    } finally {
      redis.resume();
    }
    await until(() => sink.stats.flushed === 20, 10_000, 'the held records flushed');
    const ids = (await streamEntries()).map((e) => (JSON.parse(e.fields.r) as SessionRecord).id);
    // At least once: a batch Redis applied just before it stopped answering may come twice.
    expect([...new Set(ids)]).toEqual(order.map((r) => r.id));
    expect(warns(log)).toHaveLength(1);
    expect(infos(log)).toHaveLength(1);
  });

});

function order0(): SessionRecord {
  return { id: 'late', gateway: GATEWAY_ID, endedAt: new Date().toISOString(), peer: { address: '127.0.0.1', port: 1, family: 'IPv4' }, outcome: 'ok' } as SessionRecord;
}
