// A fresh `tftpfn serve`'s idle memory (issue 13's idle RSS target, docs/PERFORMANCE.md "Idle
// memory without zod"). It starts a folder server the way `npm run bench` starts it, fetches a
// 1 KiB file once, waits, then reads VmRSS, RssAnon (heap, malloc) and RssFile (mostly the node
// binary's pages) from /proc/PID/status. Not part of the test run (a measurement, not a check).
// After `npm run build`:
//
//   node bench/idle-rss.mjs                          # RUNS=3 WAIT=1.5 HEAP=1
//   REPO=/tmp/other-build node bench/idle-rss.mjs    # the server of another checkout
//   NODE=/path/to/node24 HEAP=0 node bench/idle-rss.mjs   # bin/tftpfn.js applies its flags itself
//   SERVE_ARGS='--metrics-port 0' node bench/idle-rss.mjs # more `tftpfn serve` arguments
//   FLAGS='--no-maglev' node bench/idle-rss.mjs     # more node/V8 flags (space-separated)
//
// HEAP=1 gives node the flags bin/tftpfn.js applies itself where node can (Node 22.15+), as the
// bench does on Node 20 (given on the command line, they also stop bin/tftpfn.js re-executing
// itself on Node 24). One JSON line per run. Linux.
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './free-port.mjs';

const here = fileURLToPath(new URL('../', import.meta.url));
const repo = resolve(process.env.REPO ?? here);
const serverNode = process.env.NODE ?? process.execPath;
const runs = Number(process.env.RUNS ?? 3);
const waitS = Number(process.env.WAIT ?? 1.5);
const HEAP_FLAGS = ['--max-semi-space-size=2', '--max-old-space-size=512', '--no-allocation-site-pretenuring', '--no-memory-reducer'];
const nodeArgs = [...(process.env.HEAP === '0' ? [] : HEAP_FLAGS), ...(process.env.FLAGS ?? '').split(' ').filter(Boolean)];
const serveArgs = (process.env.SERVE_ARGS ?? '').split(' ').filter(Boolean);

const MiB = (status, field) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)[1]) / 1024;

/** One RRQ for `name`, read to the end (lock-step, 512-byte blocks); false when no DATA came within `waitMs`. */
async function fetchOnce(port, name, waitMs) {
  const sock = createSocket('udp4');
  try {
    sock.send(Buffer.concat([Buffer.from([0, 1]), Buffer.from(`${name}\0octet\0`)]), port, '127.0.0.1');
    // Bounded: a 1 KiB file is three DATA blocks.
    for (let i = 0; i < 10; i++) {
      const got = await Promise.race([new Promise((r) => sock.once('message', (m, f) => r([m, f]))), sleep(waitMs).then(() => undefined)]);
      if (!got) return false;
      const [msg, from] = got;
      if (msg.readUInt16BE(0) !== 3) throw new Error(`expected DATA, got opcode ${msg.readUInt16BE(0)}: ${msg.subarray(4).toString()}`);
      // Sent before the socket closes: the last ACK ends the server's session.
      await new Promise((r) => sock.send(Buffer.from([0, 4, msg[2], msg[3]]), from.port, from.address, r));
      if (msg.length < 4 + 512) return true;
    }
    throw new Error('the transfer did not end');
  } finally {
    sock.close();
  }
}

const root = mkdtempSync(join(tmpdir(), 'tftpfn-idle-rss-'));
writeFileSync(join(root, 'small.bin'), randomBytes(1024));
try {
  for (let run = 0; run < runs; run++) {
    const port = await freePort();
    const child = spawn(
      serverNode,
      [...nodeArgs, join(repo, 'bin/tftpfn.js'), 'serve', '--host', '127.0.0.1', '--port', String(port), '--root', root, '--log-level', 'warn',
        '--max-sessions-per-client', '10000', '--max-sessions', '10000', '--shutdown-grace-ms', '500', ...serveArgs],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
    try {
      // The first RRQs may come before the port is bound; 40 tries of 250 ms.
      let served = false;
      for (let i = 0; i < 40 && !served && child.exitCode === null; i++) served = await fetchOnce(port, 'small.bin', 250);
      if (!served) throw new Error(`tftpfn serve on port ${port} did not serve small.bin within 10 s`);
      await sleep(waitS * 1000);
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      console.log(JSON.stringify({ repo, node: serverNode, run: run + 1, vmRssMiB: +MiB(status, 'VmRSS').toFixed(1), rssAnonMiB: +MiB(status, 'RssAnon').toFixed(1), rssFileMiB: +MiB(status, 'RssFile').toFixed(1) }));
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
    }
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
