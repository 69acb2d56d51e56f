/**
 * The control-plane verbs against the fleet's control plane (issue 12): a real Redis (one
 * server, a Sentinel-managed master, a 3-master Cluster) and an S3-protocol server (s3rver) on
 * loopback, chosen from the gateway's own config file
 * (`-c gateway.json`: redisUrl + objectStore "s3"), as an operator deploys to a fleet. Asserts
 * exit codes, output, the bundle uploaded to the bucket under its sha256, and the records and
 * rollouts read back through openControlPlane; and that an unreachable Redis names itself.
 *
 * With a live gateway on the same plane (startGateway from the same config, default sandbox
 * isolation): deploy prints the gateway's ack; a version the CLI's worker-thread check passes but
 * the gateway's sandbox refuses (a file read at import, as cli-deploy-gateway.test.ts does on the
 * deploy folder) is named in the table with the gateway's reason, deploy exits 1, the rollout is
 * put back and the gateway goes on serving the previous version. And the upload of a bundle of a
 * few MiB reports its progress as the bytes go, not once at the end. With two gateways, one
 * closed cleanly (the path SIGTERM takes) is off the live list at once, so a deploy right after
 * (default --timeout-ms) exits 0 within a second or so, listing only the one still running.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get } from '../../client/index.js';
import { deployVersion } from '../../gateway/src/cli/deploy.js';
import { startGateway, type RunningGateway } from '../../gateway/src/index.js';
import { parseConfig } from '../../gateway/src/config/load.js';
import type { ControlPlane } from '../../gateway/src/control/control-plane.js';
import { openControlPlane } from '../../gateway/src/control/open.js';
import { REPO, runCli, spawnCli } from '../helpers/cli.js';
import { eventually } from '../helpers/scratch.js';
import { REDIS_TOPOLOGIES, startTopology, type TestTopology } from '../helpers/redis-topology.js';
import { startS3rver, type TestS3rver } from '../helpers/s3rver.js';

let work: string;
let redis: TestTopology;
let s3: TestS3rver;
let cp: ControlPlane;
let configFile: string;
let gatewayConfig: Record<string, unknown>;
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
    gatewayConfig = config;
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

  it('deploy: the upload of a bundle of a few MiB reports its bytes as they go, ending at the total; a pipe gets one summary line', async () => {
    // About 3 MiB of string literal in the bundle: below the multipart size, so one PutObject.
    const big = (tag: string) => write('big/index.ts', `import { text } from 'tftpfn/sdk';\nconst BLOB = ${JSON.stringify(tag.repeat((3 * 1024 * 1024) / tag.length))};\nexport const handle = () => text(BLOB.slice(0, 8));\n`);
    big('tftp');
    const redraws: string[] = [];
    const stdout: string[] = [];
    const io = { isTTY: true, out: (l: string) => void stdout.push(l), err: (l: string) => void stdout.push(l), redraw: (l: string) => void redraws.push(l) };
    // A clock 100 ms on at every read: the terminal's throttle lets every report through, so what
    // is drawn is what the store reported. No gateway is live yet (the next test starts one).
    let nowMs = 0;
    const code = await deployVersion(cp, { entry: join(work, 'big'), name: 'big', author: 'ci@fleet', timeoutMs: 5000 }, io, { now: () => (nowMs += 100) });
    expect(code).toBe(0);
    const drawn = redraws.filter((l) => l !== '').map((l) => {
      const m = /^big: uploading (\d+\.\d) MiB \/ (\d+\.\d) MiB \((\d+)%\)$/.exec(l);
      expect(m, l).not.toBeNull();
      return { sentMiB: Number(m![1]), totalMiB: Number(m![2]), percent: Number(m![3]) };
    });
    const v = (await cp.versions('big'))[0];
    console.log(`upload progress (${kind}): ${v.bytes} bytes, ${drawn.length} reports: ${drawn.map((d) => d.percent).join(' ')}`);
    expect(v.bytes).toBeGreaterThan(3 * 1024 * 1024);
    const intermediate = drawn.filter((d) => d.percent > 0 && d.percent < 100);
    expect(new Set(intermediate.map((d) => d.percent)).size).toBeGreaterThan(1);
    for (let i = 1; i < drawn.length; i++) expect(drawn[i].percent).toBeGreaterThanOrEqual(drawn[i - 1].percent);
    expect(drawn.at(-1)).toEqual({ sentMiB: 3.0, totalMiB: 3.0, percent: 100 });
    expect(redraws.at(-1)).toBe('');
    expect(stdout.join('\n')).toMatch(/^big: uploaded 3\d{6} bytes \(\d+\.\d KiB\) to the bucket in \d+ ms$/m);
    expect((await cp.fetchBundle(v)).code.byteLength).toBe(v.bytes);

    // The built CLI in a pipe: no progress redraws, the summary line only.
    big('pipe');
    const r = await tftpfn(['deploy', 'big', '-c', configFile]);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain('\r');
    expect(r.stdout).not.toContain('uploading');
    expect(r.stdout).toMatch(/^big: uploaded 3\d{6} bytes \(\d+\.\d KiB\) to the bucket in \d+ ms$/m);
  }, 120_000);

  it('deploy: a live gateway on Redis acks; a version it rejects is named with its reason, exits 1, and the rollout is put back', async () => {
    const menu = (body: string) => write('menu/index.ts', body);
    menu(`import { text } from 'tftpfn/sdk';\nexport const handle = () => text('menu v1\\n');\n`);
    expect((await tftpfn(['deploy', 'menu', '-c', configFile])).code).toBe(0);
    mkdirSync(join(work, 'gw-cache'), { recursive: true });
    const gatewayId = `gw-redis-${kind}`;
    // The gateway opens the plane from the same fields the CLI read from gateway.json.
    const gw: RunningGateway = await startGateway({
      config: {
        ...gatewayConfig,
        hosts: ['127.0.0.1'],
        port: 0,
        root: work,
        gatewayId,
        statsToRedis: false,
        controlCacheDir: join(work, 'gw-cache'),
        routes: [{ match: 'menu.txt', function: 'menu' }],
      },
      logger: pino({ level: process.env.TFTPFN_TEST_LOG ?? 'silent' }),
    });
    try {
      const fetchText = async () => (await get({ host: '127.0.0.1', port: gw.port, path: 'menu.txt', timeoutMs: 500, retries: 5 })).data!.toString();
      expect(await fetchText()).toBe('menu v1\n');
      // Live once its first heartbeat is in Redis.
      expect(await eventually(async () => (await cp.liveGateways()).some((p) => p.gateway === gatewayId), 15_000)).toBe(true);

      menu(`import { text } from 'tftpfn/sdk';\nexport const handle = () => text('menu v2\\n');\n`);
      const ok = await tftpfn(['deploy', 'menu', '-c', configFile, '--timeout-ms', '30000']);
      expect(ok.code).toBe(0);
      const v2 = /deployed version (\S+),/.exec(ok.stdout)![1];
      expect(ok.stdout).toMatch(/^GATEWAY\s+SERVING\s+STATUS$/m);
      expect(ok.stdout).toMatch(new RegExp(`^${gatewayId}\\s+${v2}\\s+ok$`, 'm'));
      expect(ok.stdout).toContain('all 1 live gateway(s) serve revision 2 of menu');
      expect(await fetchText()).toBe('menu v2\n');

      // Loads in the CLI's worker thread; the gateway's sandbox (permission model) refuses the read.
      menu(`import { readFileSync } from 'node:fs';\nimport { text } from 'tftpfn/sdk';\nconst host = readFileSync('/etc/hostname', 'utf8');\nexport const handle = () => text('v3 ' + host.length);\n`);
      const r = await tftpfn(['deploy', 'menu', '-c', configFile, '--timeout-ms', '30000']);
      console.log(`rejected deploy over Redis (${kind}): ${r.ms} ms, exit ${r.code}\n${r.stdout}${r.stderr}`);
      expect(r.code).toBe(1);
      const v3 = /deployed version (\S+),/.exec(r.stdout)![1];
      expect(r.stdout).toContain(`menu: now stable ${v3} (revision 3)`);
      // Node 24 (seen; Node 20 does not) adds ". Use --allow-fs-read to manage permissions." to the permission model's message.
      expect(r.stdout).toMatch(new RegExp(`^${gatewayId}\\s+${v2}\\s+rejected: menu@${v3}: loading the bundle threw: Error: Access to this API has been restricted(\\. Use --allow-fs-read to manage permissions\\.)?$`, 'm'));
      expect(r.stderr).toContain(`${gatewayId} rejected it:\n  menu@${v3}: loading the bundle threw: Error: Access to this API has been restricted`);
      expect(r.stderr).toContain('1 of 1 gateway(s) rejected revision 3 of menu and serve what they served before');
      expect(r.stderr).toContain(`menu: the rollout is back to stable ${v2} (revision 4); fix the version and deploy again`);
      expect(await cp.rollout('menu')).toMatchObject({ stable: v2, revision: 4 });
      // The rejected version stays recorded (immutable), but nothing serves it.
      expect((await cp.versions('menu')).map((v) => v.id)).toContain(v3);
      expect(await fetchText()).toBe('menu v2\n');
      // The gateway takes the restored rollout too: its ack of revision 4 says it serves v2.
      expect(await eventually(async () => (await cp.acks('menu')).some((a) => a.gateway === gatewayId && a.revision >= 4 && a.ok && a.serving[0] === v2), 15_000)).toBe(true);
    } finally {
      await gw.close(0);
    }
  }, 120_000);

  it('deploy: a gateway closed cleanly has left the live list, so a deploy right after waits only for the one still running', async () => {
    write('motd/index.ts', `import { text } from 'tftpfn/sdk';\nexport const handle = () => text('motd v1\\n');\n`);
    expect((await tftpfn(['deploy', 'motd', '-c', configFile])).code).toBe(0);
    const start = (id: string) => {
      mkdirSync(join(work, `cache-${id}`), { recursive: true });
      return startGateway({
        config: {
          ...gatewayConfig,
          hosts: ['127.0.0.1'],
          port: 0,
          root: work,
          gatewayId: id,
          statsToRedis: false,
          controlCacheDir: join(work, `cache-${id}`),
          routes: [{ match: 'motd.txt', function: 'motd' }],
        },
        logger: pino({ level: process.env.TFTPFN_TEST_LOG ?? 'silent' }),
      });
    };
    const staying = `gw-stay-${kind}`;
    const leaving = `gw-leave-${kind}`;
    const gws: RunningGateway[] = [];
    try {
      gws.push(await start(staying));
      gws.push(await start(leaving));
      const live = async () => (await cp.liveGateways()).map((p) => p.gateway);
      expect(await eventually(async () => (await live()).includes(staying) && (await live()).includes(leaving), 15_000)).toBe(true);
      // The path SIGTERM takes in `tftpfn serve` (running.close): its heartbeat had a 9 s TTL left.
      const closeStartedMs = performance.now();
      await gws.pop()!.close(0);
      const closeMs = Math.round(performance.now() - closeStartedMs);
      expect(await live()).not.toContain(leaving);
      expect(await live()).toContain(staying);

      write('motd/index.ts', `import { text } from 'tftpfn/sdk';\nexport const handle = () => text('motd v2\\n');\n`);
      // The built CLI with its default --timeout-ms (10000).
      const r = await tftpfn(['deploy', 'motd', '-c', configFile]);
      console.log(`deploy after a clean close (${kind}): close ${closeMs} ms; deploy ${r.ms} ms, exit ${r.code}\n${r.stdout}${r.stderr}`);
      expect(r.code).toBe(0);
      const v2 = /deployed version (\S+),/.exec(r.stdout)![1];
      const table = r.stdout.slice(r.stdout.indexOf('GATEWAY'));
      expect(table).toMatch(/^GATEWAY\s+SERVING\s+STATUS$/m);
      expect(table).toMatch(new RegExp(`^${staying}\\s+${v2}\\s+ok$`, 'm'));
      expect(table).not.toContain(leaving);
      expect(r.stdout).toContain('all 1 live gateway(s) serve revision 2 of motd');
      // Well under the 10 s it waited before (the whole CLI run: bundle, load check, upload, ack).
      expect(r.ms).toBeLessThan(7000);
    } finally {
      for (const gw of gws) await gw.close(0);
    }
  }, 120_000);

  it('an unreachable Redis is named, with exit 1, within seconds', async () => {
    const nowhere = { single: 'redis://127.0.0.1:1', sentinel: 'redis-sentinel://127.0.0.1:1/mymaster', cluster: 'redis-cluster://127.0.0.1:1' }[kind];
    const r = await tftpfn(['versions', 'grub', '--redis-url', nowhere, '--control-bucket', `fleet-${kind}`], { TFTPFN_S3_ENDPOINT: s3.endpoint });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^tftpfn versions: .*(Redis|redis)/m);
    expect(r.ms).toBeLessThan(15_000);
    console.log(`unreachable Redis (${kind}): ${r.ms} ms: ${r.stderr.split('\n').find((l) => l.startsWith('tftpfn'))}`);
  }, 30_000);
});
