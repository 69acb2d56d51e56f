/**
 * What each Redis topology adds to the single-server contract (docs/REDIS.md): a duplicate
 * connection (the control plane's subscriber) receives pub/sub on each; a client given nodes
 * that are all down fails fast and reports the outage on each; the cache follows a Sentinel
 * failover with one warn and one info line; on a Cluster, every key a stats batch writes is in
 * the stream's slot; with one master of a Cluster lost, no cache call waits. The Redis-backed behaviour itself runs on all three in redis-kv,
 * stats-redis, cache-integrity-redis, cli-stats and cli-kv.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { connectRedis, duplicateRedis, type RedisClient } from '../../gateway/src/redis/connection.js';
import { RedisKvStore } from '../../gateway/src/cache/redis-kv.js';
import { RedisStatsSink } from '../../gateway/src/stats/redis-sink.js';
import type { SessionRecord } from '../../gateway/src/index.js';
import { captureLog, eventually } from '../helpers/functions.js';
import { freePort } from '../helpers/free-port.js';
import { startRedisSentinel, type TestSentinel } from '../helpers/redis-sentinel.js';
import type { TestCluster } from '../helpers/redis-cluster.js';
import { REDIS_TOPOLOGIES, startTopology, type RedisTopologyKind, type TestTopology } from '../helpers/redis-topology.js';

async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  if (!(await eventually(check, ms))) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

/** One server, Sentinel set or cluster of each kind per file, started when first asked for. */
const started = new Map<RedisTopologyKind, Promise<TestTopology>>();
const topology = (kind: RedisTopologyKind): Promise<TestTopology> => {
  if (!started.has(kind)) started.set(kind, startTopology(kind));
  return started.get(kind)!;
};
afterAll(async () => {
  await Promise.all([...started.values()].map(async (t) => (await t).cleanup()));
});

