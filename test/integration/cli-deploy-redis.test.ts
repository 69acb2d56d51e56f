/**
 * The control-plane verbs against the fleet's control plane (issue 12): a real Redis (one
 * server, a Sentinel-managed master, a 3-master Cluster) and an S3-protocol server (s3rver) on
 * loopback, chosen from the gateway's own config file
 * (`-c gateway.json`: redisUrl + objectStore "s3"), as an operator deploys to a fleet. Asserts
 * exit codes, output, the bundle uploaded to the bucket under its sha256, and the records and
 * rollouts read back through openControlPlane; and that an unreachable Redis names itself.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../gateway/src/config/load.js';
import type { ControlPlane } from '../../gateway/src/control/control-plane.js';
import { openControlPlane } from '../../gateway/src/control/open.js';
import { REPO, runCli, spawnCli } from '../helpers/cli.js';
import { REDIS_TOPOLOGIES, startTopology, type TestTopology } from '../helpers/redis-topology.js';
import { startS3rver, type TestS3rver } from '../helpers/s3rver.js';

let work: string;
let redis: TestTopology;
let s3: TestS3rver;
let cp: ControlPlane;
let configFile: string;
const KEY = 'cd'.repeat(32);
const ENV = { TFTPFN_DEPLOY_AUTHOR: 'ci@fleet', TFTPFN_SECRETS_KEY: undefined, TFTPFN_CONFIG: undefined, TFTPFN_DEPLOY_DIR: undefined, TFTPFN_REDIS_URL: undefined };
const tftpfn = (args: string[], env: Record<string, string | undefined> = {}) => runCli(args, { cwd: work, env: { ...ENV, ...env }, timeoutMs: 60_000 });

function write(rel: string, text: string): void {
  const p = join(work, rel);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, text);
}
const grub = (text: string) => write('grub/index.ts', `import { text } from 'tftpfn/sdk';\nexport const handle = () => text(${JSON.stringify(text)});\n`);

beforeAll(async () => {
  if (!existsSync(join(REPO, 'dist/gateway/src/cli/main.js'))) {
    const r = spawnSync('npm', ['run', 'build', '--silent'], { cwd: REPO, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('npm run build failed');
  }
  s3 = await startS3rver();
}, 120_000);

afterAll(async () => {
  await s3?.stop();
});

describe.each(REDIS_TOPOLOGIES)('tftpfn deploy to Redis (%s) + the bucket (-c gateway.json)', (kind) => {
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'tftpfn-cli-deploy-redis-'));
    redis = await startTopology(kind);
    const bucket = `fleet-${kind}`;
    await s3.createBucket(bucket);
    const config = { redisUrl: redis.url, ...s3.gatewayConfig, controlBucket: bucket, controlPrefix: 'lab/' };
    configFile = join(work, 'gateway.json');
    writeFileSync(configFile, JSON.stringify(config));
    cp = await openControlPlane(parseConfig({ ...config, secretsKey: KEY }));
  }, 120_000);

  afterAll(async () => {
    await cp?.close();
    await redis?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('deploy: uploads the bundle to the bucket by sha256, records the version in Redis, makes it stable', async () => {
    grub('fleet v1\n');
    await s3.clearRequests();
    const r = await tftpfn(['deploy', 'grub', '-c', configFile, '-m', 'fleet one']);
    // Only the AWS SDK's Node 20 notice may be there (not on Node 22 and 24).
    expect(r.stderr.replace(/^\(node:\d+\) Warning: NodeVersionSupportWarning[\s\S]*?--trace-warnings[^\n]*\n/, '')).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^grub: uploaded \d+ bytes .* to the bucket in \d+ ms$/m);
    expect(r.stdout).toContain('no gateway is live (none has sent a heartbeat to this redis control plane)');
    const id = /deployed version (\S+),/.exec(r.stdout)![1];
    const v = (await cp.version('grub', id))!;
    expect(v).toMatchObject({ author: 'ci@fleet', message: 'fleet one' });
    expect((await cp.rollout('grub'))!).toMatchObject({ stable: id, revision: 1 });
    // The path may carry the SDK's query (?x-id=PutObject).
    const puts = (await s3.requests()).filter((q) => q.method === 'PUT').map((q) => q.path.split('?')[0]);
    expect(puts).toContain(`/fleet-${kind}/lab/functions/grub/${v.sha256}.mjs`);
    expect((await cp.fetchBundle(v)).code.toString()).toContain('fleet v1');
  }, 60_000);

  it('deploy: a version that throws at import is refused and nothing reaches Redis or the bucket', async () => {
    write('grub/index.ts', `throw new Error('no inventory');\nexport const handle = () => null;\n`);
    const before = await cp.rollout('grub');
    await s3.clearRequests();
    const r = await tftpfn(['deploy', 'grub', '-c', configFile]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('importing it threw: Error: no inventory');
    expect((await s3.requests()).filter((q) => q.method === 'PUT')).toEqual([]);
    expect(await cp.rollout('grub')).toEqual(before);
    expect((await cp.versions('grub')).length).toBe(1);
  }, 60_000);

  it('canary, promote, rollback --to and versions through Redis', async () => {
    const first = (await cp.rollout('grub'))!.stable;
    grub('fleet v2\n');
    const canary = await tftpfn(['deploy', 'grub', '-c', configFile, '--percent', '30']);
    expect(canary.code).toBe(0);
    const second = /deployed version (\S+),/.exec(canary.stdout)![1];
    expect(await cp.rollout('grub')).toMatchObject({ stable: first, canary: { version: second, percent: 30 }, revision: 2 });
    expect((await tftpfn(['rollout', 'grub', '--promote', '-c', configFile])).code).toBe(0);
    expect((await cp.rollout('grub'))!.stable).toBe(second);
    const back = await tftpfn(['rollback', 'grub', '--to', first, '-c', configFile]);
    expect(back.code).toBe(0);
    expect(await cp.rollout('grub')).toMatchObject({ stable: first, revision: 4 });
    const list = await tftpfn(['versions', 'grub', '-c', configFile]);
    expect(list.code).toBe(0);
    expect(list.stdout.split('\n')[1]).toMatch(new RegExp(`^\\s+${second}\\s+`));
    expect(list.stdout.split('\n')[2]).toMatch(new RegExp(`^stable\\s+${first}\\s+.*fleet one$`));
  }, 60_000);

  it('secret put/list/rm: sealed in Redis, the value never printed nor stored in clear', async () => {
    const run = spawnCli(['secret', 'put', 'grub', 'API_TOKEN', '-c', configFile], { cwd: work, env: { ...ENV, TFTPFN_SECRETS_KEY: KEY }, timeoutMs: 30_000 });
    run.child.stdin!.end('fleet-token-42');
    const put = await run.done;
    expect(put.code).toBe(0);
    expect(put.stdout + put.stderr).not.toContain('fleet-token-42');
    expect(await cp.secrets('grub')).toEqual({ API_TOKEN: 'fleet-token-42' });
    const raw = await redis.cli('HGETALL', 'tftpfn:ctl:{fn:grub}:secrets');
    expect(String(raw)).not.toContain('fleet-token-42');
    expect((await tftpfn(['secret', 'list', 'grub', '-c', configFile])).stdout).toBe('API_TOKEN\n');
    expect((await tftpfn(['secret', 'rm', 'grub', 'API_TOKEN', '-c', configFile])).code).toBe(0);
    expect(await cp.secretNames('grub')).toEqual([]);
  }, 60_000);

  it('an unreachable Redis is named, with exit 1, within seconds', async () => {
    const nowhere = { single: 'redis://127.0.0.1:1', sentinel: 'redis-sentinel://127.0.0.1:1/mymaster', cluster: 'redis-cluster://127.0.0.1:1' }[kind];
    const r = await tftpfn(['versions', 'grub', '--redis-url', nowhere, '--control-bucket', `fleet-${kind}`], { TFTPFN_S3_ENDPOINT: s3.endpoint });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^tftpfn versions: .*(Redis|redis)/m);
    expect(r.ms).toBeLessThan(15_000);
    console.log(`unreachable Redis (${kind}): ${r.ms} ms: ${r.stderr.split('\n').find((l) => l.startsWith('tftpfn'))}`);
  }, 30_000);
});
