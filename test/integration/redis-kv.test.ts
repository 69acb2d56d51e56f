/**
 * RedisKvStore against a real redis-server (and, with Redis up, behind Sentinel and on a
 * 3-master Cluster): binary round-trips, TTLs, key prefixes, and the outage contract (never reject, never wait long, log once per outage, resume on reconnect).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { RedisKvStore } from '../../gateway/src/cache/redis-kv.js';
import { freePort } from '../helpers/free-port.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { REDIS_TOPOLOGIES, startTopology, type TestTopology } from '../helpers/redis-topology.js';

interface LogLine {
  level: number;
  msg: string;
  event?: string;
  downMs?: number;
  bypassed?: number;
  err?: { message: string };
}

/** A pino logger writing parsed lines into an array. */
function captureLogger() {
  const lines: LogLine[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
  return {
    logger,
    lines,
    warns: () => lines.filter((l) => l.level === 40),
    infos: () => lines.filter((l) => l.level === 30),
  };
}

async function waitFor(pred: () => boolean, timeoutMs: number, what: string): Promise<number> {
  const t0 = performance.now();
  while (!pred()) {
    if (performance.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return performance.now() - t0;
}

/** Seeded bytes, so a failure is reproducible. */
function seededBytes(n: number, seed: number): Buffer {
  const out = Buffer.alloc(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

const stores: RedisKvStore[] = [];
function newStore(url: string, extra: { keyPrefix?: string; commandTimeoutMs?: number } = {}) {
  const log = captureLogger();
  const kv = new RedisKvStore({ url, logger: log.logger, ...extra });
  stores.push(kv);
  return { kv, log };
}

afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
});

// The contract with Redis up holds on each topology (docs/REDIS.md); the outage tests below
// kill and pause one server, which is what a single-server URL names.
describe.each(REDIS_TOPOLOGIES)('RedisKvStore with Redis up (%s)', (kind) => {
  let redis: TestTopology;
  beforeAll(async () => {
    redis = await startTopology(kind);
  });
  afterAll(async () => {
    await redis?.cleanup();
  });

  it('get/set: round-trips every byte value 0x00..0xff', async () => {
    const { kv } = newStore(redis.url);
    await waitFor(() => kv.available, 5000, 'available');
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    await kv.set('all-bytes', all);
    const got = await kv.get('all-bytes');
    expect(got).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(got!).equals(Buffer.from(all))).toBe(true);
    expect(await kv.get('missing')).toBeUndefined();
    expect(kv.stats).toEqual({ hits: 1, misses: 1, bypassed: 0, errors: 0 });
  });

  it('get/set: round-trips a 1 MiB value, including a Uint8Array view into a larger buffer', async () => {
    const { kv } = newStore(redis.url);
    await waitFor(() => kv.available, 5000, 'available');
    const big = seededBytes(1024 * 1024, 42);
    await kv.set('big', big);
    expect(Buffer.from((await kv.get('big'))!).equals(big)).toBe(true);
    const backing = seededBytes(4096, 7);
    const view = new Uint8Array(backing.buffer, backing.byteOffset + 100, 1000);
    await kv.set('view', view);
    expect(Buffer.from((await kv.get('view'))!).equals(backing.subarray(100, 1100))).toBe(true);
  });

  it('keys get the prefix (default tftpfn:, or the one given), as a raw client sees', async () => {
    const a = newStore(redis.url).kv;
    const b = newStore(redis.url, { keyPrefix: 'other:' }).kv;
    await waitFor(() => a.available && b.available, 5000, 'available');
    await a.set('p', Buffer.from('A'));
    await b.set('p', Buffer.from('B'));
    expect(await redis.cli('GET', 'tftpfn:p')).toEqual(Buffer.from('A'));
    expect(await redis.cli('GET', 'other:p')).toEqual(Buffer.from('B'));
    expect(await redis.cli('GET', 'p')).toBeNull();
    expect(Buffer.from((await a.get('p'))!).toString()).toBe('A');
  });

  it('set with a TTL uses EX; touch re-arms it with EXPIRE; touch 0 removes it', async () => {
    const { kv } = newStore(redis.url);
    await waitFor(() => kv.available, 5000, 'available');
    await kv.set('t', Buffer.from('x'), 100);
    const ttl = (await redis.cli('TTL', 'tftpfn:t')) as number;
    expect(ttl).toBeGreaterThan(95);
    expect(ttl).toBeLessThanOrEqual(100);
    await kv.touch('t', 1000);
    expect(await redis.cli('TTL', 'tftpfn:t')).toBeGreaterThan(995);
    await kv.touch('t', 0);
    expect(await redis.cli('TTL', 'tftpfn:t')).toBe(-1);
    await kv.set('no-ttl', Buffer.from('x'));
    expect(await redis.cli('TTL', 'tftpfn:no-ttl')).toBe(-1);
  });

  it('a short TTL expires within a bounded wait', async () => {
    const { kv } = newStore(redis.url);
    await waitFor(() => kv.available, 5000, 'available');
    await kv.set('short', Buffer.from('x'), 1);
    expect(await kv.get('short')).toBeDefined();
    let gone = false;
    const t0 = performance.now();
    while (!gone && performance.now() - t0 < 3000) {
      gone = (await kv.get('short')) === undefined;
      if (!gone) await new Promise((r) => setTimeout(r, 50));
    }
    expect(gone).toBe(true);
  });

  it('del removes a key; deleting a missing key is fine', async () => {
    const { kv } = newStore(redis.url);
    await waitFor(() => kv.available, 5000, 'available');
    await kv.set('d', Buffer.from('x'));
    await kv.del('d');
    await kv.del('d');
    expect(await kv.get('d')).toBeUndefined();
    expect(await redis.cli('EXISTS', 'tftpfn:d')).toBe(0);
  });

  it('a Redis reply error (wrong type) is counted as an error, not an outage, and never rejects', async () => {
    const { kv, log } = newStore(redis.url);
    await waitFor(() => kv.available, 5000, 'available');
    await redis.cli('LPUSH', 'tftpfn:list', 'x');
    expect(await kv.get('list')).toBeUndefined();
    expect(kv.stats.errors).toBe(1);
    expect(kv.stats.bypassed).toBe(0);
    expect(kv.available).toBe(true);
    expect(log.warns()).toHaveLength(0);
  });

  it('close: later calls are bypassed, not rejected', async () => {
    const { kv } = newStore(redis.url);
    await waitFor(() => kv.available, 5000, 'available');
    await kv.close();
    expect(kv.available).toBe(false);
    expect(await kv.get('x')).toBeUndefined();
    await kv.set('x', Buffer.from('x'));
    expect(kv.stats.bypassed).toBe(2);
  });
});

describe('RedisKvStore through an outage', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.cleanup();
  });

  it('redis killed mid-loop: no call rejects or waits long, one warn line; restarted: one info line, caching resumes', async () => {
    if (!redis.running) await redis.start();
    const commandTimeoutMs = 500;
    const { kv, log } = newStore(redis.url, { commandTimeoutMs });
    await waitFor(() => kv.available, 5000, 'available');
    await kv.set('before', Buffer.from('v'));

    let rejected = 0;
    let maxCallMs = 0;
    let killed: Promise<void> | undefined;
    let sawUnavailable = false;
    for (let i = 0; i < 500; i++) {
      if (i === 100) killed = redis.kill();
      const t0 = performance.now();
      try {
        if (i % 2 === 0) await kv.set(`loop${i}`, seededBytes(512, i), 60);
        else await kv.get(`loop${i - 1}`);
      } catch {
        rejected++;
      }
      maxCallMs = Math.max(maxCallMs, performance.now() - t0);
      if (!kv.available) sawUnavailable = true;
      // Spread the loop over time so the kill lands in the middle of it.
      await new Promise((r) => setTimeout(r, 1));
    }
    await killed;
    console.log(`redis-kv outage (SIGKILL): worst call ${maxCallMs.toFixed(1)} ms, bypassed ${kv.stats.bypassed}`);

    expect(rejected).toBe(0);
    expect(maxCallMs).toBeLessThan(commandTimeoutMs + 200);
    expect(sawUnavailable).toBe(true);
    expect(kv.available).toBe(false);
    expect(kv.stats.bypassed).toBeGreaterThan(0);
    expect(log.warns()).toHaveLength(1);
    expect(log.warns()[0]).toMatchObject({ event: 'redisUnavailable', msg: 'redis unavailable: cache bypassed' });
    expect(log.warns()[0].err).toBeDefined();
    expect(log.infos()).toHaveLength(0);
    // Down: a read misses at once, a write is dropped at once.
    const t0 = performance.now();
    expect(await kv.get('before')).toBeUndefined();
    await kv.set('during', Buffer.from('x'));
    expect(performance.now() - t0).toBeLessThan(50);

    await redis.start();
    const backMs = await waitFor(() => kv.available, 5000, 'reconnect');
    console.log(`redis-kv outage: available again ${backMs.toFixed(0)} ms after restart`);
    expect(log.warns()).toHaveLength(1);
    expect(log.infos()).toHaveLength(1);
    const info = log.infos()[0];
    expect(info).toMatchObject({ event: 'redisReconnected', msg: 'redis reconnected: cache resumed' });
    expect(info.downMs).toBeGreaterThan(0);
    expect(info.bypassed).toBeGreaterThan(0);

    await kv.set('after', Buffer.from('resumed'));
    expect(Buffer.from((await kv.get('after'))!).toString()).toBe('resumed');
    expect(await redis.cli('GET', 'tftpfn:after')).toEqual(Buffer.from('resumed'));
  });

  it('many calls in flight when redis dies all settle within the command timeout', async () => {
    if (!redis.running) await redis.start();
    const { kv, log } = newStore(redis.url, { commandTimeoutMs: 500 });
    await waitFor(() => kv.available, 5000, 'available');
    // SIGKILL first, then call while the client still thinks the socket is up: the calls are
    // written to a dead connection and must be failed by the close, not replayed or left hanging.
    const killed = redis.kill();
    const t0 = performance.now();
    const calls = Array.from({ length: 500 }, (_, i) => (i % 2 ? kv.get(`c${i}`) : kv.set(`c${i}`, seededBytes(4096, i))));
    const results = await Promise.allSettled(calls);
    const elapsedMs = performance.now() - t0;
    await killed;
    console.log(`redis-kv outage (500 concurrent calls): all settled in ${elapsedMs.toFixed(1)} ms, bypassed ${kv.stats.bypassed}`);
    expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
    expect(kv.stats.bypassed).toBeGreaterThan(0);
    expect(kv.stats.errors).toBe(0);
    expect(elapsedMs).toBeLessThan(700);
    await waitFor(() => !kv.available, 2000, 'unavailable');
    expect(log.warns()).toHaveLength(1);
    await redis.start();
    await waitFor(() => kv.available, 5000, 'reconnect');
    expect(log.infos()).toHaveLength(1);
    // Failed writes are not replayed on reconnect (maxRetriesPerRequest 0): the fresh server is empty.
    await new Promise((r) => setTimeout(r, 100));
    expect(await redis.cli('DBSIZE')).toBe(0);
  });

  it('a hung redis (SIGSTOP): calls wait at most the command timeout, then bypass at once; resumes after SIGCONT', async () => {
    if (!redis.running) await redis.start();
    const commandTimeoutMs = 300;
    const { kv, log } = newStore(redis.url, { commandTimeoutMs });
    await waitFor(() => kv.available, 5000, 'available');
    redis.pause();
    try {
      const latencies: number[] = [];
      for (let i = 0; i < 20; i++) {
        const t0 = performance.now();
        await kv.get(`h${i}`);
        latencies.push(performance.now() - t0);
      }
      console.log(`redis-kv hung: first call ${latencies[0].toFixed(0)} ms, worst of the rest ${Math.max(...latencies.slice(1)).toFixed(1)} ms`);
      expect(latencies[0]).toBeGreaterThanOrEqual(commandTimeoutMs - 20);
      expect(latencies[0]).toBeLessThan(commandTimeoutMs + 200);
      expect(Math.max(...latencies.slice(1))).toBeLessThan(50);
      expect(kv.available).toBe(false);
      expect(log.warns()).toHaveLength(1);
    } finally {
      redis.resume();
    }
    await waitFor(() => kv.available, 5000, 'probe after SIGCONT');
    expect(log.infos()).toHaveLength(1);
    await kv.set('after-hang', Buffer.from('ok'));
    expect(Buffer.from((await kv.get('after-hang'))!).toString()).toBe('ok');
  });
});

