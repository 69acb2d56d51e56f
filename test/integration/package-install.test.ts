/**
 * Install outside a checkout (issue 14): a copy of the checkout without dist/ is packed with
 * `npm pack` (prepack builds dist/), the tarball is installed into an empty project, and from
 * there `npx tftpfn serve` serves a folder, `tftpfn invoke` runs a function written against
 * `tftpfn/sdk`, a script imports `tftpfn/sdk` and `tftpfn/client` by name, and TypeScript finds
 * the types the package's exports name. Dependencies come from the npm cache when they are there
 * (`--prefer-offline`), else from the registry.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { get } from '../../client/index.js';
import { REPO } from '../helpers/cli.js';
import { cleanEnv, packCheckout, runClean, startNpx } from '../helpers/packed-checkout.js';
import { freePort } from '../helpers/free-port.js';

const INSTALL_TIMEOUT_MS = 240_000;

let work: string;
let tarball: string;
let tarballFiles: string[];
let app: string;
let packRun: SpawnSyncReturns<string>;
let installRun: SpawnSyncReturns<string>;

function npm(args: string[], cwd: string, timeoutMs: number): SpawnSyncReturns<string> {
  return runClean('npm', args, cwd, timeoutMs);
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'tftpfn-pkg-'));
  // A checkout as a user would have it after `git clone`: no dist/, no build.
  const packed = packCheckout(work);
  packRun = packed.packRun;
  tarball = packed.tarball;
  tarballFiles = [...packed.files];

  app = join(work, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  installRun = npm(['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], app, INSTALL_TIMEOUT_MS);
  if (installRun.status !== 0) throw new Error(`npm install ${tarball} failed (${installRun.status}): ${installRun.stderr}`);
}, INSTALL_TIMEOUT_MS + 150_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

test('package: npm pack of a checkout without dist/ builds it and ships the CLI, dist, the typed sources the exports name, README and LICENSE', () => {
  expect(readdirSync(work)).toContain('tftpfn-0.1.0.tgz');
  for (const f of ['bin/tftpfn.js', 'dist/gateway/src/cli/main.js', 'dist/gateway/src/runtime/worker-main.js', 'dist/sdk/index.js', 'dist/client/index.js', 'sdk/index.ts', 'client/index.ts', 'gateway/src/index.ts', 'README.md', 'LICENSE', 'package.json', 'infra/systemd/tftpfn.service']) {
    expect(tarballFiles, f).toContain(f);
  }
  // Neither the tests nor the benchmark harness are part of what users install.
  expect(tarballFiles.filter((f) => f.startsWith('test/') || f.startsWith('dist/bench/'))).toEqual([]);
});

test('package: installed from the tarball into an empty project, npx tftpfn serve --root serves a folder', async () => {
  const root = join(work, 'tftproot');
  mkdirSync(root);
  const body = Buffer.from('served from an installed tarball\n'.repeat(100));
  writeFileSync(join(root, 'boot.txt'), body);
  const port = await freePort('udp');
  const gw = await startNpx(['tftpfn', 'serve', '--root', root, '--host', '127.0.0.1', '--port', String(port), '--metrics-port', '0'], app, '"event":"listening"');
  try {
    expect(gw.output(), gw.output()).toContain('"event":"listening"');
    const { data } = await get({ host: '127.0.0.1', port, path: 'boot.txt', blksize: 1468 });
    expect(data).toEqual(body);
  } finally {
    await gw.stop();
  }
  expect(gw.output()).toContain('"event":"stopped"');
});

test('package: a script in that project imports tftpfn/sdk and tftpfn/client by name, and tftpfn invoke runs a function written against the SDK', async () => {
  writeFileSync(
    join(app, 'check.mjs'),
    `import { text } from 'tftpfn/sdk';
     import { createGateway } from 'tftpfn';
     import { get } from 'tftpfn/client';
     const r = text('hi');
     const gw = await createGateway({ hosts: ['127.0.0.1'], port: 0, logLevel: 'silent', handle: (req) => text('installed ' + req.path) });
     const { data } = await get({ host: '127.0.0.1', port: gw.port, path: 'x/y' });
     await gw.close(0);
     console.log(JSON.stringify({ kind: r.kind, size: r.size, got: data.toString() }));`,
  );
  const script = spawnSync(process.execPath, ['check.mjs'], { cwd: app, env: cleanEnv(), encoding: 'utf8', timeout: 30_000 });
  expect(script.stderr).toBe('');
  expect(JSON.parse(script.stdout)).toEqual({ kind: 'bytes', size: 2, got: 'installed x/y' });

  // A function file outside the package, bundled against the installed SDK and run in a worker.
  writeFileSync(join(app, 'hello.ts'), `import { text, type Handler } from 'tftpfn/sdk';\nexport const handle: Handler = (req) => text('hello ' + req.path + '\\n');\n`);
  const invoke = spawnSync('npx', ['--no', 'tftpfn', 'invoke', 'hello.ts', '--path', 'a.txt'], { cwd: app, env: cleanEnv(), encoding: 'utf8', timeout: 60_000 });
  expect(invoke.status, invoke.stderr).toBe(0);
  expect(invoke.stdout).toContain('hello a.txt');
});

test('package: TypeScript resolves the types of tftpfn, tftpfn/sdk and tftpfn/client from the installed package', () => {
  writeFileSync(
    join(app, 'typed.ts'),
    `import { text, type Handler } from 'tftpfn/sdk';\nimport type { GatewayConfig } from 'tftpfn';\nimport { get } from 'tftpfn/client';\n` +
      `export const handle: Handler = (req) => text(req.path);\nexport const port: GatewayConfig['port'] = 69;\nexport const fetchIt = get;\n` +
      // A deliberate type error proves the types are real, not `any`.
      `// @ts-expect-error text() takes a string\ntext(42);\n`,
  );
  const tsc = join(REPO, 'node_modules/.bin/tsc');
  const r = spawnSync(
    tsc,
    ['--noEmit', '--strict', '--skipLibCheck', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node', '--typeRoots', join(REPO, 'node_modules/@types'), 'typed.ts'],
    { cwd: app, env: cleanEnv(), encoding: 'utf8', timeout: 60_000 },
  );
  expect(r.stdout + r.stderr).toBe('');
  expect(r.status).toBe(0);
});
