/**
 * `tftpfn serve` restarts itself with its V8 flags where node can replace its own process image
 * (process.execve: Node 22.15+ and 24, which the test command also runs this file on), keeping
 * its pid; on Node 20 it runs as started. Either way it serves. The flags are in bin/tftpfn.js
 * (heap limits, and no allocation-site pretenuring: docs/PERFORMANCE.md "The 1 KiB row: allocations and two V8 flags").
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnCli, type CliRun } from '../../helpers/cli.js';

const FLAGS = ['--max-semi-space-size=2', '--max-old-space-size=512', '--no-allocation-site-pretenuring', '--no-memory-reducer'];
const canExecve = typeof (process as { execve?: unknown }).execve === 'function';

let run: CliRun | undefined;
afterEach(async () => {
  run?.child.kill('SIGTERM');
  await run?.done.catch(() => {});
  run = undefined;
});

async function startServe(extraEnv: Record<string, string | undefined> = {}): Promise<{ argv: string[]; stdout: () => string }> {
  run = spawnCli(['serve', '--host', '127.0.0.1', '--port', '0', '--root', 'examples/tftproot'], { env: { NODE_OPTIONS: undefined, ...extraEnv }, timeoutMs: 60_000 });
  let out = '';
  run.child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  run.child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  // Bounded: listening within 30 s.
  for (let i = 0; i < 300 && !/"event":"listening"|listening on/.test(out); i++) {
    if (run.child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(out).toMatch(/"event":"listening"|listening on/);
  const argv = readFileSync(`/proc/${run.child.pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  return { argv, stdout: () => out };
}

describe(`serve's V8 flags on Node ${process.versions.node}`, () => {
  it(canExecve ? 'restarts itself (same pid) with the heap limits, without pretenuring and without the memory reducer' : 'runs as started: Node 20 has no process.execve (the flags are given by hand there)', async () => {
    const { argv } = await startServe();
    // node's own flags come before the script (bin/tftpfn.js); serve's options after it.
    const flags = argv.slice(0, argv.findIndex((a) => a.endsWith('bin/tftpfn.js')));
    if (canExecve) expect(flags).toEqual(expect.arrayContaining(FLAGS));
    else for (const f of FLAGS) expect(flags).not.toContain(f);
    expect(argv).toContain('serve');
  }, 90_000);

  it('heap flags the operator gave in NODE_OPTIONS win: no restart, on any Node', async () => {
    const { argv } = await startServe({ NODE_OPTIONS: '--max-old-space-size=300' });
    expect(argv.slice(0, argv.findIndex((a) => a.endsWith('bin/tftpfn.js')))).toEqual([process.execPath]);
  }, 90_000);
});
