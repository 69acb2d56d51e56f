/**
 * Issue 9 §3, attack by attack: a hostile function (test/fixtures/functions/hostile.ts) in the
 * default isolation ('process') tries everything that worked against worker threads: files,
 * the environment, the gateway's config, programs, signals, the network by every route, forged
 * messages, another function's cache. Each must fail with a clear reason, and the pool must
 * keep serving.
 */
import { chmodSync, existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { MAX_KV_INFLIGHT_PER_WORKER, WorkerPool, type FunctionKv, type FunctionResult, type PoolSpec } from '../../gateway/src/runtime/worker-pool.js';
import { FunctionFailure } from '../../gateway/src/runtime/function-failure.js';
import { functionKv } from '../../gateway/src/runtime/function-runtime.js';
import { MemoryKvStore } from '../../gateway/src/cache/memory-kv.js';
import { buildFixture, captureLog, fnRequest, type CapturedLog } from '../helpers/functions.js';

let hostile: string;
let kvBundle: string;
let pool: WorkerPool;
let log: CapturedLog;
let listener: Server;
let port: number;
let connections = 0;
const pools: WorkerPool[] = [];

function spec(over: Partial<PoolSpec> = {}): PoolSpec {
  return { name: 'hostile', version: 'v1', bundlePath: hostile, size: 2, heapMb: 64, timeoutMs: 1500, maxConcurrent: 100, vars: {}, secrets: { TOKEN: 'fn-secret-token' }, streamHighWaterBytes: 256 * 1024, ...over };
}

async function startPool(over: Partial<PoolSpec> = {}, l = captureLog()): Promise<WorkerPool> {
  const p = new WorkerPool(spec(over), l.logger);
  pools.push(p);
  await p.start();
  return p;
}

function body(r: FunctionResult): string {
  if (r.kind !== 'bytes') throw new Error(`expected bytes, got ${r.kind}`);
  return Buffer.from(r.body).toString();
}

/** Runs an attack that must fail; returns the reason the function's log line carries. */
async function refused(path: string, options: Record<string, string> = {}, on = pool): Promise<FunctionFailure> {
  const outcome = await on.invoke(fnRequest(path, { port: String(port), ...options })).then(
    (r) => ({ succeeded: r.kind === 'bytes' ? body(r).slice(0, 200) : r.kind }),
    (e: unknown) => ({ failed: e as { cause?: unknown } }),
  );
  if ('succeeded' in outcome) throw new Error(`attack ${path} succeeded: ${outcome.succeeded}`);
  expect(outcome.failed.cause).toBeInstanceOf(FunctionFailure);
  return outcome.failed.cause as FunctionFailure;
}

const DENIED = /Access to this API has been restricted|is not available to a function: it runs in a sandbox/;

beforeAll(async () => {
  process.env.TFTPFN_TEST_AWS_SECRET_ACCESS_KEY = 'gateway-aws-secret';
  hostile = await buildFixture('hostile');
  kvBundle = await buildFixture('kv');
  listener = createServer((s) => {
    connections++;
    s.destroy();
  });
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  port = (listener.address() as { port: number }).port;
  log = captureLog();
  pool = await startPool({}, log);
});

afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
  listener?.close();
});

