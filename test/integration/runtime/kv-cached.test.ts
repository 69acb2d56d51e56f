/**
 * env.kv and cached() from real worker threads: through a WorkerPool wired with functionKv(),
 * through FunctionRuntime with a MemoryKvStore, with a store that is down, and with two
 * runtimes (two gateways) sharing a real redis-server. Needs `npm run build` (workers run
 * from dist/).
 */
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import type { KvStats, KvStore } from '../../../gateway/src/cache/kv.js';
import { MemoryKvStore } from '../../../gateway/src/cache/memory-kv.js';
import { RedisKvStore } from '../../../gateway/src/cache/redis-kv.js';
import { parseConfig } from '../../../gateway/src/config/load.js';
import { FunctionRuntime, functionKv } from '../../../gateway/src/runtime/function-runtime.js';
import { WorkerPool, type FunctionResult, type PoolSpec } from '../../../gateway/src/runtime/worker-pool.js';
import { buildFixture, captureLog, eventually, FIXTURES, fnRequest, tftpRequest } from '../../helpers/functions.js';
import { startRedis, type TestRedis } from '../../helpers/redis-server.js';

interface Answer {
  thread: number;
  value?: string | null;
  produced?: number;
}

let bundlePath: string;
const pools: WorkerPool[] = [];
const runtimes: FunctionRuntime[] = [];

beforeAll(async () => {
  bundlePath = await buildFixture('kv');
});
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
  await Promise.all(runtimes.splice(0).map((r) => r.close(1000)));
});

function spec(name: string, store: KvStore, over: Partial<PoolSpec> = {}): PoolSpec {
  return {
    name,
    version: 'v1',
    bundlePath,
    size: 2,
    heapMb: 64,
    timeoutMs: 5000,
    maxConcurrent: 100,
    vars: {},
    secrets: {},
    streamHighWaterBytes: 256 * 1024,
    kv: functionKv(store, name),
    ...over,
  };
}

async function startPool(name: string, store: KvStore, over: Partial<PoolSpec> = {}): Promise<WorkerPool> {
  const pool = new WorkerPool(spec(name, store, over), captureLog().logger);
  pools.push(pool);
  await pool.start();
  return pool;
}

function parse(r: FunctionResult): Answer {
  if (r.kind !== 'bytes') throw new Error(`expected bytes, got ${JSON.stringify(r)}`);
  return JSON.parse(Buffer.from(r.body).toString()) as Answer;
}

const call = async (pool: WorkerPool, path: string) => parse(await pool.invoke(fnRequest(path)));

/** Runs `path` on a worker other than the one `busy` is holding, and says which thread served each. */
async function onAnotherWorker(pool: WorkerPool, path: string): Promise<{ busyThread: number; answer: Answer }> {
  const busy = call(pool, 'sleep/300');
  // The pool sends a call to its least loaded worker: the one not sleeping.
  const answer = await call(pool, path);
  return { busyThread: (await busy).thread, answer };
}

/** A KvStore that is down: reads miss, writes are dropped, nothing rejects (the KvStore contract). */
class DownKvStore implements KvStore {
  readonly kind = 'down';
  readonly available = false;
  readonly stats: KvStats = { hits: 0, misses: 0, bypassed: 0, errors: 0 };
  async get(): Promise<Uint8Array | undefined> {
    this.stats.bypassed++;
    return undefined;
  }
  async set(): Promise<void> {
    this.stats.bypassed++;
  }
  async touch(): Promise<void> {}
  async del(): Promise<void> {}
  async close(): Promise<void> {}
}

