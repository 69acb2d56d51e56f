/**
 * What a newcomer runs: `npm start`'s config (the example functions behind routes) and
 * `tftpfn dev` (serve one function, reload on save), as child processes fetched with curl.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, test } from 'vitest';
import { describeRun, runClient } from '../interop/run-client.js';
import { alive, sandboxHosts } from '../helpers/sandbox-processes.js';
import { freePortPair } from '../helpers/free-port-pair.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '../..');
const bin = join(repo, 'bin/tftpfn.js');
const children: ChildProcess[] = [];

afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

/** Starts the CLI and resolves with its output so far once `ready` matches it. */
function start(args: string[], ready: RegExp): Promise<{ child: ChildProcess; output: () => string; match: RegExpExecArray }> {
  const child = spawn(process.execPath, [bin, ...args], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready within 20 s:\n${out}`)), 20_000);
    const onData = (s: Buffer) => {
      out += s.toString();
      const m = ready.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, output: () => out, match: m });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before ready:\n${out}`));
    });
  });
}

async function curl(port: number, path: string): Promise<string> {
  const out = join(mkdtempSync(join(tmpdir(), 'tftpfn-dev-curl-')), 'f');
  const args = ['-sS', '-o', out, `tftp://127.0.0.1:${port}/${path}`];
  const r = await runClient('curl', args);
  if (r.code !== 0) throw new Error(describeRun('curl', args, r));
  return readFileSync(out, 'utf8');
}