describe('files, the environment and the gateway config', () => {
  test('/etc/passwd, /proc/self/environ, the gateway process environ and cmdline are unreadable', async () => {
    for (const path of ['read-file', 'read-environ', 'read-parent-environ', 'read-parent-cmdline']) {
      const why = await refused(path);
      expect(why.kind, path).toBe('threw');
      expect(why.message, path).toMatch(DENIED);
    }
  });

  test("the config file with every function's secrets is unreadable, wherever it is", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tftpfn-config-'));
    const config = join(dir, 'gateway.json');
    writeFileSync(config, JSON.stringify({ functions: { other: { secrets: { TOKEN: 'other-secret' } } } }));
    expect((await refused('read-file', { file: config })).message).toMatch(DENIED);
  });

  test('allowRead opens exactly the paths it names (an inventory file), nothing beside them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tftpfn-allow-'));
    chmodSync(dir, 0o755); // the sandbox user (nobody, under root) must reach it
    const inventory = join(dir, 'inventory.json');
    const beside = join(dir, 'secrets.json');
    writeFileSync(inventory, '{"machines":{}}');
    writeFileSync(beside, '{"TOKEN":"x"}');
    const p = await startPool({ allowRead: [inventory] });
    expect(body(await p.invoke(fnRequest('read-file', { file: inventory })))).toBe('{"machines":{}}');
    expect((await refused('read-file', { file: beside }, p)).message).toMatch(DENIED);
  });

  test('process.env holds nothing of the gateway environment', async () => {
    const env = JSON.parse(body(await pool.invoke(fnRequest('env')))) as Record<string, string>;
    expect(JSON.stringify(env)).not.toContain('gateway-aws-secret');
    expect(Object.keys(env).filter((k) => !['TZ', 'LANG', 'LC_ALL', 'NODE_ENV', 'PWD'].includes(k))).toEqual([]);
  });

  test('writing a file or filling the disk is refused, and nothing is written', async () => {
    const target = join(mkdtempSync(join(tmpdir(), 'tftpfn-write-')), 'owned.txt');
    expect((await refused('write-file', { file: target })).message).toMatch(DENIED);
    expect((await refused('fill-disk', { file: target })).message).toMatch(DENIED);
    expect(existsSync(target)).toBe(false);
    // Writers the permission model does not see: trace files into a writable working folder, V8 flags such as --prof.
    const writable = mkdtempSync(join(tmpdir(), 'tftpfn-trace-'));
    chmodSync(writable, 0o777);
    expect((await refused('trace-events', { file: writable })).message).toMatch(DENIED);
    expect((await refused('v8-flags')).message).toMatch(DENIED);
    await new Promise((r) => setTimeout(r, 200));
    expect(readdirSync(writable)).toEqual([]);
  });

  test('when the gateway runs as root, the function runs as nobody', async () => {
    const who = JSON.parse(body(await pool.invoke(fnRequest('whoami')))) as { uid: number; pid: number; ppid: number };
    if (process.getuid?.() === 0) expect(who.uid).not.toBe(0);
    else expect(who.uid).toBe(process.getuid?.());
    expect(who.pid).not.toBe(process.pid);
  });
});

describe('programs and signals', () => {
  test('child_process (import and require), worker threads and addons are refused', async () => {
    for (const path of ['spawn', 'spawn-require', 'worker', 'addon']) {
      const why = await refused(path);
      expect(why.message, path).toMatch(/is not available to a function|Access to this API|addons is disabled/);
    }
  });

  test('signals to the gateway (kill, _kill, _debugProcess) are refused', async () => {
    for (const path of ['kill-parent', 'kill-raw', 'debug-parent']) expect((await refused(path)).message, path).toMatch(DENIED);
  });

  test('SIGKILL to itself ends only its own process; the pool replaces it and keeps serving', async () => {
    const l = captureLog();
    const p = await startPool({}, l);
    const why = await refused('kill-self', { signal: 'SIGKILL' }, p);
    expect(why.kind).toBe('worker-crashed');
    expect(why.message).toMatch(/killed by SIGKILL/);
    expect(body(await p.invoke(fnRequest('ok')))).toBe('ok');
    expect(p.stats.crashes).toBeGreaterThanOrEqual(1);
  });

  test('SIGSTOP to itself freezes only its own process: the call times out, the stopped process is killed and replaced', async () => {
    const p = await startPool({ timeoutMs: 500 });
    const started = performance.now();
    const stopped = refused('stop-self', {}, p);
    // While one process is stopped, the other serves.
    expect(body(await p.invoke(fnRequest('ok')))).toBe('ok');
    const why = await stopped;
    expect(why.kind).toBe('timeout');
    expect(performance.now() - started).toBeLessThan(5000);
    for (let i = 0; i < 100 && p.stats.crashes < 1; i++) await new Promise((r) => setTimeout(r, 20));
    expect(p.stats.crashes).toBeGreaterThanOrEqual(1);
    expect(body(await p.invoke(fnRequest('ok')))).toBe('ok');
  });
});

