/**
 * The author tools as a user runs them: `tftpfn build`, `invoke` and `deploy` as real child
 * processes on function files written to a temp folder, asserting on their output, files and
 * exit codes. Needs the build (`npm run build`); the suite builds once when dist/ is missing.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '../..');
let work: string;

beforeAll(() => {
  if (!existsSync(join(repo, 'dist/gateway/src/cli/main.js'))) {
    const r = spawnSync('npm', ['run', 'build', '--silent'], { cwd: repo, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('npm run build failed');
  }
  work = mkdtempSync(join(tmpdir(), 'tftpfn-cli-fn-'));
  write('hello.ts', `import { text, type Handler } from 'tftpfn/sdk';
export const handle: Handler = (r, env) => {
  env.log.info({ path: r.path }, 'hello called');
  return text('hi ' + r.path + ' from ' + r.peer.address + ' T=' + (env.vars.T ?? '-') + ' tsize=' + (r.options.tsize ?? '-') + '\\n');
};
`);
  write('missing.ts', `import { notFound } from 'tftpfn/sdk';\nexport const handle = () => notFound();\n`);
  write('hang.js', `export const handle = () => new Promise(() => { setInterval(() => {}, 1000); });\n`);
  write('spin.js', `export const handle = () => { for (;;) {} };\n`);
  write('throws.ts', `export const handle = () => {\n  throw new Error('kaboom');\n};\n`);
  write('late-throw.js', `export const handle = () => new Promise(() => { setTimeout(() => { throw new Error('late boom'); }, 1); });\n`);
  write('exits.js', `export const handle = () => process.exit(3);\n`);
  write('no-handle.js', `export const hello = 1;\n`);
  write('binary.ts', `import { bytes } from 'tftpfn/sdk';
export const handle = () => bytes(Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) % 256));
`);
  write('broken.ts', `import { text } from 'tftpfn/sdk';\nexport const handle = () => {\n  return text('x';\n};\n`);
  write('grub/index.ts', `import { text } from 'tftpfn/sdk';\nexport const handle = () => text('grub v1\\n');\n`);
}, 120_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

function write(rel: string, text: string): void {
  const p = join(work, rel);
  spawnSync('mkdir', ['-p', dirname(p)]);
  writeFileSync(p, text);
}

/** Runs the CLI in the temp folder; resolves with its exit code and output. */
const tftpfn = (args: string[], env: Record<string, string> = {}) => runCli(args, { cwd: work, env, timeoutMs: 60_000 });

