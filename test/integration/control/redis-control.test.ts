/**
 * The control plane contract (contract.ts) against RedisControlPlane on a real redis-server
 * and a real s3rver, plus what only Redis has: the key layout (one hash tag per function), the
 * pub/sub announcement, and the subscriber catching up after a Redis restart.
 */
import { ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlPlaneError, type ControlPlane } from '../../../gateway/src/control/control-plane.js';
import { functionKeys } from '../../../gateway/src/control/keys.js';
import { RedisControlPlane } from '../../../gateway/src/control/redis-control.js';
import { S3ObjectStore } from '../../../gateway/src/objects/s3-store.js';
import { connectRedis } from '../../../gateway/src/redis/connection.js';
import { startRedis, type TestRedis } from '../../helpers/redis-server.js';
import { startTopology, type RedisTopologyKind } from '../../helpers/redis-topology.js';
import { startS3rver, type TestS3rver } from '../../helpers/s3rver.js';
import { bundle, controlPlaneContract, KEY } from './contract.js';

const BUCKET = 'tftpfn-control';
const PREFIX = 'fleet/';

let redis: TestRedis;
let s3: TestS3rver;
let admin: S3Client;

function openPlane(secretsKey?: Uint8Array, url: string = redis.url): RedisControlPlane {
  const client = connectRedis(url, { commandTimeoutMs: 2000, connectTimeoutMs: 2000 }, { down() {}, up() {} });
  return new RedisControlPlane({ redis: client, bucket: new S3ObjectStore(s3.clientOptions), bucketName: BUCKET, prefix: PREFIX, secretsKey });
}

