/**
 * Issue 14's safe and quiet defaults for `tftpfn serve`, run as an operator runs it (the
 * built CLI): no implicit sharing of the working directory, start-up errors printed once, the
 * demo config on loopback, no AWS SDK Node-version warning, no info line about a missing
 * object store nobody asked for, and no stack trace for a file that does not exist.
 */
import type { ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { get } from '../../client/get.js';
import { runCli, spawnCli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'tftpfn-serve-defaults-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The port in the gateway's listening log line, once it is printed (bounded by `timeoutMs`). */
function listeningPort(child: ChildProcess, timeoutMs: number): Promise<number> {
  let out = '';
  return new Promise<number>((resolve, reject) => {
    const bound = setTimeout(() => reject(new Error(`no listening line: ${out}`)), timeoutMs);
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /"addresses":\["127\.0\.0\.1:(\d+)"\]/.exec(out);
      if (m) {
        clearTimeout(bound);
        resolve(Number(m[1]));
      }
    });
  });
}

/** Environment without TFTPFN_* (the suite may set some) and without the SDK switch, as a user's shell. */
const cleanEnv = () => Object.fromEntries(Object.keys(process.env).filter((k) => k.startsWith('TFTPFN_') || k === 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED').map((k) => [k, undefined]));

describe('serve: safe and quiet defaults (issue 14)', () => {
  it('serve: with no --root, TFTPFN_ROOT or config file it exits 2 naming --root, instead of sharing the working directory', async () => {
    const r = await runCli(['serve', '--host', '127.0.0.1', '--port', '0'], { cwd: dir, env: cleanEnv(), timeoutMs: 20_000 });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([
      'tftpfn serve: no folder to serve: give --root DIR (or TFTPFN_ROOT, or "root" in a config file given with -c); tftpfn serve does not share the working directory unless asked to (--root .)',
    ]);
    expect(r.stdout).toBe('');
  });

  it("serve: a start-up error is printed once, in one place, without a stack (a function's missing root)", async () => {
    const config = join(dir, 'missing-fn-root.json');
    writeFileSync(config, JSON.stringify({ root: '.', functions: { grub: { entry: 'fn.ts', root: 'no-such-folder' } } }));
    writeFileSync(join(dir, 'fn.ts'), 'export default { handle() { return "x"; } };');
    const r = await runCli(['serve', '-c', config, '--host', '127.0.0.1', '--port', '0'], { cwd: '/', env: cleanEnv(), timeoutMs: 20_000 });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`field "functions.grub.root" (from config file ${config}): ${join(dir, 'no-such-folder')} does not exist`);
    expect(r.stderr).not.toMatch(/\n\s+at |"stack"|lstat|"level"/);
    expect(r.stderr.match(/does not exist/g)).toHaveLength(1);
  });

  it('serve: a failure while starting (the port is taken) is one stderr line, no JSON line with a stack', async () => {
    const holder = createSocket('udp4');
    await new Promise<void>((resolve) => holder.bind(0, '127.0.0.1', resolve));
    try {
      const r = await runCli(['serve', '--root', dir, '--host', '127.0.0.1', '--port', String(holder.address().port)], { env: cleanEnv(), timeoutMs: 20_000 });
      expect(r.code).toBe(1);
      expect(r.stdout).not.toMatch(/"stack"|"level":60|startFailed/);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^tftpfn serve: .*EADDRINUSE/);
    } finally {
      holder.close();
    }
  });

  it('serve: the demo config (npm start) listens on loopback only, relative paths resolved against examples/', async () => {
    const run = spawnCli(['serve', '-c', 'examples/gateway.json', '--port', '0'], { env: cleanEnv(), timeoutMs: 60_000 });
    let out = '';
    const line = await new Promise<string>((resolve, reject) => {
      const bound = setTimeout(() => reject(new Error(`no listening line: ${out}`)), 55_000);
      run.child.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /^.*"event":"listening".*$/m.exec(out);
        if (m) {
          clearTimeout(bound);
          resolve(m[0]);
        }
      });
    });
    run.child.kill('SIGTERM');
    await run.done;
    expect(JSON.parse(line).addresses).toEqual([expect.stringMatching(/^127\.0\.0\.1:\d+$/)]);
    expect(JSON.parse(line).functions).toHaveLength(4);
  }, 70_000);

  it('serve: a plain run prints no AWS SDK Node-version warning and no noObjectStore line; a missing file logs no stack', async () => {
    const root = join(dir, 'root');
    mkdirSync(root);
    writeFileSync(join(root, 'a.txt'), 'a');
    const run = spawnCli(['serve', '--root', root, '--host', '127.0.0.1', '--port', '0'], { cwd: dir, env: cleanEnv(), timeoutMs: 30_000 });
    const port = await listeningPort(run.child, 25_000);
    await expect(get({ host: '127.0.0.1', port, path: 'grub/x86_64-efi/command.lst', timeoutMs: 500, retries: 2 })).rejects.toThrow();
    const ok = await get({ host: '127.0.0.1', port, path: 'a.txt', timeoutMs: 500, retries: 2 });
    expect(ok.data?.toString()).toBe('a');
    run.child.kill('SIGTERM');
    const r = await run.done;
    expect(r.stderr).not.toContain('NodeVersionSupportWarning');
    expect(r.stderr).toBe('');
    expect(r.stdout).not.toContain('noObjectStore');
    expect(r.stdout).not.toContain('"stack"');
    expect(r.stdout).toContain('"event":"listening"');
  }, 40_000);

  it('serve: not-found from a folder, a bucket and a function (notFound() and a missing file()) logs the cause code only, never a stack', async () => {
    const base = join(dir, 'nf');
    mkdirSync(join(base, 'root'), { recursive: true });
    mkdirSync(join(base, 'buckets', 'boot'), { recursive: true });
    writeFileSync(
      join(base, 'fn.ts'),
      "import { file, notFound, text } from 'tftpfn/sdk';\nexport const handle = (r) => (r.path.endsWith('nf') ? notFound() : r.path.endsWith('file') ? file('missing.bin') : text('x'));\n",
    );
    const config = join(base, 'gateway.json');
    writeFileSync(
      config,
      JSON.stringify({
        root: 'root',
        bucketsDir: 'buckets',
        functions: { f: { entry: 'fn.ts', root: 'root', poolSize: 1, isolation: 'thread' } },
        routes: [
          { match: 'fn/**', function: 'f' },
          { match: 'b/**', bucket: 'boot', stripPrefix: true },
        ],
        defaultRoute: { folder: 'root' },
      }),
    );
    const run = spawnCli(['serve', '-c', config, '--host', '127.0.0.1', '--port', '0'], { cwd: '/', env: cleanEnv(), timeoutMs: 60_000 });
    const port = await listeningPort(run.child, 55_000);
    for (const path of ['fn/nf', 'fn/file', 'b/missing.bin', 'missing.txt']) {
      await expect(get({ host: '127.0.0.1', port, path, timeoutMs: 500, retries: 2 })).rejects.toThrow(/not found/i);
    }
    run.child.kill('SIGTERM');
    const r = await run.done;
    const records = r.stdout.split('\n').filter((l) => l.includes('"outcome":"not-found"'));
    expect(records).toHaveLength(4);
    expect(r.stdout).not.toMatch(/"stack"|"err":/);
    expect(r.stdout).not.toContain('noObjectStore');
  }, 70_000);
});