describe('tftpfn build', () => {
  it('build: writes function.mjs and its map to dist-functions/<name>/ and prints the size', async () => {
    const r = await tftpfn(['build', 'hello.ts']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const bundle = join(work, 'dist-functions/hello/function.mjs');
    const size = statSync(bundle).size;
    expect(r.stdout).toContain(`dist-functions/hello/function.mjs  ${size} bytes (${(size / 1024).toFixed(1)} KiB), built in `);
    expect(r.stdout).toMatch(/built in \d+ ms/);
    // Sources are absolute, so traces still name the author's file once the bundle is moved.
    expect(JSON.parse(readFileSync(join(work, 'dist-functions/hello/function.mjs.map'), 'utf8')).sources).toContain(join(work, 'hello.ts'));
    expect(readFileSync(join(work, 'dist-functions/hello/function.mjs'), 'utf8')).toMatch(/\/\/# sourceMappingURL=function\.mjs\.map\s*$/);
    // The SDK is inlined: the bundle imports nothing but node: builtins.
    expect(readFileSync(bundle, 'utf8')).not.toMatch(/from ['"]tftpfn/);
  });

  it('build: a folder builds its index.ts under the folder name; -o and --minify are honoured', async () => {
    const r = await tftpfn(['build', 'grub', '-o', 'out/grub-min', '--minify']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('out/grub-min/function.mjs');
    const min = statSync(join(work, 'out/grub-min/function.mjs')).size;
    expect((await tftpfn(['build', 'grub'])).code).toBe(0);
    expect(statSync(join(work, 'dist-functions/grub/function.mjs')).size).toBeGreaterThan(min);
  });

  it('build: a syntax error prints file:line:col and exits 1 without writing output', async () => {
    const r = await tftpfn(['build', 'broken.ts']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('tftpfn build: cannot bundle broken.ts:');
    expect(r.stderr).toMatch(/broken\.ts:3:18: Expected "\)" but found ";"/);
    expect(existsSync(join(work, 'dist-functions/broken'))).toBe(false);
  });

  it('build: a missing file is named, exit 1', async () => {
    const r = await tftpfn(['build', 'nope.ts']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('nope.ts does not exist');
  });
});

describe('tftpfn invoke', () => {
  it('invoke: prints kind, tsize, size, logs and a short text body; exit 0', async () => {
    const r = await tftpfn(['invoke', 'hello.ts', '--path', '/boot.cfg', '--peer', '10.0.0.7', '--var', 'T=5', '--option', 'tsize=0']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const body = 'hi boot.cfg from 10.0.0.7 T=5 tsize=0\n';
    expect(r.stdout).toBe(
      [
        'response: bytes',
        `tsize: ${body.length}`,
        `size: ${body.length} bytes (${(body.length / 1024).toFixed(2)} KiB)`,
        'logs:',
        '  [info] hello called {"path":"boot.cfg"}',
        'body:',
        body,
      ].join('\n'),
    );
  });

  it('invoke: notFound() is ERROR 1 and exit 1', async () => {
    const r = await tftpfn(['invoke', 'missing.ts', '--path', 'x']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('response: error');
    expect(r.stdout).toContain('error: 1 file not found');
  });

  it('invoke: a throw is ERROR 0 with the stack pointing at the source line; exit 1', async () => {
    const r = await tftpfn(['invoke', 'throws.ts', '--path', 'x']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('error: 0 internal error');
    expect(r.stdout).toContain('Error: kaboom');
    expect(r.stdout).toContain(`${join(work, 'throws.ts')}:2:9`);
  });

  it('invoke: --timeout-ms cuts off a handler that never settles, and one stuck in a loop; exit 1', async () => {
    for (const file of ['hang.js', 'spin.js']) {
      const r = await tftpfn(['invoke', file, '--path', 'x', '--timeout-ms', '300']);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('handler did not finish within 300 ms');
      expect(r.ms).toBeLessThan(20_000);
    }
  });

  it('invoke: an uncaught throw from a timer or process.exit() is reported as a crash; exit 1', async () => {
    const late = await tftpfn(['invoke', 'late-throw.js', '--path', 'x']);
    expect(late.code).toBe(1);
    expect(late.stderr).toContain('the function crashed its worker');
    expect(late.stderr).toContain('late boom');
    const exits = await tftpfn(['invoke', 'exits.js', '--path', 'x']);
    expect(exits.code).toBe(1);
    expect(exits.stderr).toContain('exited (code 3) before the handler answered');
  });

  it('invoke: a module without a handle export cannot be loaded; exit 2', async () => {
    const r = await tftpfn(['invoke', 'no-handle.js', '--path', 'x']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no-handle.js cannot be loaded: the module exports no handle function');
  });

  it('invoke: a binary body is shown as a hex preview of 256 bytes and --out writes every byte', async () => {
    const r = await tftpfn(['invoke', 'binary.ts', '--path', 'x', '--out', 'body.bin']);
    expect(r.code).toBe(0);
    const expected = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 7) % 256));
    expect(readFileSync(join(work, 'body.bin')).equals(expected)).toBe(true);
    expect(r.stdout).toContain('body: written to body.bin');
    expect(r.stdout).toContain('body (first 256 of 1000 bytes):');
    expect(r.stdout).toContain('00000000  00 07 0e 15 1c 23 2a 31  38 3f 46 4d 54 5b 62 69  |.....#*18?FMT[bi|');
    expect(r.stdout).toMatch(/^000000f0 /m);
    expect(r.stdout).not.toMatch(/^00000100 /m);
  });

  it('invoke: --json gives one object with the body in base64', async () => {
    const r = await tftpfn(['invoke', 'hello.ts', '--path', 'a', '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    const text = 'hi a from 192.0.2.10 T=- tsize=-\n';
    expect(j).toMatchObject({ kind: 'bytes', size: text.length, tsize: text.length, bodyText: text, logs: ['[info] hello called {"path":"a"}'] });
    expect(Buffer.from(j.body, 'base64').toString()).toBe(j.bodyText);
  });

  it('invoke: usage and bundle errors exit 2', async () => {
    expect((await tftpfn(['invoke', 'hello.ts'])).code).toBe(2); // no --path
    expect((await tftpfn(['invoke', 'hello.ts', '--path', 'x', '--peer', 'not-an-ip'])).code).toBe(2);
    const r = await tftpfn(['invoke', 'broken.ts', '--path', 'x']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/broken\.ts:3:18/);
  });
});

describe('tftpfn deploy', () => {
  it('deploy: publishes, says unchanged for the same code, lists, rolls back; --prune is deprecated', async () => {
    const dir = join(work, 'deploy-a');
    const first = await tftpfn(['deploy', 'grub', '--deploy-dir', dir]);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const v1 = /grub: deployed version (\S+), (\d+) bytes/.exec(first.stdout)!;
    expect(v1).not.toBeNull();
    // Issue 12: the folder control plane's layout (control/folder-control.ts): versions/<id>/, rollout.json.
    expect(JSON.parse(readFileSync(join(dir, 'grub/rollout.json'), 'utf8')).stable).toBe(v1[1]);
    expect(statSync(join(dir, 'grub/versions', v1[1], 'function.mjs')).size).toBe(Number(v1[2]));

    const again = await tftpfn(['deploy', 'grub', '--deploy-dir', dir]);
    expect(again.stdout).toContain(`grub: unchanged, the current version ${v1[1]} has the same code`);

    write('grub/index.ts', `import { text } from 'tftpfn/sdk';\nexport const handle = () => text('grub v2\\n');\n`);
    const second = await tftpfn(['deploy', 'grub', '--name', 'grub'], { TFTPFN_DEPLOY_DIR: dir });
    const v2 = /deployed version (\S+),/.exec(second.stdout)![1];
    expect(v2 > v1[1]).toBe(true);

    expect((await tftpfn(['deploy', '--list', '-d', dir])).stdout).toMatch(new RegExp(`^grub  ${v2}  `, 'm'));
    const listed = (await tftpfn(['deploy', '--list', '--name', 'grub', '-d', dir])).stdout.split('\n');
    expect(listed[0]).toMatch(new RegExp(`^  ${v1[1]}`));
    expect(listed[1]).toMatch(new RegExp(`^\\* ${v2}`));

    const back = await tftpfn(['deploy', '--name', 'grub', '--activate', v1[1], '-d', dir]);
    expect(back.stdout).toContain(`grub: current is now ${v1[1]}`);
    expect(JSON.parse(readFileSync(join(dir, 'grub/rollout.json'), 'utf8')).stable).toBe(v1[1]);
    expect(back.stderr).toContain(`tftpfn deploy --activate is deprecated; use tftpfn rollback grub --to ${v1[1]}`);

    // Issue 12: versions are pruned at publish (the newest 100 kept), so --prune only says so.
    const pruned = await tftpfn(['deploy', '--name', 'grub', '--prune', '0', '-d', dir]);
    expect(pruned.code).toBe(0);
    expect(pruned.stdout).toBe('grub: nothing to prune\n');
    expect(pruned.stderr).toContain('--prune is deprecated: the newest 100 versions of each function are kept');
    expect(readdirSync(join(dir, 'grub/versions')).sort()).toEqual([v1[1], v2].sort());
  });

  it('deploy: an unknown version, a bad name and a missing form are refused', async () => {
    const dir = join(work, 'deploy-b');
    const unknown = await tftpfn(['deploy', '--name', 'grub', '--activate', '20200101T000000000Z-deadbeef', '-d', dir]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('has no version 20200101T000000000Z-deadbeef');
    const bad = await tftpfn(['deploy', 'hello.ts', '--name', '../evil', '-d', dir]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('invalid function name "../evil"');
    expect(existsSync(dir)).toBe(false);
    expect((await tftpfn(['deploy', '-d', dir])).stderr).toContain('give exactly one of');
  });
});
