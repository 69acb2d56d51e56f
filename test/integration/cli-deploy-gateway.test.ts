/**
 * `tftpfn deploy` waiting for a real gateway's acknowledgement (issue 12): a gateway on
 * loopback follows a deploy folder (the folder control plane, its heartbeat and acks), the
 * built CLI deploys into it and prints what the gateway serves; a version the CLI's check
 * passes but the gateway's sandbox refuses (a file read at import) is rejected by the gateway,
 * named in the table, deploy exits 1 and the gateway goes on serving the previous version.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get } from '../../client/index.js';
import { startGateway, type RunningGateway } from '../../gateway/src/index.js';
import { parseConfig } from '../../gateway/src/config/load.js';
import type { ControlPlane } from '../../gateway/src/control/control-plane.js';
import { openControlPlane } from '../../gateway/src/control/open.js';
import { REPO, runCli } from '../helpers/cli.js';

let work: string;
let dir: string;
let gw: RunningGateway;
let cp: ControlPlane;
const ENV = { TFTPFN_DEPLOY_AUTHOR: 'ci@gw', TFTPFN_CONFIG: undefined, TFTPFN_DEPLOY_DIR: undefined, TFTPFN_REDIS_URL: undefined };
const tftpfn = (args: string[]) => runCli(args, { cwd: work, env: ENV, timeoutMs: 60_000 });
const fetchText = async () => (await get({ host: '127.0.0.1', port: gw.port, path: 'hello.txt', timeoutMs: 500, retries: 3 })).data!.toString();

function write(rel: string, text: string): void {
  const p = join(work, rel);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, text);
}
const hello = (text: string) => write('hello/index.ts', `import { text } from 'tftpfn/sdk';\nexport const handle = () => text(${JSON.stringify(text)});\n`);

beforeAll(async () => {
  if (!existsSync(join(REPO, 'dist/gateway/src/cli/main.js'))) {
    const r = spawnSync('npm', ['run', 'build', '--silent'], { cwd: REPO, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('npm run build failed');
  }
  work = mkdtempSync(join(tmpdir(), 'tftpfn-cli-deploy-gw-'));
  dir = join(work, 'deploy');
  mkdirSync(dir);
  mkdirSync(join(work, 'cache'));
  hello('hello v1\n');
  // The first version, before the gateway starts: it must load it before it is ready.
  const first = await tftpfn(['deploy', 'hello', '-d', dir]);
  expect(first.code).toBe(0);
  const config = {
    hosts: ['127.0.0.1'],
    port: 0,
    root: work,
    deployDir: dir,
    // Inside the work folder, so the test leaves no cache behind.
    controlCacheDir: join(work, 'cache'),
    gatewayId: 'gw-ack-test',
    controlPollMs: 200,
    routes: [{ match: 'hello.txt', function: 'hello' }],
  };
  cp = await openControlPlane(parseConfig(config), { pollMs: 50 });
  gw = await startGateway({ config, controlPlane: cp, logger: pino({ level: process.env.TFTPFN_TEST_LOG ?? 'silent' }) });
}, 120_000);

afterAll(async () => {
  await gw?.close();
  await cp?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('deploy waits for a real gateway', () => {
  it('deploy: the live gateway acknowledges, the table shows what it serves, and it serves it', async () => {
    expect(await fetchText()).toBe('hello v1\n');
    hello('hello v2\n');
    const r = await tftpfn(['deploy', 'hello', '-d', dir, '--timeout-ms', '10000']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const id = /deployed version (\S+),/.exec(r.stdout)![1];
    expect(r.stdout).toMatch(/^GATEWAY\s+SERVING\s+STATUS$/m);
    expect(r.stdout).toMatch(new RegExp(`^gw-ack-test\\s+${id}\\s+ok$`, 'm'));
    expect(r.stdout).toContain('all 1 live gateway(s) serve revision 2 of hello');
    expect(await fetchText()).toBe('hello v2\n');
    console.log(`deploy with one live gateway: ${r.ms} ms, exit ${r.code}\n${r.stdout}`);
  }, 60_000);

  it('deploy: a version the gateway rejects is named in the table, exits 1, and the gateway keeps the previous one', async () => {
    // Loads in the CLI's worker thread; the gateway's sandbox (permission model) refuses the read.
    write('hello/index.ts', `import { readFileSync } from 'node:fs';\nimport { text } from 'tftpfn/sdk';\nconst host = readFileSync('/etc/hostname', 'utf8');\nexport const handle = () => text('v3 ' + host.length);\n`);
    const r = await tftpfn(['deploy', 'hello', '-d', dir, '--timeout-ms', '10000']);
    console.log(`rejected deploy: ${r.ms} ms, exit ${r.code}\n${r.stdout}${r.stderr}`);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^gw-ack-test\s+\S+\s+rejected: /m);
    // Node 24 adds ". Use --allow-fs-read to manage permissions." to the permission model's message.
    expect(r.stdout).toMatch(/^gw-ack-test\s+\S+\s+rejected: hello@\S+: loading the bundle threw: Error: Access to this API has been restricted(\. Use --allow-fs-read to manage permissions\.)?$/m);
    expect(r.stderr).toContain('gw-ack-test rejected it:');
    expect(r.stderr).toContain('1 of 1 gateway(s) rejected revision 3 of hello and serve what they served before');
    // The rollout goes back to v2, so a gateway started later does not load the rejected version.
    const v2 = (await cp.versions('hello'))[1].id;
    expect(r.stderr).toContain(`hello: the rollout is back to stable ${v2} (revision 4)`);
    expect(await cp.rollout('hello')).toMatchObject({ stable: v2, revision: 4 });
    expect(await fetchText()).toBe('hello v2\n');
  }, 60_000);

  it('rollback: back to v1 at once, acknowledged by the gateway', async () => {
    const versions = await cp.versions('hello');
    const v1 = versions[versions.length - 1].id;
    const r = await tftpfn(['rollback', 'hello', '--to', v1, '-d', dir]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^gw-ack-test\\s+${v1}\\s+ok$`, 'm'));
    expect(await fetchText()).toBe('hello v1\n');
  }, 60_000);
});