describe('npm start: the example functions behind the example routes', () => {
  test('hello, grub, ipxe and static answer through their routes', async () => {
    const { match } = await start(['serve', '-c', 'examples/gateway.json', '--host', '127.0.0.1', '--port', '0'], /"addresses":\["127\.0\.0\.1:(\d+)"\]/);
    const port = Number(match[1]);
    expect(await curl(port, 'hello.txt')).toMatch(/^id: .+\nkind: read\npath: hello\.txt\n/);
    expect(await curl(port, 'grub/grub.cfg-01-52-54-00-12-34-56')).toContain("menuentry 'web01.lab.example'");
    expect(await curl(port, 'boot.ipxe')).toMatch(/^#!ipxe\n/);
    expect(await curl(port, 'static/hello.txt')).toBe(readFileSync(join(repo, 'examples/tftproot/hello.txt'), 'utf8'));
  });
});

describe('tftpfn dev', () => {
  test('serves the function and reloads it when the file is saved; a broken save keeps the last good build', async () => {
    const dir = mkdtempSync(join(repo, 'test/fixtures/functions/.dev-'));
    const entry = join(dir, 'index.ts');
    const write = (body: string) => writeFileSync(entry, `import { text } from 'tftpfn/sdk';\nexport const handle = () => text(${body});\n`);
    write("'first\\n'");
    const dev = await start(['dev', entry, '--port', '0', '--json'], /on 127\.0\.0\.1:(\d+)/);
    const port = Number(dev.match[1]);
    // The name comes from the folder (leading dots dropped): '.dev-xyz' serves as 'dev-xyz'.
    expect(dev.output()).toContain(`tftpfn dev: ${dir.split('/').pop()!.replace(/^\./, '')} (local-`);
    expect(await curl(port, 'x')).toBe('first\n');

    write("'second\\n'");
    const end = Date.now() + 10_000;
    while (Date.now() < end && !/reloaded .* in \d+ ms/.test(dev.output())) await new Promise((r) => setTimeout(r, 50));
    expect(await curl(port, 'x')).toBe('second\n');

    // A save that replaces the file (sed -i writes a temp file and renames it over the entry):
    // Node 20's recursive fs.watch lost the file after such a save; the watch on its folder does not.
    const reloads = () => (dev.output().match(/reloaded .* in \d+ ms/g) ?? []).length;
    const before = reloads();
    execFileSync('sed', ['-i', 's/second/third/', entry]);
    for (const end3 = Date.now() + 10_000; Date.now() < end3 && reloads() === before; ) await new Promise((r) => setTimeout(r, 50));
    expect(await curl(port, 'x')).toBe('third\n');
    const before2 = reloads();
    execFileSync('sed', ['-i', 's/third/fourth/', entry]);
    for (const end4 = Date.now() + 10_000; Date.now() < end4 && reloads() === before2; ) await new Promise((r) => setTimeout(r, 50));
    expect(await curl(port, 'x')).toBe('fourth\n');
    // Only the bundle's files are watched: a log written beside it rebuilds nothing.
    const before3 = reloads();
    writeFileSync(join(dir, 'dev.log'), 'a line\n');
    await new Promise((r) => setTimeout(r, 300));
    expect(reloads()).toBe(before3);
    expect(dev.output()).not.toContain('unchanged, still serving');
    expect(dev.output()).toMatch(/watching 1 source file of index\.ts's bundle|watching \d+ source files of index\.ts's bundle/);

    writeFileSync(entry, "export const handle = () => (;\n");
    const end2 = Date.now() + 10_000;
    while (Date.now() < end2 && !dev.output().includes('still serving')) await new Promise((r) => setTimeout(r, 50));
    expect(dev.output()).toMatch(/tftpfn dev: cannot bundle .*index\.ts:\n.*index\.ts:1:\d+: Unexpected/);
    expect(dev.output()).toMatch(/still serving local-[0-9a-f]+; fix the file/);
    expect(await curl(port, 'x')).toBe('fourth\n');
    const { rmSync } = await import('node:fs');
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('tftpfn dev: bursts', () => {
  test('five saves in a row are one rebuild, and the last one serves', async () => {
    const dir = mkdtempSync(join(repo, 'test/fixtures/functions/.dev-burst-'));
    const entry = join(dir, 'index.ts');
    const write = (body: string) => writeFileSync(entry, `import { text } from 'tftpfn/sdk';\nexport const handle = () => text('${body}\\n');\n`);
    write('v0');
    const dev = await start(['dev', entry, '--port', '0', '--json'], /on 127\.0\.0\.1:(\d+)/);
    const port = Number(dev.match[1]);
    expect(await curl(port, 'x')).toBe('v0\n');
    // Written back to back (no await between them): the watcher sees one burst.
    for (const v of ['v1', 'v2', 'v3', 'v4', 'v5']) write(v);
    let served = '';
    for (const end = Date.now() + 10_000; Date.now() < end && served !== 'v5\n'; ) {
      await new Promise((r) => setTimeout(r, 50));
      if (/reloaded .* in \d+ ms/.test(dev.output())) served = await curl(port, 'x');
    }
    expect(served).toBe('v5\n');
    // One burst, one reload; a second is tolerated only if the machine stalled past the 30 ms
    // debounce (sourceWatchDebounceMs, 100 ms before the watch followed only the bundle's
    // files) between two of the watcher's events. Never one per save.
    const reloads = dev.output().match(/tftpfn dev: reloaded /g) ?? [];
    expect(reloads.length).toBeGreaterThanOrEqual(1);
    expect(reloads.length).toBeLessThanOrEqual(2);
    const { rmSync } = await import('node:fs');
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('tftpfn dev: its processes', () => {
  test.each(['SIGINT', 'SIGKILL'] as const)('tftpfn dev keeps a warm spare beside its worker, and leaves neither behind after %s', async (signal) => {
    const dir = mkdtempSync(join(repo, 'test/fixtures/functions/.dev-spare-'));
    const entry = join(dir, 'index.ts');
    writeFileSync(entry, "import { text } from 'tftpfn/sdk';\nexport const handle = () => text('v0\\n');\n");
    const dev = await start(['dev', entry, '--port', '0', '--json'], /on 127\.0\.0\.1:(\d+)/);
    expect(await curl(Number(dev.match[1]), 'x')).toBe('v0\n');
    let hosts: number[] = [];
    for (const end = Date.now() + 10_000; Date.now() < end && hosts.length < 2; ) {
      await new Promise((r) => setTimeout(r, 50));
      hosts = sandboxHosts(dev.child.pid!);
    }
    expect(hosts).toHaveLength(2);
    const exited = new Promise((r) => dev.child.once('exit', r));
    dev.child.kill(signal);
    await exited;
    // SIGINT: dev closes the pool and the spare; SIGKILL: each host exits when its pipe closes.
    for (const end = Date.now() + 5000; Date.now() < end && hosts.some(alive); ) await new Promise((r) => setTimeout(r, 50));
    expect(hosts.filter(alive)).toEqual([]);
    const { rmSync } = await import('node:fs');
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('serve --processes 2 with metrics', () => {
  test('each process serves /metrics and /readyz on its own port: metricsPort + its slot', async () => {
    const base = await freePortPair();
    const args = ['serve', '--processes', '2', '--metrics-port', String(base), '--host', '127.0.0.1', '--port', '0', '--root', 'examples/tftproot'];
    const { output } = await start(args, /"port":\d+,"msg":"metrics endpoint listening"[\s\S]*"port":\d+,"msg":"metrics endpoint listening"/);
    const ports = [...output().matchAll(/"port":(\d+),"msg":"metrics endpoint listening"/g)].map((m) => Number(m[1])).sort();
    expect(ports).toEqual([base, base + 1]);
    for (const port of ports) {
      expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
      expect(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).toContain('tftpfn_sessions_active');
    }
  });
});