describe('env.kv and cached() through a WorkerPool', () => {
  test('env.kv.set in one invocation is seen by get in the next, on the same and on another worker', async () => {
    const store = new MemoryKvStore();
    const pool = await startPool('kvfn', store);
    expect((await call(pool, 'kv-get/greeting')).value).toBeNull();
    const set = await call(pool, 'kv-set/greeting/hello');
    expect((await call(pool, 'kv-get/greeting')).value).toBe('hello');
    const other = await onAnotherWorker(pool, 'kv-get/greeting');
    expect(other.answer.value).toBe('hello');
    expect(other.answer.thread).not.toBe(other.busyThread);
    // Both workers took part: the write and one of the reads ran on different threads.
    expect(new Set([set.thread, other.busyThread, other.answer.thread]).size).toBe(2);
    await call(pool, 'kv-del/greeting');
    expect((await call(pool, 'kv-get/greeting')).value).toBeNull();
  });

  test('env.kv keys land in the store under "kv:", with their ttl', async () => {
    let nowMs = 1_000_000;
    const store = new MemoryKvStore({ now: () => nowMs });
    const pool = await startPool('kvfn', store);
    await call(pool, 'kv-set/profile/web01');
    await call(pool, 'kv-set/short/lived/30');
    expect(Buffer.from((await store.get('kv:profile'))!).toString()).toBe('web01');
    expect(await store.get('profile')).toBeUndefined();
    nowMs += 31_000;
    expect(await store.get('kv:short')).toBeUndefined();
    expect(Buffer.from((await store.get('kv:profile'))!).toString()).toBe('web01');
  });

  test('cached(): the producer runs once for a key across the workers of a pool', async () => {
    const store = new MemoryKvStore();
    const pool = await startPool('kvfn', store);
    const first = await call(pool, 'cached/cfg');
    expect(first.value).toMatch(/^token-/);
    const again = await call(pool, 'cached/cfg');
    const other = await onAnotherWorker(pool, 'cached/cfg');
    expect(other.answer.thread).not.toBe(other.busyThread);
    expect([again.value, other.answer.value]).toEqual([first.value, first.value]);
    // Whichever worker served the later calls, none of them ran its producer again.
    expect(other.answer.produced).toBe(other.answer.thread === first.thread ? 1 : 0);
    expect(store.size).toBe(1);
    expect(await store.get('cached:kvfn:cfg')).toBeDefined();
  });

  test('cached(): keys are private to a function; env.kv cannot reach them either', async () => {
    const store = new MemoryKvStore();
    const a = await startPool('kvfn', store);
    const b = await startPool('other', store);
    const fromA = await call(a, 'cached/shared');
    const fromB = await call(b, 'cached/shared');
    expect(fromB.value).not.toBe(fromA.value);
    expect((await call(a, 'cached/shared')).value).toBe(fromA.value);
    expect((await call(b, 'cached/shared')).value).toBe(fromB.value);
    expect(Buffer.from((await store.get('cached:kvfn:shared'))!).toString()).toBe(`s${fromA.value}`);
    expect(Buffer.from((await store.get('cached:other:shared'))!).toString()).toBe(`s${fromB.value}`);
    // env.kv is namespaced under "kv:", so naming the other function's cache key reads nothing.
    expect((await call(b, 'kv-get/cached:kvfn:shared')).value).toBeNull();
  });

  test('a store that is down: env.kv reads miss, writes are dropped, cached() runs the producer every time, answers keep coming', async () => {
    const store = new DownKvStore();
    const pool = await startPool('kvfn', store);
    expect((await call(pool, 'kv-set/greeting/hello')).thread).toBeGreaterThan(0);
    expect((await call(pool, 'kv-get/greeting')).value).toBeNull();
    const values = new Set<string>();
    for (let i = 0; i < 4; i++) values.add((await call(pool, 'cached/cfg')).value!);
    expect(values.size).toBe(4);
    expect(store.stats.bypassed).toBeGreaterThanOrEqual(4 * 2 + 2);
  });

  test('a pool without a store answers env.kv as a miss and still serves', async () => {
    const pool = await startPool('kvfn', new MemoryKvStore(), { kv: undefined });
    await call(pool, 'kv-set/greeting/hello');
    expect((await call(pool, 'kv-get/greeting')).value).toBeNull();
    const first = await call(pool, 'cached/cfg');
    expect((await call(pool, 'cached/cfg')).value).not.toBe(first.value);
  });
});

