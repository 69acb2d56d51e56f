/**
 * Writes opted into by a deployed function's manifest (issue 15, docs/UPLOADS.md "Deployed
 * functions"), end to end on the Redis control plane: a real redis-server and s3rver on
 * loopback, `tftpfn deploy` (the built CLI) publishing a folder with its tftpfn.json, two
 * gateways following the control plane, and curl -T as the client.
 *
 *  - gw-allow has allowManifestWrites: the version whose manifest says "writes": true takes
 *    uploads (stored byte-identical in the bucket; the manifest's maxUploadBytes refuses a larger
 *    declared tsize with ERROR 3); the next version, without writes, refuses them with ERROR 2
 *    "writes are disabled" on the same running gateway (hot: no restart);
 *  - on gw-allow, a canary with writes on beside a stable version without: each machine's
 *    uploads follow the version it is pinned to (the MAC in the path picks the side);
 *  - gw-forbid has the default (allowManifestWrites false): the gateway's prohibition wins over
 *    the manifest, ERROR 2, and nothing is stored.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, runCli } from '../helpers/cli.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startS3rver, type TestS3rver } from '../helpers/s3rver.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { eventually, scratch } from '../helpers/scratch.js';
import { seededBytes } from '../helpers/seeded.js';
import { killAllClients, runClient } from '../interop/run-client.js';
import { picksCanary } from '../../gateway/src/runtime/canary-pick.js';

const SEED = 1517;
const CONTROL_BUCKET = 'fleet-writes';
const UPLOADS = 'uploads';
const { temp, defer } = scratch({ ignoreCloseErrors: true });
let redis: TestRedis;
let s3: TestS3rver;
let client: S3Client;
let work: string;
let configFile: string;
let allowGw: TestGateway;
let forbidGw: TestGateway;

const SOURCE = (tag: string) => `import { s3Put, text, type Handler } from 'tftpfn/sdk';
export const handle: Handler = (request) =>
  request.kind === 'write' ? s3Put({ bucket: ${JSON.stringify(UPLOADS)}, key: \`fleet/\${request.path}\` }) : text(${JSON.stringify(tag)});
`;

function writeFunction(tag: string, manifest: object | undefined): void {
  mkdirSync(join(work, 'up'), { recursive: true });
  writeFileSync(join(work, 'up', 'index.ts'), SOURCE(tag));
  const m = join(work, 'up', 'tftpfn.json');
  if (manifest) writeFileSync(m, JSON.stringify(manifest));
  else rmSync(m, { force: true });
}

async function deploy(extra: string[] = []): Promise<string> {
  const r = await runCli(['deploy', 'up', '-c', configFile, ...extra], { cwd: work, env: { TFTPFN_DEPLOY_AUTHOR: 'ci@fleet', TFTPFN_SECRETS_KEY: undefined, TFTPFN_CONFIG: undefined, TFTPFN_DEPLOY_DIR: undefined, TFTPFN_REDIS_URL: undefined }, timeoutMs: 60_000 });
  expect(r.code, r.stderr).toBe(0);
  return /deployed version (\S+),/.exec(r.stdout)![1]!;
}

const serving = (gw: TestGateway) => gw.functions!.status().find((f) => f.name === 'up')?.version;

function localFile(name: string, bytes: Uint8Array): string {
  const p = join(work, name);
  writeFileSync(p, bytes);
  return p;
}

const curlPut = (gw: TestGateway, local: string, remote: string) =>
  runClient('curl', ['-sS', '--tftp-blksize', '1468', '-T', local, `tftp://127.0.0.1:${gw.addresses[0]!.port}/${remote}`], { timeoutMs: 30_000 });

async function stored(key: string): Promise<Buffer | undefined> {
  try {
    const r = await client.send(new GetObjectCommand({ Bucket: UPLOADS, Key: key }));
    return Buffer.from(await r.Body!.transformToByteArray());
  } catch {
    return undefined;
  }
}

async function keys(): Promise<string[]> {
  const r = await client.send(new ListObjectsV2Command({ Bucket: UPLOADS, Prefix: 'fleet/' }));
  return (r.Contents ?? []).map((c) => c.Key!).sort();
}

beforeAll(async () => {
  if (!existsSync(join(REPO, 'dist/gateway/src/cli/main.js'))) {
    const r = spawnSync('npm', ['run', 'build', '--silent'], { cwd: REPO, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('npm run build failed');
  }
  work = temp('tftpfn-fleet-writes-');
  [redis, s3] = await Promise.all([startRedis(), startS3rver()]);
  await s3.createBucket(CONTROL_BUCKET);
  await s3.createBucket(UPLOADS);
  client = new S3Client({ ...s3.clientOptions, maxAttempts: 1 });
  const control = { redisUrl: redis.url, ...s3.gatewayConfig, controlBucket: CONTROL_BUCKET, controlPrefix: 'ctl/' };
  configFile = join(work, 'gateway.json');
  writeFileSync(configFile, JSON.stringify(control));
  const gateway = (id: string, allowManifestWrites: boolean) =>
    startTestGateway({
      config: {
        ...control,
        gatewayId: id,
        statsToRedis: false,
        controlPollMs: 500,
        controlCacheDir: temp(`fleet-writes-cache-${id}-`),
        allowManifestWrites,
        defaultRoute: { function: 'up' },
        functions: { up: { poolSize: 1, isolation: 'thread' } },
      },
    });
  [allowGw, forbidGw] = await Promise.all([gateway('gw-allow', true), gateway('gw-forbid', false)]);
  defer(() => allowGw.stop());
  defer(() => forbidGw.stop());
}, 120_000);

afterAll(async () => {
  killAllClients();
  client?.destroy();
  await allowGw?.stop();
  await forbidGw?.stop();
  await s3?.stop();
  await redis?.cleanup();
});

describe('writes from a deployed function\'s manifest', () => {
  let v1: string;

  it('a version whose manifest says "writes": true: gw-allow stores a curl -T upload byte-identical; its maxUploadBytes refuses a larger tsize with ERROR 3', async () => {
    writeFunction('v1', { writes: true, maxUploadBytes: 100_000 });
    v1 = await deploy();
    expect(await eventually(() => serving(allowGw) === v1 && serving(forbidGw) === v1, 10_000)).toBe(true);
    const bytes = seededBytes(SEED, 64_321);
    const run = await curlPut(allowGw, localFile('a.bin', bytes), 'a.bin');
    expect(run.code, run.stderr).toBe(0);
    const rec = await allowGw.waitForRecord((r) => r.file === 'a.bin');
    expect(rec).toMatchObject({ kind: 'write', outcome: 'ok', function: 'up', version: v1, objectKey: `${UPLOADS}/fleet/a.bin`, bytes: bytes.length });
    expect((await stored('fleet/a.bin'))?.equals(Buffer.from(bytes))).toBe(true);

    const big = await curlPut(allowGw, localFile('big.bin', seededBytes(SEED + 1, 100_001)), 'big.bin');
    expect(big.code).not.toBe(0);
    expect((await allowGw.waitForRecord((r) => r.file === 'big.bin')).errorCode).toBe(3);
    expect(await stored('fleet/big.bin')).toBeUndefined();
  }, 90_000);

  it('the gateway\'s prohibition wins: gw-forbid (allowManifestWrites false) serves the same version and refuses its uploads with ERROR 2', async () => {
    expect(serving(forbidGw)).toBe(v1);
    const run = await curlPut(forbidGw, localFile('b.bin', seededBytes(SEED + 2, 1000)), 'b.bin');
    expect(run.code).not.toBe(0);
    const rec = await forbidGw.waitForRecord((r) => r.file === 'b.bin');
    expect(rec).toMatchObject({ kind: 'write', errorCode: 2, errorMessage: 'writes are disabled', bytes: 0 });
    expect(await stored('fleet/b.bin')).toBeUndefined();
  }, 30_000);

  it('the next version without writes in its manifest: the same running gateway refuses uploads with ERROR 2, without a restart', async () => {
    const port = allowGw.addresses[0]!.port;
    writeFunction('v2', undefined);
    const v2 = await deploy();
    expect(v2).not.toBe(v1);
    expect(await eventually(() => serving(allowGw) === v2, 10_000)).toBe(true);
    expect(allowGw.addresses[0]!.port).toBe(port);
    const run = await curlPut(allowGw, localFile('c.bin', seededBytes(SEED + 3, 1000)), 'c.bin');
    expect(run.code).not.toBe(0);
    const rec = await allowGw.waitForRecord((r) => r.file === 'c.bin');
    expect(rec).toMatchObject({ kind: 'write', errorCode: 2, errorMessage: 'writes are disabled', version: v2 });
    expect(await keys()).toEqual(['fleet/a.bin']);
  }, 90_000);

  it('a canary whose manifest turns writes on: the machines it picks (by the MAC in the path) may upload, the stable side\'s get ERROR 2', async () => {
    writeFunction('v3', { writes: true });
    const stable = serving(allowGw)!;
    const v3 = await deploy(['--percent', '50']);
    expect(await eventually(() => allowGw.functions!.status().find((f) => f.name === 'up')?.canary?.version === v3, 10_000)).toBe(true);
    expect(serving(allowGw)).toBe(stable);
    // Two machines, one on each side of the 50% split (the pick is a pure function of MAC and name).
    const macs = Array.from({ length: 64 }, (_, i) => `52:54:00:00:07:${i.toString(16).padStart(2, '0')}`);
    const onCanary = macs.find((m) => picksCanary(`mac:${m}`, 'up', 50))!;
    const onStable = macs.find((m) => !picksCanary(`mac:${m}`, 'up', 50))!;
    const name = (mac: string) => `${mac.replaceAll(':', '-')}.cfg`;
    const bytes = seededBytes(SEED + 4, 5000);
    const run = await curlPut(allowGw, localFile('canary.cfg', bytes), name(onCanary));
    expect(run.code, run.stderr).toBe(0);
    expect(await allowGw.waitForRecord((r) => r.file === name(onCanary))).toMatchObject({ outcome: 'ok', version: v3 });
    expect((await stored(`fleet/${name(onCanary)}`))?.equals(Buffer.from(bytes))).toBe(true);
    const refused = await curlPut(allowGw, localFile('stable.cfg', bytes), name(onStable));
    expect(refused.code).not.toBe(0);
    expect(await allowGw.waitForRecord((r) => r.file === name(onStable))).toMatchObject({ errorCode: 2, errorMessage: 'writes are disabled', version: stable });
    expect(await stored(`fleet/${name(onStable)}`)).toBeUndefined();
  }, 90_000);
});
