/**
 * The fleet source on the real RedisControlPlane (issue 12): a real redis-server and an
 * S3-protocol server (s3rver) on loopback; the gateway opens the control plane from its own
 * config (control/open.ts), as `tftpfn serve` does, and a second RedisControlPlane plays the
 * deployer. A version live at start is loaded before startGateway returns; a deploy is served
 * within 2 s; with Redis stopped a restarted gateway serves its cached version, degraded; when
 * Redis comes back (empty: the test server keeps no data) a new deploy reaches it. Then the same
 * deploy, canary and rollback on a 3-master Redis Cluster.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, test } from 'vitest';
import { get } from '../../client/index.js';
import { RedisControlPlane } from '../../gateway/src/control/redis-control.js';
import { startGateway, type RunningGateway } from '../../gateway/src/index.js';
import { S3ObjectStore } from '../../gateway/src/objects/s3-store.js';
import { connectRedis } from '../../gateway/src/redis/connection.js';
import { bundleFunction } from '../../gateway/src/runtime/bundle.js';
import { FIXTURES } from '../helpers/functions.js';
import { eventually, scratch } from '../helpers/scratch.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startS3rver, type TestS3rver } from '../helpers/s3rver.js';
import { startTopology } from '../helpers/redis-topology.js';
import { picksCanary } from '../../gateway/src/runtime/canary-pick.js';

const SOURCE = `import { text, type Handler } from 'tftpfn/sdk';
export const handle: Handler = (request, env) => text(\`__VERSION__ \${env.secrets.TOKEN ?? '-'}\\n\`);
`;
const KEY_HEX = 'ef'.repeat(32);
const BUCKET = 'fleet-test';
const PREFIX = 'ctl/';

async function bundle(version: string) {
  const src = join(FIXTURES, `.fleet-redis-${version}-${process.pid}.ts`);
  writeFileSync(src, SOURCE.replace('__VERSION__', version));
  try {
    const b = await bundleFunction(src);
    return { code: Buffer.from(b.code), sha256: b.sha256, author: 'test', settings: {} };
  } finally {
    rmSync(src, { force: true });
  }
}

const { temp, defer } = scratch({ ignoreCloseErrors: true });
let redis: TestRedis | undefined;
let s3: TestS3rver | undefined;
// Deferred first, so it runs after every other closer: the servers go last.
defer(async () => {
  await s3?.stop();
  await redis?.cleanup();
});

describe('fleet source on Redis and the bucket', () => {
  test('loaded before ready, a deploy in under 2 s, a restart while Redis is down serves the cache, and it catches up', { timeout: 120_000 }, async () => {
    [redis, s3] = await Promise.all([startRedis(), startS3rver()]);
    await s3.createBucket(BUCKET);
    const deployer = () =>
      new RedisControlPlane({
        redis: connectRedis(redis!.url, { commandTimeoutMs: 2000, connectTimeoutMs: 2000 }, { down() {}, up() {} }),
        bucket: new S3ObjectStore(s3!.clientOptions),
        bucketName: BUCKET,
        prefix: PREFIX,
        secretsKey: Buffer.from(KEY_HEX, 'hex'),
      });
    let cp = deployer();
    const v1 = await cp.publish('hello', await bundle('one'));
    await cp.putSecret('hello', 'TOKEN', 'tok');
    await cp.setRollout('hello', { stable: v1.id });

    const cacheDir = temp('fleet-redis-cache-');
    const start = async (id: string): Promise<RunningGateway> => {
      const g = await startGateway({
        config: {
          hosts: ['127.0.0.1'],
          port: 0,
          root: temp('fleet-redis-root-'),
          gatewayId: id,
          redisUrl: redis!.url,
          ...s3!.gatewayConfig,
          statsToRedis: false,
          controlBucket: BUCKET,
          controlPrefix: PREFIX,
          controlCacheDir: cacheDir,
          controlPollMs: 500,
          secretsKey: KEY_HEX,
          routes: [{ match: 'hello/**', function: 'hello' }],
          functions: { hello: { poolSize: 1, isolation: 'thread' } },
        },
        logger: pino({ level: process.env.TFTPFN_TEST_LOG ?? 'silent' }),
      });
      defer(() => g.close(0));
      return g;
    };
    const fetchText = async (g: RunningGateway, path = 'hello/x') => (await get({ host: '127.0.0.1', port: g.port, path, timeoutMs: 300, retries: 5 })).data!.toString('utf8').trim();

    // Loaded before ready: no waiting.
    let g = await start('gw-r1');
    expect(g.ready()).toEqual({ ready: true, reasons: [] });
    expect(g.functions!.status()[0]).toMatchObject({ name: 'hello', source: 'fleet', version: v1.id });
    expect(await fetchText(g)).toBe('one tok');
    expect(await eventually(async () => (await cp.acks('hello')).some((a) => a.gateway === 'gw-r1' && a.ok && a.revision === 1))).toBe(true);

    // A deploy: served within 2 s of setRollout returning.
    const v2 = await cp.publish('hello', await bundle('two'));
    await cp.setRollout('hello', { stable: v2.id });
    const t0 = Date.now();
    expect(await eventually(async () => (await fetchText(g)) === 'two tok', 2000)).toBe(true);
    console.log(`fleet-source-redis: deploy served ${Date.now() - t0} ms after setRollout returned`);
    expect((await cp.liveGateways()).map((p) => p.gateway)).toContain('gw-r1');

    // Redis goes away: the gateway goes on serving; restarted, it serves what it cached, degraded.
    await cp.close();
    await redis.stop();
    expect(await fetchText(g)).toBe('two tok');
    await g.close(0);
    const t1 = Date.now();
    g = await start('gw-r2');
    console.log(`fleet-source-redis: start with Redis down took ${Date.now() - t1} ms`);
    expect(g.ready()).toEqual({ ready: true, reasons: ['degraded: control plane unreachable, serving cached versions'] });
    expect(await fetchText(g)).toBe('two tok');

    // Redis returns (empty): the next deploy reaches the gateway, and the degraded state ends.
    await redis.start();
    // Reachable again, though it names no rollout: the cached version goes on, no longer degraded.
    expect(await eventually(() => g.ready().reasons.length === 0, 10_000)).toBe(true);
    expect(await fetchText(g)).toBe('two tok');
    cp = deployer();
    defer(() => cp.close());
    const v3 = await cp.publish('hello', await bundle('three'));
    await cp.putSecret('hello', 'TOKEN', 'tok3');
    await cp.setRollout('hello', { stable: v3.id });
    expect(await eventually(async () => (await fetchText(g)) === 'three tok3', 15_000)).toBe(true);
    expect(g.ready()).toEqual({ ready: true, reasons: [] });
    expect(await eventually(async () => (await cp.acks('hello')).some((a) => a.gateway === 'gw-r2' && a.ok && a.serving[0] === v3.id))).toBe(true);
  });

  test('on a 3-master Redis Cluster: loaded before ready, a deploy, a canary by MAC and a rollback reach the gateway', { timeout: 120_000 }, async () => {
    const [cluster, bucketServer] = await Promise.all([startTopology('cluster'), s3 ? Promise.resolve(s3) : startS3rver()]);
    defer(() => cluster.cleanup());
    s3 = bucketServer;
    await s3.createBucket(`${BUCKET}-cluster`).catch(() => {});
    const cp = new RedisControlPlane({
      redis: connectRedis(cluster.url, { commandTimeoutMs: 2000, connectTimeoutMs: 2000 }, { down() {}, up() {} }),
      bucket: new S3ObjectStore(s3.clientOptions),
      bucketName: `${BUCKET}-cluster`,
      prefix: PREFIX,
      secretsKey: Buffer.from(KEY_HEX, 'hex'),
    });
    defer(() => cp.close());
    const v1 = await cp.publish('hello', await bundle('one'));
    await cp.putSecret('hello', 'TOKEN', 'c');
    await cp.setRollout('hello', { stable: v1.id });
    const g = await startGateway({
      config: {
        hosts: ['127.0.0.1'],
        port: 0,
        root: temp('fleet-cluster-root-'),
        gatewayId: 'gw-c1',
        redisUrl: cluster.url,
        ...s3.gatewayConfig,
        statsToRedis: false,
        controlBucket: `${BUCKET}-cluster`,
        controlPrefix: PREFIX,
        controlCacheDir: temp('fleet-cluster-cache-'),
        secretsKey: KEY_HEX,
        routes: [{ match: 'hello/**', function: 'hello' }],
        functions: { hello: { poolSize: 1, isolation: 'thread' } },
      },
      logger: pino({ level: process.env.TFTPFN_TEST_LOG ?? 'silent' }),
    });
    defer(() => g.close(0));
    const fetchText = async (path = 'hello/x') => (await get({ host: '127.0.0.1', port: g.port, path, timeoutMs: 300, retries: 5 })).data!.toString('utf8').trim();
    expect(g.ready()).toEqual({ ready: true, reasons: [] });
    expect(await fetchText()).toBe('one c');

    const v2 = await cp.publish('hello', await bundle('two'));
    await cp.setRollout('hello', { stable: v2.id });
    const t0 = Date.now();
    expect(await eventually(async () => (await fetchText()) === 'two c', 2000)).toBe(true);
    console.log(`fleet-source-redis (cluster): deploy served ${Date.now() - t0} ms after setRollout returned`);

    await cp.setRollout('hello', { stable: v1.id, canary: { version: v2.id, percent: 30 } });
    expect(await eventually(async () => (await cp.acks('hello')).some((a) => a.gateway === 'gw-c1' && a.revision === 3 && a.ok), 5000)).toBe(true);
    for (let i = 0; i < 30; i++) {
      const mac = `52:54:00:00:02:${i.toString(16).padStart(2, '0')}`;
      expect((await fetchText(`hello/${mac}/boot.ipxe`)).split(' ')[0]).toBe(picksCanary(`mac:${mac}`, 'hello', 30) ? 'two' : 'one');
    }
    await cp.setRollout('hello', { stable: v1.id });
    expect(await eventually(async () => (await fetchText('hello/01-52-54-00-00-02-01')) === 'one c', 2000)).toBe(true);
  });
});