async function bundleKeysOf(name: string): Promise<string[]> {
  const r = await admin.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${PREFIX}functions/${name}/` }));
  return (r.Contents ?? []).map((o) => o.Key!).sort();
}

beforeAll(async () => {
  redis = await startRedis();
  s3 = await startS3rver();
  await s3.createBucket(BUCKET);
  admin = new S3Client({ ...s3.clientOptions, maxAttempts: 1 });
});
afterAll(async () => {
  admin?.destroy();
  await s3?.stop();
  await redis?.cleanup();
});

controlPlaneContract('redis + s3', async () => ({
  make: async (opts) => openPlane(opts?.secretsKey),
  async storedCopies(name, sha256) {
    return (await bundleKeysOf(name)).filter((k) => k.includes(sha256) && k.endsWith('.mjs')).length;
  },
  async tamper(record) {
    const key = `${PREFIX}functions/${record.function}/${record.sha256}.mjs`;
    const body = Buffer.from(`export function handle() { return "evil"; }\n`);
    await admin.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
  },
  async storedSecretValues(name) {
    const reply = await redis.cli('HVALS', functionKeys(name).secrets);
    return (reply as Buffer[]).map((b) => b.toString());
  },
  childSpec: { kind: 'redis', url: redis.url, s3: s3.clientOptions, bucket: BUCKET, prefix: PREFIX },
  async cleanup() {},
}));

// The same contract on a Sentinel-managed master and on a 3-master Cluster (issue 12: the
// control plane must work on each; every key of a function shares one slot).
for (const kind of ['sentinel', 'cluster'] as RedisTopologyKind[]) {
  controlPlaneContract(`redis (${kind}) + s3`, async () => {
    const topology = await startTopology(kind);
    return {
      make: async (opts) => openPlane(opts?.secretsKey, topology.url),
      async storedCopies(name, sha256) {
        return (await bundleKeysOf(name)).filter((k) => k.includes(sha256) && k.endsWith('.mjs')).length;
      },
      async tamper(record) {
        const key = `${PREFIX}functions/${record.function}/${record.sha256}.mjs`;
        await admin.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: Buffer.from(`export function handle() { return "evil"; }\n`) }));
      },
      async storedSecretValues(name) {
        return ((await topology.cli('HVALS', functionKeys(name).secrets)) as Buffer[]).map((b) => b.toString());
      },
      childSpec: { kind: 'redis', url: topology.url, s3: s3.clientOptions, bucket: BUCKET, prefix: PREFIX },
      cleanup: () => topology.cleanup(),
    };
  });
}

describe('RedisControlPlane specifics', () => {
  const planes: ControlPlane[] = [];
  afterAll(async () => {
    for (const p of planes) await p.close();
  });

  it('keys: every key of a function carries its hash tag; bundles are content-addressed under the prefix', async () => {
    const plane = openPlane(KEY);
    planes.push(plane);
    const name = `keys-${process.pid}`;
    const input = bundle('k', { map: Buffer.from('{}') });
    const r = await plane.publish(name, input);
    await plane.setRollout(name, { stable: r.id });
    await plane.ack({ gateway: 'g1', function: name, revision: 1, serving: [r.id], ok: true, at: new Date().toISOString() });
    await plane.putSecret(name, 'S', 'v');
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = (await redis.cli('SCAN', cursor, 'MATCH', `*${name}*`, 'COUNT', 1000)) as [Buffer, Buffer[]];
      cursor = next.toString();
      keys.push(...batch.map((b) => b.toString()));
    } while (cursor !== '0');
    expect(keys.sort()).toEqual(
      ['acks', 'clock', 'rollout', 'secrets', `version:${r.id}`, 'versions'].map((s) => `tftpfn:ctl:{fn:${name}}:${s}`).sort(),
    );
    expect(await bundleKeysOf(name)).toEqual([`${PREFIX}functions/${name}/${input.sha256}.mjs`, `${PREFIX}functions/${name}/${input.sha256}.mjs.map`]);
    expect((await redis.cli('SISMEMBER', 'tftpfn:ctl:functions', name)) as number).toBe(1);
  });

  it('watch: a subscriber whose connection drops reconnects, reports every function once (messages meanwhile are lost), and hears new changes', async () => {
    const deployer = openPlane(KEY);
    const gateway = openPlane(KEY);
    planes.push(deployer, gateway);
    const name = `drop-${process.pid}`;
    const r = await deployer.publish(name, bundle('r'));
    const heard: string[] = [];
    gateway.watch((n) => heard.push(n));
    expect(await liveWatch(deployer, name, r.id, heard)).toBe(true);
    heard.length = 0;
    // Only the subscriber's connection is cut; the data stays, and nobody changes a rollout.
    const killed = (await redis.cli('CLIENT', 'KILL', 'TYPE', 'pubsub')) as number;
    expect(killed).toBeGreaterThanOrEqual(1);
    expect(await until(() => heard.includes(name), 5000)).toBe(true);
    heard.length = 0;
    await deployer.setRollout(name, { stable: r.id });
    expect(await until(() => heard.includes(name), 5000)).toBe(true);
  });

  it('errors: a Redis failure reaches the caller as a ControlPlaneError saying what was being done', async () => {
    const plane = openPlane(KEY);
    planes.push(plane);
    const name = `wrongtype-${process.pid}`;
    await redis.cli('HSET', functionKeys(name).rollout, 'x', '1');
    const e = await plane.rollout(name).then(
      () => undefined,
      (err: unknown) => err as Error,
    );
    expect(e).toBeInstanceOf(ControlPlaneError);
    expect(e?.message).toMatch(new RegExp(`^cannot read the rollout of ${name} in Redis: WRONGTYPE`));
  });

  it('outage: calls while Redis is down fail within readyWaitMs with a clear error, and work again when it is back', async () => {
    const client = connectRedis(redis.url, { commandTimeoutMs: 2000, connectTimeoutMs: 2000 }, { down() {}, up() {} });
    const plane = new RedisControlPlane({ redis: client, bucket: new S3ObjectStore(s3.clientOptions), bucketName: BUCKET, prefix: PREFIX, readyWaitMs: 300 });
    planes.push(plane);
    const name = `outage-${process.pid}`;
    const r = await plane.publish(name, bundle('o'));
    await redis.stop();
    try {
      const t0 = Date.now();
      const e = await plane.setRollout(name, { stable: r.id }).then(
        () => undefined,
        (err: unknown) => err as Error,
      );
      expect(e?.message).toMatch(/Redis is not reachable/);
      expect(Date.now() - t0).toBeLessThan(2000);
    } finally {
      await redis.start();
    }
    // Back (the test server keeps no data across a restart): publish again and roll out.
    const again = await plane.publish(name, bundle('o2'));
    expect((await plane.setRollout(name, { stable: again.id })).revision).toBe(1);
  });

  it('watch: after a Redis restart the subscriber is back and hears changes', async () => {
    const deployer = openPlane(KEY);
    const gateway = openPlane(KEY);
    planes.push(deployer, gateway);
    const name = `restart-${process.pid}`;
    const heard: string[] = [];
    gateway.watch((n) => heard.push(n));
    expect(await liveWatch(deployer, name, (await deployer.publish(name, bundle('r'))).id, heard)).toBe(true);
    await redis.restart();
    // The server comes back empty (no persistence in tests): publish again, then change the rollout until heard.
    const again = await deployer.publish(name, bundle('r2'));
    heard.length = 0;
    expect(await liveWatch(deployer, name, again.id, heard)).toBe(true);
  });
});

async function until(check: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!check() && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
  return check();
}

/** Changes the rollout until the watcher hears it (its subscription may still be connecting); bounded. */
async function liveWatch(deployer: ControlPlane, name: string, id: string, heard: string[]): Promise<boolean> {
  for (let i = 0; i < 20; i++) {
    await deployer.setRollout(name, { stable: id });
    if (await until(() => heard.includes(name), 500)) return true;
  }
  return false;
}
