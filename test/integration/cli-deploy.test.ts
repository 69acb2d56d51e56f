/**
 * The control-plane verbs as an operator runs them (issue 12): the built `tftpfn` as a child
 * process against a deploy folder (the embedded control plane), asserting exit codes, output,
 * and what changed in the folder (read back through openControlPlane, as a gateway reads it).
 * Needs the build (`npm run build`); the suite builds once when dist/ is missing.
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

let work: string;
let dir: string;
let cp: ControlPlane;

const KEY = 'ab'.repeat(32);
const ENV = { TFTPFN_DEPLOY_AUTHOR: 'ci@test', TFTPFN_SECRETS_KEY: undefined, TFTPFN_CONFIG: undefined, TFTPFN_DEPLOY_DIR: undefined, TFTPFN_REDIS_URL: undefined };
const tftpfn = (args: string[], env: Record<string, string | undefined> = {}) => runCli(args, { cwd: work, env: { ...ENV, ...env }, timeoutMs: 60_000 });

function write(rel: string, text: string): string {
  const p = join(work, rel);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, text);
  return p;
}
const grub = (text: string) => write('grub/index.ts', `import { text } from 'tftpfn/sdk';\nexport const handle = () => text(${JSON.stringify(text)});\n`);
const stableOf = async () => (await cp.rollout('grub'))!;

beforeAll(async () => {
  if (!existsSync(join(REPO, 'dist/gateway/src/cli/main.js'))) {
    const r = spawnSync('npm', ['run', 'build', '--silent'], { cwd: REPO, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('npm run build failed');
  }
  work = mkdtempSync(join(tmpdir(), 'tftpfn-cli-deploy-'));
  dir = join(work, 'deploy');
  mkdirSync(dir);
  cp = await openControlPlane(parseConfig({ deployDir: dir }));
}, 120_000);

afterAll(async () => {
  await cp?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('tftpfn deploy, versions, rollout, rollback (deploy folder)', () => {
  const ids: string[] = [];

  it('deploy: publishes a version that loads, makes it stable, says no gateway is live', async () => {
    grub('grub v1\n');
    const r = await tftpfn(['deploy', 'grub', '-d', dir, '-m', 'first menu']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const m = /^grub: deployed version (\S+), (\d+) bytes .* by ci@test: first menu$/m.exec(r.stdout)!;
    expect(m).not.toBeNull();
    ids.push(m[1]);
    expect(r.stdout).toMatch(/^grub: built \d+ bytes .* loaded in a worker: ok$/m);
    expect(r.stdout).toMatch(/^grub: uploaded \d+ bytes .* to the deploy folder in \d+ ms$/m);
    expect(r.stdout).toContain('no gateway is live');
    expect(await stableOf()).toMatchObject({ stable: m[1], revision: 1 });
    expect((await cp.version('grub', m[1]))!).toMatchObject({ author: 'ci@test', message: 'first menu', bytes: Number(m[2]) });
  }, 60_000);

  it('deploy: a version that throws at import exits 1, is not published, and the previous stays current', async () => {
    write('grub/index.ts', `throw new Error('kaboom at import');\nexport const handle = () => null;\n`);
    const r = await tftpfn(['deploy', 'grub', '-d', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/grub\/index\.ts cannot be loaded: importing it threw: Error: kaboom at import/);
    expect(r.stderr).toContain(`nothing was published; grub still serves stable ${ids[0]}`);
    expect((await cp.versions('grub')).map((v) => v.id)).toEqual([ids[0]]);
    expect(await stableOf()).toMatchObject({ stable: ids[0], revision: 1 });
  }, 60_000);

  it('deploy: --smoke that fails refuses the deploy and prints the error', async () => {
    write('grub/index.ts', `import { notFound, text } from 'tftpfn/sdk';\nexport const handle = (r) => (r.path.startsWith('grub.cfg') ? text('menu') : notFound('no such file'));\n`);
    const bad = await tftpfn(['deploy', 'grub', '-d', dir, '--smoke', 'boot.ipxe']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('failed its smoke run (--smoke boot.ipxe): the client would get ERROR 1 "no such file"');
    expect((await cp.versions('grub')).length).toBe(1);
    const good = await tftpfn(['deploy', 'grub', '-d', dir, '--smoke', 'grub.cfg-01-52-54-00-12-34-56']);
    expect(good.code).toBe(0);
    expect(good.stdout).toMatch(/smoke grub\.cfg-01-52-54-00-12-34-56: bytes, 4 bytes: ok/);
    ids.push(/deployed version (\S+),/.exec(good.stdout)![1]);
    expect((await stableOf()).stable).toBe(ids[1]);
  }, 60_000);

  it('deploy --percent makes a canary; rollout --promote and --abort end it', async () => {
    grub('grub v3\n');
    const canary = await tftpfn(['deploy', 'grub', '-d', dir, '--percent', '30']);
    expect(canary.code).toBe(0);
    ids.push(/deployed version (\S+),/.exec(canary.stdout)![1]);
    expect(canary.stdout).toContain(`grub: now stable ${ids[1]}, canary ${ids[2]} for 30% of clients (revision 3)`);
    expect(await stableOf()).toMatchObject({ stable: ids[1], canary: { version: ids[2], percent: 30 } });

    const promote = await tftpfn(['rollout', 'grub', '--promote', '-d', dir]);
    expect(promote.code).toBe(0);
    expect(promote.stdout).toContain(`grub: promoted ${ids[2]} to stable for every client (revision 4)`);
    const promoted = await stableOf();
    expect(promoted.stable).toBe(ids[2]);
    expect(promoted.canary).toBeUndefined();

    const again = await tftpfn(['rollout', 'grub', ids[0], '--percent', '10', '-d', dir]);
    expect(again.code).toBe(0);
    const abort = await tftpfn(['rollout', 'grub', '--abort', '-d', dir]);
    expect(abort.code).toBe(0);
    expect(abort.stdout).toContain(`grub: canary ${ids[0]} aborted; ${ids[2]} serves every client (revision 6)`);
    expect(await stableOf()).toMatchObject({ stable: ids[2], revision: 6 });
    expect((await stableOf()).canary).toBeUndefined();

    const out = await tftpfn(['rollout', 'grub', ids[0], '--percent', '150', '-d', dir]);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain('--percent 150 is out of range: give a whole number from 1 to 99');
    expect((await stableOf()).revision).toBe(6);
  }, 60_000);

  it('versions: lists newest first with who, size, sha, message and the stable marker', async () => {
    const r = await tftpfn(['versions', 'grub', '-d', dir]);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^SERVES\s+VERSION\s+WHEN\s+WHO\s+SIZE\s+SHA256\s+MESSAGE$/);
    expect(lines[1]).toMatch(new RegExp(`^stable\\s+${ids[2]}\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ\\s+ci@test\\s+`));
    expect(lines[3]).toMatch(new RegExp(`^\\s+${ids[0]}\\s+.*first menu$`));
    expect(r.stdout).toContain(`grub: stable ${ids[2]} (revision 6`);
    // The gateway's config file works as is, though the folder it serves does not exist here.
    const viaConfig = join(work, 'gateway.json');
    writeFileSync(viaConfig, JSON.stringify({ root: '/srv/tftp-not-on-this-machine', deployDir: dir, port: 69 }));
    const same = await tftpfn(['versions', 'grub', '-c', viaConfig]);
    expect(same.code).toBe(0);
    expect(same.stdout).toBe(r.stdout);
    const unknown = await tftpfn(['versions', 'grbu', '-d', dir]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('tftpfn versions: unknown function "grbu" (the functions here are grub); deploy it first');
  }, 60_000);

  it('rollback: to the version before the stable by default, --to any version; unknown ones are refused', async () => {
    const back = await tftpfn(['rollback', 'grub', '-d', dir]);
    expect(back.code).toBe(0);
    expect(back.stdout).toContain(`grub: rolled back from stable ${ids[2]} to ${ids[1]} (revision 7)`);
    expect((await stableOf()).stable).toBe(ids[1]);
    const to = await tftpfn(['rollback', 'grub', '--to', ids[0], '-d', dir]);
    expect(to.code).toBe(0);
    expect((await stableOf()).stable).toBe(ids[0]);
    const unknown = await tftpfn(['rollback', 'grub', '--to', '20200101T000000000Z-deadbeef', '-d', dir]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('"grub" has no version 20200101T000000000Z-deadbeef; list them with tftpfn versions grub');
    // The plane remembers the stable each change replaced (Rollout.previousStable): a plain
    // rollback now returns to the version that served before --to, not to an older one.
    const again = await tftpfn(['rollback', 'grub', '-d', dir]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`grub: rolled back from stable ${ids[0]} to ${ids[1]} (revision 9)`);
    expect(await stableOf()).toMatchObject({ stable: ids[1], previousStable: ids[0], revision: 9 });
  }, 60_000);
});

describe('tftpfn secret (deploy folder)', () => {
  const put = (key: string, value: string, env: Record<string, string | undefined>) => {
    const run = spawnCli(['secret', 'put', 'grub', key, '-d', dir], { cwd: work, env: { ...ENV, ...env }, timeoutMs: 30_000 });
    run.child.stdin!.end(`${value}\n`);
    return run.done;
  };

  it('secret: put reads stdin and never prints the value; list shows names; rm deletes; no key names the fix', async () => {
    const noKey = await put('API_TOKEN', 'tok-123-secret', {});
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toContain('set TFTPFN_SECRETS_KEY (openssl rand -hex 32) or secretsKeyFile');
    expect(await cp.secretNames('grub')).toEqual([]);

    const ok = await put('API_TOKEN', 'tok-123-secret', { TFTPFN_SECRETS_KEY: KEY });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe("grub: secret API_TOKEN set (14 bytes, encrypted); running gateways load it within one check of the control plane (controlPollMs, 5 s by default) without a restart; a gateway that starts uses it at once\n");
    expect(ok.stdout + ok.stderr).not.toContain('tok-123-secret');
    const keyed = await openControlPlane(parseConfig({ deployDir: dir, secretsKey: KEY }));
    expect(await keyed.secrets('grub')).toEqual({ API_TOKEN: 'tok-123-secret' });
    await keyed.close();
    const list = await tftpfn(['secret', 'list', 'grub', '-d', dir]);
    expect(list.code).toBe(0);
    expect(list.stdout).toBe('API_TOKEN\n');
    const rm = await tftpfn(['secret', 'rm', 'grub', 'API_TOKEN', '-d', dir], { TFTPFN_SECRETS_KEY: KEY });
    expect(rm.code).toBe(0);
    expect(rm.stdout).toBe('grub: secret API_TOKEN deleted\n');
    const gone = await tftpfn(['secret', 'rm', 'grub', 'API_TOKEN', '-d', dir], { TFTPFN_SECRETS_KEY: KEY });
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('grub has no secret API_TOKEN (it has none)');
  }, 60_000);
});
