/**
 * The fleet source on the real RedisControlPlane (issue 12), on each Redis topology a fleet may
 * use (a single server, a Sentinel-managed master, a 3-master Cluster; test/helpers/
 * redis-topology.ts) and an S3-protocol server (s3rver) on loopback. The gateway opens the
 * control plane from its own config (control/open.ts, the one `redisUrl`, redis-sentinel:// or
 * redis-cluster:// included), as `tftpfn serve` does, and a second RedisControlPlane plays the
 * deployer.
 *
 * On each topology: a version live at start is loaded before startGateway returns; a deploy and
 * a rollback are served within 2 s; a canary splits by MAC; env.kv and the stats sink use the same
 * topology; the function gets its secret (it serves a digest of it) while no line the gateway
 * logs (nor a session record, nor a cache file) holds the value, not even the lines the
 * function itself tries to leak it through; and a gateway started while the bucket is down
 * (Redis up; connections refused, and on the single server also a hung s3rver) serves its cached version, says so in one line, reports the bucket on /readyz, and
 * a deploy after the bucket returns reaches it and ends the degraded state. Then, per topology,
 * what only it can do: a single server stopped (a restart serves the cache, and a deploy after
 * it returns empty reaches the gateway), a Sentinel failover (the gateway follows the promoted
 * replica). Each runs last in its group: both lose the data the others wrote.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { beforeAll, describe, expect, test } from 'vitest';
import { get } from '../../client/index.js';
import { RedisControlPlane } from '../../gateway/src/control/redis-control.js';
import { startGateway, type RunningGateway } from '../../gateway/src/index.js';
import { S3ObjectStore } from '../../gateway/src/objects/s3-store.js';
import { connectRedis } from '../../gateway/src/redis/connection.js';
import { bundleFunction } from '../../gateway/src/runtime/bundle.js';
import { picksCanary } from '../../gateway/src/runtime/canary-pick.js';
import { captureLog, FIXTURES } from '../helpers/functions.js';
import { sandboxHosts } from '../helpers/sandbox-processes.js';
import { eventually, scratch } from '../helpers/scratch.js';
import type { TestRedis } from '../helpers/redis-server.js';
import type { TestSentinel } from '../helpers/redis-sentinel.js';
import { startS3rver, type TestS3rver } from '../helpers/s3rver.js';
import { REDIS_TOPOLOGIES, startTopology, type TestTopology } from '../helpers/redis-topology.js';

/**
 * Serves its version and a digest of its TOKEN secret (never the value). `…/leak` tries every way
 * a function can put the secret into the gateway's log: env.log (message and fields), console,
 * and an error thrown with it. `…/kv/WORD` writes WORD to env.kv and serves what it reads back.
 */
const SOURCE = `import { text, type Handler } from 'tftpfn/sdk';
export const handle: Handler = async (request, env) => {
  const token = env.secrets.TOKEN ?? '';
  if (request.path.includes('/kv/')) {
    await env.kv.set('fleet-word', request.path.split('/').pop() ?? '');
    return text(\`kv \${await env.kv.get('fleet-word')}\n\`);
  }
  if (request.path.endsWith('leak')) {
    env.log.info({ token, nested: { token } }, \`the token is \${token}\`);
    console.log('token on the console:', token);
    throw new Error(\`refusing with token \${token}\`);
  }
  const hash = Buffer.from(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token))).toString('hex').slice(0, 16);
  return text(\`__VERSION__ \${token.length}:\${hash}\\n\`);
};
`;
/** What the function serves for a secret: its length and the start of its sha256. */
const digest = (secret: string) => `${secret.length}:${createHash('sha256').update(secret).digest('hex').slice(0, 16)}`;
const KEY_HEX = 'ef'.repeat(32);
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

