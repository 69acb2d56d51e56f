/**
 * `tftpfn init` (issue 14) as a new user meets it: the project it writes depends on the tftpfn
 * tarball (`npm pack` of a copy of the checkout, as test/integration/package-install.test.ts
 * packs; a file: dependency stands in for the registry), is installed with npm (packages from
 * the npm cache when there, `--prefer-offline`), passes its own test (`npm test`: vitest, the
 * SDK's invoke harness), and `npx tftpfn dev` serves it: hello.txt fetched over TFTP. The
 * manifest it writes is one `deploy` accepts (control/manifest.ts), and it never overwrites.
 */
import type { SpawnSyncReturns } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { get } from '../../client/index.js';
import { readManifest } from '../../gateway/src/control/manifest.js';
import { BIN } from '../helpers/cli.js';
import { freePort } from '../helpers/free-port.js';
import { packCheckout, runClean, startNpx } from '../helpers/packed-checkout.js';

const INSTALL_TIMEOUT_MS = 240_000;
let work: string;
let project: string;
let initRun: SpawnSyncReturns<string>;

const run = runClean;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'tftpfn-init-'));
  const { tarball } = packCheckout(work);

  project = join(work, 'My Function');
  initRun = run(process.execPath, [BIN, 'init', project, '--tftpfn', `file:${tarball}`], work, 30_000);
  if (initRun.status !== 0) throw new Error(`tftpfn init failed (${initRun.status}): ${initRun.stderr}`);
  const install = run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund'], project, INSTALL_TIMEOUT_MS);
  if (install.status !== 0) throw new Error(`npm install in the new project failed (${install.status}): ${install.stderr}`);
}, INSTALL_TIMEOUT_MS + 180_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

test('init: writes the entry, a test, the manifest beside the entry, package.json and README, named after the folder', async () => {
  expect(initRun.stdout).toContain('tftpfn init: wrote 7 files');
  const pkg = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8')) as { name: string; dependencies: Record<string, string>; scripts: Record<string, string> };
  expect(pkg.name).toBe('my-function');
  expect(pkg.dependencies.tftpfn).toMatch(/^file:.*tftpfn-0\.1\.0\.tgz$/);
  expect(readFileSync(join(project, 'src/index.ts'), 'utf8')).toContain("from 'tftpfn/sdk'");
  expect(readFileSync(join(project, 'test/index.test.ts'), 'utf8')).toContain('invoke(handle');
  expect(readFileSync(join(project, 'README.md'), 'utf8')).toContain('npm run dev');
  // The manifest deploy would read for src/index.ts, accepted by deploy's own parser.
  expect(await readManifest(join(project, 'src/index.ts'))).toMatchObject({ vars: { GREETING: 'hello' }, timeoutMs: 5000 });
  // Run again into the same folder: refused, naming the files, nothing overwritten.
  writeFileSync(join(project, 'src/index.ts'), '// mine\n', { flag: 'a' });
  const again = run(process.execPath, [BIN, 'init', project], work, 30_000);
  expect(again.status).toBe(2);
  expect(again.stderr).toMatch(/already has package\.json, src\/index\.ts.*never overwrites/);
  expect(readFileSync(join(project, 'src/index.ts'), 'utf8')).toMatch(/\/\/ mine\n$/);
});

test('init: the project passes its own test (npm test: vitest through the SDK invoke harness)', () => {
  const r = run('npm', ['test'], project, 120_000);
  expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
  expect(r.stdout).toMatch(/Tests\s+.*3 passed/);
});

test('init: npx tftpfn dev serves the project; hello.txt over TFTP', async () => {
  const port = await freePort('udp');
  const dev = await startNpx(['tftpfn', 'dev', 'src/index.ts', '--name', 'my-function', '--port', String(port)], project, 'for changes (Ctrl-C stops)');
  try {
    expect(dev.output(), dev.output()).toContain(`my-function (local-`);
    const { data } = await get({ host: '127.0.0.1', port, path: 'hello.txt', timeoutMs: 2000, retries: 3 });
    expect(data!.toString()).toBe('hello from my-function, 127.0.0.1\n');
  } finally {
    await dev.stop();
  }
});

test('init: a name npm would refuse is refused with the fix', () => {
  const dir = join(work, 'named');
  mkdirSync(dir);
  const r = run(process.execPath, [BIN, 'init', dir, '--name', 'Bad Name'], work, 30_000);
  expect(r.status).toBe(2);
  expect(r.stderr).toContain('--name Bad Name: use lower case letters, digits, - and _');
});