describe('the network, by every route', () => {
  test('net, tls, http, udp, dns, fetch, WebSocket, the socket class, process.binding and Unix sockets all fail; nothing connects', async () => {
    const routes = ['net-import', 'net-require', 'net-builtin', 'net-socket-class', 'tcp-wrap', 'http', 'tls', 'fetch', 'websocket', 'udp', 'dns', 'unix-socket'];
    for (const path of routes) {
      const why = await refused(path, { file: '/var/run/redis.sock' });
      expect(why.message, path).toMatch(DENIED);
    }
    expect(connections).toBe(0);
  });
});

describe('the channel to the gateway', () => {
  test('a forged frame (4 GiB length) kills only that process, before the gateway buffers it', async () => {
    const l = captureLog();
    const p = await startPool({}, l);
    const why = await refused('forge-frame', {}, p);
    expect(why.kind).toBe('worker-crashed');
    expect(why.message).toMatch(/exceeds the limit/);
    expect(body(await p.invoke(fnRequest('ok')))).toBe('ok');
  });
});

describe('kv and cache namespaces', () => {
  test("a function cannot read or overwrite another function's cached() entries, even naming their store keys", async () => {
    const store = new MemoryKvStore();
    const mk = (name: string) => startPool({ name, bundlePath: kvBundle, kv: functionKv(store, name), secrets: {} });
    const alice = await mk('alice');
    const mallory = await mk('mallory');
    const answer = async (p: WorkerPool, path: string) => JSON.parse(body(await p.invoke(fnRequest(path)))) as { value: string };
    const a1 = (await answer(alice, 'cached/boot')).value;
    const m1 = (await answer(mallory, 'cached/boot')).value;
    expect(m1).not.toBe(a1);
    // Mallory writes where alice's entry lives in the store: the gateway puts it under kv:, not cached:alice:.
    await answer(mallory, 'kv-set/cached:alice:boot/poisoned');
    expect((await answer(alice, 'cached/boot')).value).toBe(a1);
    expect(Buffer.from((await store.get('kv:cached:alice:boot'))!).toString()).toBe('poisoned');
  });
});

describe('the store behind env.kv', () => {
  test('a flood of kv calls keeps at most MAX_KV_INFLIGHT_PER_WORKER waiting on the store; the rest are misses', async () => {
    let inflight = 0;
    let peak = 0;
    // The store answers nothing until every call has either reached it or been refused, so
    // the count does not depend on how fast a loaded machine delivers the flood.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow: FunctionKv = async () => {
      peak = Math.max(peak, ++inflight);
      await gate;
      inflight--;
      return undefined;
    };
    const p = await startPool({ size: 1, kv: slow, timeoutMs: 20_000 });
    const invoked = p.invoke(fnRequest('kv-flood', { n: '5000' }));
    for (let i = 0; i < 400 && (p.stats.kvRefused ?? 0) + inflight < 5000; i++) await new Promise((r) => setTimeout(r, 25));
    release();
    expect(body(await invoked)).toBe('asked 5000');
    expect(peak).toBeLessThanOrEqual(MAX_KV_INFLIGHT_PER_WORKER);
    expect(p.stats.kvRefused).toBeGreaterThanOrEqual(5000 - MAX_KV_INFLIGHT_PER_WORKER);
  });
});

describe("isolation 'thread' (trusted code) keeps the old behaviour", () => {
  test('runs in the gateway process, where files are readable: the opt-out is real', async () => {
    const p = await startPool({ isolation: 'thread' });
    const who = JSON.parse(body(await p.invoke(fnRequest('whoami')))) as { pid: number };
    expect(who.pid).toBe(process.pid);
    expect(body(await p.invoke(fnRequest('read-file', { file: hostile })))).toContain('hostile');
  });
});