/** Every file under `dir`, for a look at what the disk cache holds. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

const { temp, defer } = scratch({ ignoreCloseErrors: true });
// One s3rver for the file, each topology in its own bucket; deferred first, so it stops last.
let bucketServer: Promise<TestS3rver> | undefined;
const s3rver = (): Promise<TestS3rver> =>
  (bucketServer ??= startS3rver().then((s) => {
    defer(() => s.stop());
    return s;
  }));

describe.each(REDIS_TOPOLOGIES)('fleet source on %s Redis and the bucket', (kind) => {
  let topo: TestTopology;
  let s3: TestS3rver;
  const bucket = `fleet-${kind}`;
  beforeAll(async () => {
    [topo, s3] = await Promise.all([startTopology(kind), s3rver()]);
    defer(() => topo.cleanup());
    await s3.createBucket(bucket);
  }, 120_000);

  const deployer = () => {
    const cp = new RedisControlPlane({
      redis: connectRedis(topo.url, { commandTimeoutMs: 2000, connectTimeoutMs: 2000 }, { down() {}, up() {} }),
      bucket: new S3ObjectStore(s3.clientOptions),
      bucketName: bucket,
      prefix: PREFIX,
      secretsKey: Buffer.from(KEY_HEX, 'hex'),
    });
    defer(() => cp.close());
    return cp;
  };

  /** A gateway following the control plane on this topology, serving `fn` under `fn/**`. */
  const start = async (
    id: string,
    fn: string,
    cacheDir: string,
    logger?: Logger,
    { statsToRedis = false, isolation = 'thread' as 'thread' | 'process' } = {},
  ): Promise<RunningGateway> => {
    const g = await startGateway({
      config: {
        hosts: ['127.0.0.1'],
        port: 0,
        root: temp('fleet-redis-root-'),
        gatewayId: `${kind}-${id}`,
        redisUrl: topo.url,
        ...s3.gatewayConfig,
        statsToRedis,
        controlBucket: bucket,
        controlPrefix: PREFIX,
        controlCacheDir: cacheDir,
        controlPollMs: 500,
        secretsKey: KEY_HEX,
        routes: [{ match: `${fn}/**`, function: fn }],
        functions: { [fn]: { poolSize: 1, isolation } },
      },
      logger: logger ?? pino({ level: process.env.TFTPFN_TEST_LOG ?? 'silent' }),
    });
    defer(() => g.close(0));
    return g;
  };
  const fetchText = async (g: RunningGateway, path: string) => (await get({ host: '127.0.0.1', port: g.port, path, timeoutMs: 300, retries: 5 })).data!.toString('utf8').trim();
  const acked = (cp: RedisControlPlane, fn: string, gateway: string, version: string) =>
    eventually(async () => (await cp.acks(fn)).some((a) => a.gateway === `${kind}-${gateway}` && a.ok && a.serving[0] === version), 15_000);

  test('loaded before ready; a deploy, a canary by MAC and a rollback reach the gateway; the secret reaches the function and never its log', { timeout: 120_000 }, async () => {
    const cp = deployer();
    const secret = randomBytes(18).toString('base64url'); // 24 characters, unlike anything else logged
    const v1 = await cp.publish('hello', await bundle('one'));
    await cp.putSecret('hello', 'TOKEN', secret);
    await cp.setRollout('hello', { stable: v1.id });
    const cacheDir = temp('fleet-redis-cache-');
    const log = captureLog('trace');
    // Everything on the one redisUrl of this topology: control plane, env.kv, the stats sink; and
    // the function in sandboxed processes, the default (its console reaches the log through a pipe).
    const g = await start('gw-1', 'hello', cacheDir, log.logger, { statsToRedis: true, isolation: 'process' });
    const served = `${digest(secret)}`;

    // Loaded before ready: no waiting.
    expect(g.ready()).toEqual({ ready: true, reasons: [] });
    expect(g.functions!.status()[0]).toMatchObject({ name: 'hello', source: 'fleet', version: v1.id });
    expect(await fetchText(g, 'hello/x')).toBe(`one ${served}`);
    expect(await acked(cp, 'hello', 'gw-1', v1.id)).toBe(true);

    // A deploy: served within 2 s of setRollout returning (the issue's figure).
    const v2 = await cp.publish('hello', await bundle('two'));
    await cp.setRollout('hello', { stable: v2.id });
    const t0 = Date.now();
    expect(await eventually(async () => (await fetchText(g, 'hello/x')) === `two ${served}`, 2000)).toBe(true);
    console.log(`fleet-source-redis (${kind}): deploy served ${Date.now() - t0} ms after setRollout returned`);
    expect((await cp.liveGateways()).map((p) => p.gateway)).toContain(`${kind}-gw-1`);

    // A canary at 30% by MAC: each MAC gets the version its hash picks.
    await cp.setRollout('hello', { stable: v1.id, canary: { version: v2.id, percent: 30 } });
    expect(await eventually(async () => (await cp.acks('hello')).some((a) => a.gateway === `${kind}-gw-1` && a.revision === 3 && a.ok), 5000)).toBe(true);
    for (let i = 0; i < 30; i++) {
      const mac = `52:54:00:00:02:${i.toString(16).padStart(2, '0')}`;
      expect((await fetchText(g, `hello/${mac}/boot.ipxe`)).split(' ')[0]).toBe(picksCanary(`mac:${mac}`, 'hello', 30) ? 'two' : 'one');
    }
    // A rollback: within 2 s.
    await cp.setRollout('hello', { stable: v1.id });
    const t1 = Date.now();
    expect(await eventually(async () => (await fetchText(g, 'hello/01-52-54-00-00-02-01')) === `one ${served}`, 2000)).toBe(true);
    console.log(`fleet-source-redis (${kind}): rollback served ${Date.now() - t1} ms after setRollout returned`);

    // env.kv and the stats sink follow the same topology: the key and the session record are in it.
    expect(await fetchText(g, `hello/kv/${kind}-word`)).toBe(`kv ${kind}-word`);
    expect(((await topo.cli('KEYS', '*fleet-word*')) as Buffer[]).length).toBeGreaterThan(0);
    const sessions = async () => ((await topo.cli('XRANGE', 'tftpfn:sessions', '-', '+')) as [Buffer, Buffer[]][]).map(([, fields]) => fields.map(String).join(' '));
    expect(await eventually(async () => (await sessions()).some((e) => e.includes(`gateway ${kind}-gw-1 `) && e.includes(`file hello/kv/${kind}-word `)), 10_000)).toBe(true);

    // The function tries to log the secret three ways and fails the request with it.
    const refused = await get({ host: '127.0.0.1', port: g.port, path: 'hello/leak', timeoutMs: 300, retries: 5 }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(refused?.message).toBeDefined();
    expect(refused!.message).not.toContain(secret);
    // Its lines did reach the log (redacted), so the log looked at is the one they go to.
    // (console output is a functionLog line from a sandboxed process, functionOutput from a thread)
    const line = (msg: string) => log.lines.find((l) => (l.event === 'functionLog' || l.event === 'functionOutput') && l.msg === msg);
    expect(await eventually(() => line('the token is [redacted]') !== undefined && line('token on the console: [redacted]') !== undefined, 5000)).toBe(true);
    expect(line('the token is [redacted]')).toMatchObject({ token: '[redacted]', nested: { token: '[redacted]' } });
    expect(await eventually(() => log.lines.some((l) => l.event === 'session' && l.file === 'hello/leak' && (l.err as { message?: string })?.message === 'refusing with token [redacted]'), 5000)).toBe(true);
    // Nowhere in any line the gateway logged: not the value, nor the fleet's secrets key.
    expect(log.lines.length).toBeGreaterThan(10);
    expect(log.text()).not.toContain(secret);
    expect(log.text()).not.toContain(KEY_HEX);
    // Nor in the session records shipped to Redis (the failed one carries the redacted error).
    expect(await eventually(async () => (await sessions()).some((e) => e.includes('file hello/leak ')), 10_000)).toBe(true);
    expect((await sessions()).join('\n')).not.toContain(secret);
    // Nor in what `ps` shows of the sandboxed processes: their command lines and environments.
    const hosts = sandboxHosts(process.pid);
    expect(hosts.length).toBeGreaterThan(0);
    for (const pid of hosts) {
      for (const what of ['cmdline', 'environ']) expect(readFileSync(`/proc/${pid}/${what}`).includes(Buffer.from(secret)), `${pid} ${what}`).toBe(false);
    }
    // Nor on its disk: the cache keeps the secret sealed.
    const cached = filesUnder(cacheDir);
    expect(cached.some((f) => f.endsWith('secrets.enc'))).toBe(true);
    for (const f of cached) expect(readFileSync(f).includes(Buffer.from(secret)), f).toBe(false);
    await g.close(0);
  });

  // Refused connections on every topology; a bucket that accepts and never answers (SIGSTOP) on one.
  const bucketOutages = kind === 'single' ? (['refusing', 'hung'] as const) : (['refusing'] as const);
  test.each(bucketOutages)('started while the bucket is down (%s; Redis up): serves the cached version, says so once, names the bucket on /readyz, and a deploy after it returns ends that', { timeout: 180_000 }, async (how) => {
    const outage = how === 'hung' ? { stop: async () => s3.pause(), back: async () => s3.resume() } : { stop: () => s3.halt(), back: () => s3.restart() };
    // Only this test's function in the control plane: the gateways follow every function it knows.
    await topo.cli('FLUSHALL');
    const cp = deployer();
    const v1 = await cp.publish('boot', await bundle('one'));
    await cp.putSecret('boot', 'TOKEN', 'boot-token');
    await cp.setRollout('boot', { stable: v1.id });
    const served = digest('boot-token');
    const cacheDir = temp('fleet-bucket-cache-');
    // A gateway caches v1 on disk, and stops.
    const first = await start('gw-b1', 'boot', cacheDir);
    expect(await fetchText(first, 'boot/x')).toBe(`one ${served}`);
    expect(await acked(cp, 'boot', 'gw-b1', v1.id)).toBe(true);
    await first.close(0);
    // Published now (the bucket is needed for that), rolled out later while the bucket is down.
    const v2 = await cp.publish('boot', await bundle('two'));
    await outage.stop();

    // The rollout names v1, which the disk has: served, and the bucket's state is reported.
    const logB = captureLog('trace');
    let t0 = Date.now();
    const b = await start('gw-b2', 'boot', cacheDir, logB.logger);
    console.log(`fleet-source-redis (${kind}): start with the bucket ${how} (its version on disk) took ${Date.now() - t0} ms`);
    expect(await fetchText(b, 'boot/x')).toBe(`one ${served}`);
    const bundleKey = `s3://${bucket}/${PREFIX}functions/boot/`;
    const degradedB = b.ready();
    expect(degradedB.ready).toBe(true);
    expect(degradedB.reasons).toHaveLength(1);
    expect(degradedB.reasons[0]).toMatch(/^degraded: serving cached versions of boot: the control plane cannot deliver their bundles \(.+\)$/);
    expect(degradedB.reasons[0]).toContain(bundleKey);
    const saidB = logB.lines.filter((l) => l.event === 'controlPlaneDegraded');
    expect(saidB).toHaveLength(1);
    expect(String(saidB[0].msg)).toContain(bundleKey);
    expect(String(saidB[0].msg)).toContain(`serving the versions cached in ${cacheDir}: boot@${v1.id}`);
    expect(saidB[0].functions).toEqual(['boot']);

    // v2 rolled out while the bucket is down: b cannot fetch it and goes on with v1, and a
    // gateway started now serves v1 from the disk rather than nothing.
    await cp.setRollout('boot', { stable: v2.id });
    expect(await eventually(async () => (await cp.acks('boot')).some((a) => a.gateway === `${kind}-gw-b2` && a.revision === 2 && !a.ok && a.error?.includes(bundleKey) === true), 15_000)).toBe(true);
    expect(await fetchText(b, 'boot/x')).toBe(`one ${served}`);
    const logC = captureLog('trace');
    t0 = Date.now();
    const c = await start('gw-b3', 'boot', cacheDir, logC.logger);
    console.log(`fleet-source-redis (${kind}): start with the bucket ${how} (a newer version not on disk) took ${Date.now() - t0} ms`);
    expect(await fetchText(c, 'boot/x')).toBe(`one ${served}`);
    expect(c.ready().reasons).toHaveLength(1);
    expect(c.ready().reasons[0]).toContain(bundleKey);
    expect(c.ready().reasons[0]).toContain(v2.id);
    const saidC = logC.lines.filter((l) => l.event === 'controlPlaneDegraded');
    expect(saidC).toHaveLength(1);
    expect(String(saidC[0].msg)).toContain(`serving the versions cached in ${cacheDir}: boot@${v1.id}`);
    // The heartbeat carries it too: `tftpfn deploy` shows the gateway degraded.
    expect(await eventually(async () => (await cp.liveGateways()).some((p) => p.gateway === `${kind}-gw-b3` && p.degraded?.includes(bundleKey) === true), 15_000)).toBe(true);

    // The bucket returns; a new deploy reaches both, and the degraded state ends.
    await outage.back();
    const v3 = await cp.publish('boot', await bundle('three'));
    await cp.setRollout('boot', { stable: v3.id });
    for (const g of [b, c]) {
      expect(await eventually(async () => (await fetchText(g, 'boot/x')) === `three ${served}`, 15_000)).toBe(true);
      expect(await eventually(() => g.ready().reasons.length === 0, 15_000)).toBe(true);
    }
    expect(await acked(cp, 'boot', 'gw-b2', v3.id)).toBe(true);
    expect(await acked(cp, 'boot', 'gw-b3', v3.id)).toBe(true);
  });

  if (kind === 'single') {
    test('Redis stopped: a restarted gateway serves its cached version, degraded; a deploy after Redis returns (empty) reaches it', { timeout: 120_000 }, async () => {
      const redis = topo.server as TestRedis;
      let cp = deployer();
      const v1 = await cp.publish('restart', await bundle('one'));
      await cp.putSecret('restart', 'TOKEN', 'tok');
      await cp.setRollout('restart', { stable: v1.id });
      const cacheDir = temp('fleet-redis-cache-');
      let g = await start('gw-r1', 'restart', cacheDir);
      expect(await fetchText(g, 'restart/x')).toBe(`one ${digest('tok')}`);
      expect(await acked(cp, 'restart', 'gw-r1', v1.id)).toBe(true);

      // Redis goes away: the gateway goes on serving; restarted, it serves what it cached, degraded.
      await cp.close();
      await redis.stop();
      expect(await fetchText(g, 'restart/x')).toBe(`one ${digest('tok')}`);
      await g.close(0);
      const t1 = Date.now();
      g = await start('gw-r2', 'restart', cacheDir);
      console.log(`fleet-source-redis (${kind}): start with Redis down took ${Date.now() - t1} ms`);
      expect(g.ready()).toEqual({ ready: true, reasons: ['degraded: control plane unreachable, serving cached versions'] });
      expect(await fetchText(g, 'restart/x')).toBe(`one ${digest('tok')}`);

      // Redis returns (empty): the next deploy reaches the gateway, and the degraded state ends.
      await redis.start();
      // Reachable again, though it names no rollout: the cached version goes on, no longer degraded.
      expect(await eventually(() => g.ready().reasons.length === 0, 10_000)).toBe(true);
      expect(await fetchText(g, 'restart/x')).toBe(`one ${digest('tok')}`);
      cp = deployer();
      const v3 = await cp.publish('restart', await bundle('three'));
      await cp.putSecret('restart', 'TOKEN', 'tok3');
      await cp.setRollout('restart', { stable: v3.id });
      expect(await eventually(async () => (await fetchText(g, 'restart/x')) === `three ${digest('tok3')}`, 15_000)).toBe(true);
      expect(g.ready()).toEqual({ ready: true, reasons: [] });
      expect(await acked(cp, 'restart', 'gw-r2', v3.id)).toBe(true);
    });
  }

  if (kind === 'sentinel') {
    test('a Sentinel failover: the gateway follows the promoted replica, and a deploy after it reaches the gateway', { timeout: 120_000 }, async () => {
      const sentinel = topo.server as TestSentinel;
      const cp = deployer();
      const v1 = await cp.publish('failover', await bundle('one'));
      await cp.putSecret('failover', 'TOKEN', 'fo-token');
      await cp.setRollout('failover', { stable: v1.id });
      const g = await start('gw-s1', 'failover', temp('fleet-sentinel-cache-'));
      expect(await fetchText(g, 'failover/x')).toBe(`one ${digest('fo-token')}`);
      expect(await acked(cp, 'failover', 'gw-s1', v1.id)).toBe(true);

      const before = await sentinel.masterPort();
      const t0 = Date.now();
      const after = await sentinel.failover();
      console.log(`fleet-source-redis (${kind}): failover from port ${before} to ${after} took ${Date.now() - t0} ms`);
      expect(after).not.toBe(before);
      // Serving went on through it.
      expect(await fetchText(g, 'failover/x')).toBe(`one ${digest('fo-token')}`);

      // Written to the new master (the deployer follows the Sentinels too).
      const v2 = await cp.publish('failover', await bundle('two'));
      await cp.setRollout('failover', { stable: v2.id });
      const t1 = Date.now();
      expect(await eventually(async () => (await fetchText(g, 'failover/x')) === `two ${digest('fo-token')}`, 15_000)).toBe(true);
      console.log(`fleet-source-redis (${kind}): deploy after the failover served ${Date.now() - t1} ms after setRollout returned`);
      expect(await acked(cp, 'failover', 'gw-s1', v2.id)).toBe(true);
      expect(await eventually(() => g.ready().reasons.length === 0, 15_000)).toBe(true);
      expect(await eventually(async () => (await cp.liveGateways()).some((p) => p.gateway === `${kind}-gw-s1` && p.degraded === undefined), 15_000)).toBe(true);
    });
  }
});