describe('RedisKvStore with Redis down at start', () => {
  let redis: TestRedis | undefined;
  afterAll(async () => {
    await redis?.cleanup();
  });

  it('constructs, misses at once, logs one warn line, then recovers when redis starts', async () => {
    const port = await freePort();
    const { kv, log } = newStore(`redis://127.0.0.1:${port}/0`);
    expect(kv.available).toBe(false);
    await waitFor(() => log.warns().length > 0, 2000, 'the warn line');
    const t0 = performance.now();
    for (let i = 0; i < 50; i++) {
      expect(await kv.get('x')).toBeUndefined();
      await kv.set('x', Buffer.from('x'));
      await kv.touch('x', 10);
      await kv.del('x');
    }
    expect(performance.now() - t0).toBeLessThan(200);
    expect(kv.stats.bypassed).toBe(200);
    // Several reconnect attempts fail meanwhile; still one line.
    await new Promise((r) => setTimeout(r, 400));
    expect(log.warns()).toHaveLength(1);

    redis = await startRedis({ port });
    await waitFor(() => kv.available, 5000, 'connect after start');
    expect(log.infos()).toHaveLength(1);
    expect(log.infos()[0].bypassed).toBe(200);
    await kv.set('x', Buffer.from('up'));
    expect(Buffer.from((await kv.get('x'))!).toString()).toBe('up');
  });
});