const request = tftpRequest;

async function serve(rt: FunctionRuntime, name: string, path: string): Promise<Answer> {
  const opened = await rt.handler(name)!.openRead(request(path), {});
  const parts: Uint8Array[] = [];
  for (let c = await opened.reader.read(65536); c !== null; c = await opened.reader.read(65536)) parts.push(c);
  await opened.reader.close();
  return JSON.parse(Buffer.concat(parts).toString()) as Answer;
}

async function startRuntime(store: KvStore, names = ['kvfn']): Promise<FunctionRuntime> {
  const entry = join(FIXTURES, 'kv.ts');
  const functions = Object.fromEntries(names.map((n) => [n, { entry, poolSize: 2 }]));
  const rt = await FunctionRuntime.start({ config: parseConfig({ functions }), log: captureLog('warn').logger, kv: store });
  runtimes.push(rt);
  return rt;
}

describe('env.kv and cached() through FunctionRuntime', () => {
  test('a MemoryKvStore behind the runtime: env.kv round-trips under "kv:", cached() under "cached:NAME:"', async () => {
    const store = new MemoryKvStore();
    const rt = await startRuntime(store, ['kvfn', 'other']);
    await serve(rt, 'kvfn', 'kv-set/greeting/hello');
    // env.kv is shared by every function of the gateway: an inventory written once is read by all.
    expect((await serve(rt, 'other', 'kv-get/greeting')).value).toBe('hello');
    expect(Buffer.from((await store.get('kv:greeting'))!).toString()).toBe('hello');
    const a = await serve(rt, 'kvfn', 'cached/cfg');
    expect((await serve(rt, 'kvfn', 'cached/cfg')).value).toBe(a.value);
    const b = await serve(rt, 'other', 'cached/cfg');
    expect(b.value).not.toBe(a.value);
    expect(await store.get('cached:kvfn:cfg')).toBeDefined();
    expect(await store.get('cached:other:cfg')).toBeDefined();
  });

  test('a store that is down behind the runtime: the function still answers', async () => {
    const rt = await startRuntime(new DownKvStore());
    await serve(rt, 'kvfn', 'kv-set/greeting/hello');
    expect((await serve(rt, 'kvfn', 'kv-get/greeting')).value).toBeNull();
    const first = await serve(rt, 'kvfn', 'cached/cfg');
    expect((await serve(rt, 'kvfn', 'cached/cfg')).value).not.toBe(first.value);
  });
});

describe('two gateways sharing a real redis-server', () => {
  let redis: TestRedis;
  const stores: RedisKvStore[] = [];
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await redis?.cleanup();
  });

  async function redisStore(): Promise<RedisKvStore> {
    const store = new RedisKvStore({ url: redis.url, logger: captureLog().logger });
    stores.push(store);
    expect(await eventually(() => store.available, 5000, 10)).toBe(true);
    return store;
  }

  test('env.kv written through one runtime is read through the other; cached() is shared too', async () => {
    const one = await startRuntime(await redisStore());
    const two = await startRuntime(await redisStore());
    await serve(one, 'kvfn', 'kv-set/greeting/from-one');
    expect((await serve(two, 'kvfn', 'kv-get/greeting')).value).toBe('from-one');
    // The full Redis key: the gateway's prefix, then the env.kv namespace.
    expect(String(await redis.cli('GET', 'tftpfn:kv:greeting'))).toBe('from-one');
    await redis.cli('SET', 'tftpfn:kv:greeting', 'edited in redis');
    expect((await serve(one, 'kvfn', 'kv-get/greeting')).value).toBe('edited in redis');

    const a = await serve(one, 'kvfn', 'cached/cfg');
    expect((await serve(two, 'kvfn', 'cached/cfg')).value).toBe(a.value);
    const ttl = (await redis.cli('TTL', 'tftpfn:cached:kvfn:cfg')) as number;
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60);
  });
});