describe.each(REDIS_TOPOLOGIES)('redis topology %s', (kind) => {
  let topo: TestTopology;
  const clients: RedisClient[] = [];
  beforeAll(async () => {
    topo = await topology(kind);
  });
  afterAll(() => {
    for (const c of clients.splice(0)) c.disconnect();
  });

  test('connectRedis: a duplicate connection subscribes and receives what the first publishes; each reports up', async () => {
    const ups: string[] = [];
    const events = (name: string) => ({ down: () => undefined, up: () => void ups.push(name) });
    const main = connectRedis(topo.url, { connectTimeoutMs: 2000, commandTimeoutMs: 2000 }, events('main'));
    clients.push(main);
    await until(() => main.status === 'ready', 10_000, 'the first connection');
    const sub = duplicateRedis(main, events('sub'));
    clients.push(sub);
    // No offline queue: subscribe once the duplicate is ready.
    await until(() => sub.status === 'ready', 10_000, 'the duplicate');
    const got: string[] = [];
    sub.on('message', (channel: string, message: string) => void got.push(`${channel}=${message}`));
    await sub.subscribe('tftpfn:test:channel');
    // A publish before the subscription reaches the node is lost: publish until one arrives (bounded).
    for (let i = 0; i < 50 && got.length === 0; i++) {
      await main.publish('tftpfn:test:channel', `m${i}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(got.length).toBeGreaterThan(0);
    expect(got[0]).toMatch(/^tftpfn:test:channel=m\d+$/);
    expect(ups).toEqual(expect.arrayContaining(['main', 'sub']));
  });

  test('connectRedis: every node down, a command fails at once and down() reports the cause', async () => {
    const deadPorts = [await freePort(), await freePort()];
    const url =
      kind === 'single'
        ? `redis://127.0.0.1:${deadPorts[0]}/0`
        : kind === 'sentinel'
          ? `redis-sentinel://${deadPorts.map((p) => `127.0.0.1:${p}`).join(',')}/nobody`
          : `redis-cluster://${deadPorts.map((p) => `127.0.0.1:${p}`).join(',')}`;
    const downs: Error[] = [];
    const client = connectRedis(url, { connectTimeoutMs: 1000, commandTimeoutMs: 1000 }, { down: (e) => void downs.push(e), up: () => undefined });
    clients.push(client);
    const t0 = performance.now();
    await expect(client.get('x')).rejects.toThrow(/enableOfflineQueue/);
    expect(performance.now() - t0).toBeLessThan(50);
    await until(() => downs.length > 0, 5000, 'a down() call');
    expect(downs[0]).toBeInstanceOf(Error);
    expect(client.status).not.toBe('ready');
  });
});

describe('redis topology sentinel: failover', () => {
  let sentinel: TestSentinel;
  beforeAll(async () => {
    sentinel = await startRedisSentinel();
  });
  afterAll(async () => {
    await sentinel?.cleanup();
  });

  test('the cache follows a failover: bypassed while the master is gone, one warn and one info line, then writes reach the new master', async () => {
    const log = captureLog('info');
    const kv = new RedisKvStore({ url: sentinel.url, logger: log.logger, commandTimeoutMs: 500 });
    try {
      await until(() => kv.available, 10_000, 'the store connected through the Sentinels');
      await kv.set('before', Buffer.from('1'));
      expect(String(await sentinel.cli('GET', 'tftpfn:before'))).toBe('1');
      const oldPort = await sentinel.masterPort();
      const t0 = performance.now();
      const newPort = await sentinel.failover();
      const promotedMs = performance.now() - t0;
      expect(newPort).not.toBe(oldPort);
      // Meanwhile the store answered at once (a miss), never rejecting.
      expect(await kv.get('before')).toBeUndefined();
      await until(() => kv.available, 15_000, 'the store on the new master');
      const backMs = performance.now() - t0;
      console.log(`sentinel failover: replica promoted ${promotedMs.toFixed(0)} ms after the kill, cache available ${backMs.toFixed(0)} ms after it`);
      // The replica had the key before the kill: it serves it as the new master.
      expect(Buffer.from((await kv.get('before'))!).toString()).toBe('1');
      await kv.set('after', Buffer.from('2'));
      expect(String(await sentinel.cli('GET', 'tftpfn:after'))).toBe('2');
      const warns = log.lines.filter((l) => l.level === 40);
      const infos = log.lines.filter((l) => l.level === 30);
      expect(warns.map((l) => l.event)).toEqual(['redisUnavailable']);
      expect(infos.map((l) => l.event)).toEqual(['redisReconnected']);
    } finally {
      await kv.close();
    }
  });
});

describe('redis topology cluster: hash tags', () => {
  let topo: TestTopology;
  beforeAll(async () => {
    topo = await topology('cluster');
  });

  test('every key a stats batch writes (stream, counters, top sets, gateways hash) is in the stream key slot', async () => {
    const sink = new RedisStatsSink({
      url: topo.url,
      gatewayId: 'gw-slot',
      streamKey: 'tftpfn:sessions',
      maxLen: 1000,
      counterTtlSeconds: 600,
      bufferMax: 1000,
      flushMs: 20,
      logger: captureLog('silent').logger,
    });
    try {
      const endedAt = new Date().toISOString();
      for (let i = 0; i < 30; i++) {
        sink.push({
          id: `r${i}`,
          gateway: 'gw-slot',
          endedAt,
          peer: { address: `10.0.0.${i}`, port: 1000 + i, family: 'IPv4' },
          file: `f${i % 7}`,
          function: i % 2 ? 'grub' : undefined,
          outcome: i % 5 ? 'ok' : 'not-found',
          bytes: 512 * i,
          blocks: i + 1,
          retransmits: 0,
        } as unknown as SessionRecord);
      }
      await until(() => sink.stats.flushed === 30, 10_000, '30 records flushed');
      expect(sink.stats.flushErrors).toBe(0);
      const keys = ((await topo.cli('KEYS', 'tftpfn:*')) as Buffer[]).map(String);
      expect(keys).toContain('tftpfn:sessions');
      expect(keys.filter((k) => k.startsWith('tftpfn:stats:')).length).toBeGreaterThanOrEqual(6);
      const slots = new Set(await Promise.all(keys.map(async (k) => Number(await topo.cli('CLUSTER', 'KEYSLOT', k)))));
      expect([...slots]).toEqual([Number(await topo.cli('CLUSTER', 'KEYSLOT', 'tftpfn:sessions'))]);
      expect(await topo.cli('XLEN', 'tftpfn:sessions')).toBe(30);
    } finally {
      await sink.close();
    }
  });
});

describe('redis topology cluster: first commands', () => {
  test('once whenConnected() resolves, a burst of concurrent reads reaches every master: none is bypassed', async () => {
    const topo = await topology('cluster');
    const keys = Array.from({ length: 60 }, (_, i) => `burst-${i}`);
    for (const k of keys) expect(await topo.cli('SET', `tftpfn:${k}`, k)).toBe('OK');
    const kv = new RedisKvStore({ url: topo.url, logger: captureLog('silent').logger, commandTimeoutMs: 2000 });
    try {
      expect(await kv.whenConnected(10_000)).toBe(true);
      // ioredis connects a cluster's node lazily; with the offline queue off, a second command
      // to a node still connecting would be refused ('Connection is closed.').
      const got = await Promise.all(keys.map((k) => kv.get(k)));
      expect(got.map((v) => (v ? Buffer.from(v).toString() : undefined))).toEqual(keys);
      expect(kv.stats).toMatchObject({ hits: keys.length, bypassed: 0, errors: 0 });
    } finally {
      await kv.close();
    }
  });
});

describe('redis topology cluster: one master lost', () => {
  // Last in the file: it kills a master of the file's cluster (no replica takes over).
  test('the cache answers every call at once: keys on the lost master bypass, the others still hit', async () => {
    const topo = await topology('cluster');
    const cluster = topo.server as TestCluster;
    const log = captureLog('info');
    const commandTimeoutMs = 500;
    const kv = new RedisKvStore({ url: topo.url, logger: log.logger, commandTimeoutMs });
    try {
      await until(() => kv.available, 10_000, 'the store connected to the cluster');
      const keys = Array.from({ length: 30 }, (_, i) => `lost-${i}`);
      for (const k of keys) await kv.set(k, Buffer.from(k));
      expect(kv.stats.bypassed).toBe(0);
      await cluster.killNode(1);
      let rejected = 0;
      let worstMs = 0;
      const hitsBefore = kv.stats.hits;
      // Three rounds over 1 s: before the survivors mark the node failed (cluster-node-timeout 2 s).
      for (let round = 0; round < 3; round++) {
        for (const k of keys) {
          const t0 = performance.now();
          await kv.get(k).catch(() => void rejected++);
          worstMs = Math.max(worstMs, performance.now() - t0);
        }
        await new Promise((r) => setTimeout(r, 300));
      }
      console.log(`cluster, one master lost: worst call ${worstMs.toFixed(1)} ms, stats ${JSON.stringify(kv.stats)}`);
      expect(rejected).toBe(0);
      expect(worstMs).toBeLessThan(commandTimeoutMs / 2);
      expect(kv.stats.hits - hitsBefore).toBeGreaterThan(0);
      expect(kv.stats.bypassed).toBeGreaterThan(0);
    } finally {
      await kv.close();
    }
  });
});
