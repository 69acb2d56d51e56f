/**
 * How fast the two control planes are where a deploy feels it, printed for docs and reports:
 * setRollout → another instance's watch() (the folder polls every 200 ms; Redis pushes),
 * publishing a 4 MiB bundle (new, then the same code again: stored once), fetch + verify, and
 * a small publish. The bounds asserted are loose (a shared 2-core machine): a watch that
 * stopped working, or a publish that re-uploads unchanged code, still fails.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import type { ControlPlane } from '../../../gateway/src/control/control-plane.js';
import { FolderControlPlane } from '../../../gateway/src/control/folder-control.js';
import { RedisControlPlane } from '../../../gateway/src/control/redis-control.js';
import { S3ObjectStore } from '../../../gateway/src/objects/s3-store.js';
import { connectRedis } from '../../../gateway/src/redis/connection.js';
import { startRedis } from '../../helpers/redis-server.js';
import { startS3rver } from '../../helpers/s3rver.js';
import { bundle } from './contract.js';

interface Figures {
  watchP50Ms: number;
  watchMaxMs: number;
  publishNewMs: number;
  publishSameMs: number;
  fetchMs: number;
  smallPublishMs: number;
}

async function measure(label: string, a: ControlPlane, b: ControlPlane): Promise<Figures> {
  const name = 'latency';
  const ids = [(await a.publish(name, bundle('m0'))).id, (await a.publish(name, bundle('m1'))).id];
  let heardNow: (() => void) | undefined;
  b.watch((n) => n === name && heardNow?.());
  const change = async (i: number, boundMs: number): Promise<number | undefined> => {
    const heard = new Promise<void>((r) => (heardNow = r));
    const t0 = performance.now();
    await a.setRollout(name, { stable: ids[i % 2] });
    const ok = await Promise.race([heard.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), boundMs))]);
    return ok ? performance.now() - t0 : undefined;
  };
  // Until the subscription is live (bounded).
  for (let i = 0; i < 20 && (await change(i, 500)) === undefined; i++);
  const lat: number[] = [];
  for (let i = 0; i < 30; i++) {
    const ms = await change(i, 3000);
    expect(ms, `${label}: change ${i} not heard within 3 s`).toBeDefined();
    lat.push(ms!);
    await new Promise((r) => setTimeout(r, 30));
  }
  lat.sort((x, y) => x - y);
  const big = randomBytes(4 * 1024 * 1024);
  const input = { ...bundle('big'), code: big, sha256: createHash('sha256').update(big).digest('hex') };
  let t0 = performance.now();
  const rec = await a.publish('big', input);
  const publishNewMs = performance.now() - t0;
  t0 = performance.now();
  await a.publish('big', input);
  const publishSameMs = performance.now() - t0;
  t0 = performance.now();
  expect((await b.fetchBundle(rec)).code.equals(big)).toBe(true);
  const fetchMs = performance.now() - t0;
  t0 = performance.now();
  for (let i = 0; i < 20; i++) await a.publish('small', bundle(`s${i}`));
  const smallPublishMs = (performance.now() - t0) / 20;
  const f = { watchP50Ms: lat[15], watchMaxMs: lat[29], publishNewMs, publishSameMs, fetchMs, smallPublishMs };
  console.log(
    `${label}: setRollout -> watch p50 ${f.watchP50Ms.toFixed(1)} ms, max ${f.watchMaxMs.toFixed(1)} ms (n=30); ` +
      `publish 4 MiB: new ${f.publishNewMs.toFixed(0)} ms, same code again ${f.publishSameMs.toFixed(0)} ms; ` +
      `fetch + verify 4 MiB ${f.fetchMs.toFixed(0)} ms; small publish ${f.smallPublishMs.toFixed(1)} ms (mean of 20)`,
  );
  await a.close();
  await b.close();
  return f;
}

it('latency: setRollout reaches a watcher within the poll period (folder) or at once (Redis); unchanged code is not uploaded again', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tftpfn-latency-'));
  try {
    const folder = await measure('folder', new FolderControlPlane(dir), new FolderControlPlane(dir));
    expect(folder.watchP50Ms).toBeLessThan(1000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const redis = await startRedis();
  const s3 = await startS3rver();
  try {
    await s3.createBucket('latency');
    const open = () =>
      new RedisControlPlane({
        redis: connectRedis(redis.url, { commandTimeoutMs: 2000, connectTimeoutMs: 2000 }, { down() {}, up() {} }),
        bucket: new S3ObjectStore(s3.clientOptions),
        bucketName: 'latency',
        prefix: '',
      });
    await s3.clearRequests();
    const r = await measure('redis + s3rver', open(), open());
    expect(r.watchP50Ms).toBeLessThan(200);
    // The 4 MiB bundle went up once: the second publish found it by its sha256.
    const puts = (await s3.requests()).filter((q) => q.method === 'PUT' && q.path.includes('functions/big/'));
    expect(puts).toHaveLength(1);
  } finally {
    await s3.stop();
    await redis.cleanup();
  }
});
