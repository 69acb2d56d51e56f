// The gateway's own CPU per request under the 1 KiB load of docs/PERFORMANCE.md (issue 13):
// `tftpfn bench HOST:PORT small.bin --concurrency 20` against a fresh `tftpfn serve` of a
// folder, a warm-up load (not counted), an optional idle pause, then the measured load, with
// the server's user and system CPU (/proc/PID/stat) read around it. With TRACE=1 the server
// also runs with --trace-gc-nvp and the line reports what V8 did during the measured load:
// scavenges, KB promoted per scavenge (the average of the trace's `promoted=`) and full
// mark-compacts. Not part of the test run (a benchmark, not a check). After `npm run build`:
//
//   node bench/request-cpu.mjs                         # DUR=6 WARM=2 IDLE=0 CONC=20 HEAP=1 TRACE=0
//   TRACE=1 node bench/request-cpu.mjs                 # + the collector's figures
//   NODE=/path/to/node24 HEAP=0 node bench/request-cpu.mjs   # serve on another node; HEAP=0 lets
//                                                      # bin/tftpfn.js apply its flags (Node 22.15+)
//   IDLE=40 FLAGS=--no-allocation-site-pretenuring HEAP=0 node bench/request-cpu.mjs
//   REPO=/tmp/other-build node bench/request-cpu.mjs   # the server of another checkout
//   SERVE_ARGS='-c plain.json' node bench/request-cpu.mjs   # more `tftpfn serve` arguments
//
// HEAP=1 gives the server the flags bin/tftpfn.js applies itself where node can: the heap
// limits, --no-allocation-site-pretenuring and --no-memory-reducer. FLAGS adds node flags
// (space-separated). The load client always runs on this script's node. One JSON line. Linux.
import { spawn, spawnSync } from 'node:child_process';
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
const dur = Number(process.env.DUR ?? 6);
const warm = Number(process.env.WARM ?? 2);
const idle = Number(process.env.IDLE ?? 0);
const conc = Number(process.env.CONC ?? 20);
const trace = process.env.TRACE === '1';
const HEAP_FLAGS = ['--max-semi-space-size=2', '--max-old-space-size=512', '--no-allocation-site-pretenuring', '--no-memory-reducer'];
const nodeArgs = [...(process.env.HEAP === '0' ? [] : HEAP_FLAGS), ...(process.env.FLAGS ?? '').split(' ').filter(Boolean), ...(trace ? ['--trace-gc-nvp'] : [])];

const TICK_S = 0.01; // USER_HZ
const cpu = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]) * TICK_S, system: Number(fields[12]) * TICK_S };
};
const peakRssMiB = (pid) => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;

const root = mkdtempSync(join(tmpdir(), 'tftpfn-request-cpu-'));
writeFileSync(join(root, 'small.bin'), randomBytes(1024));

/** One load from a child process (async: this process keeps reading the server's output meanwhile). */
async function load(port, seconds) {
  const c = spawn(process.execPath, [join(repo, 'bin/tftpfn.js'), 'bench', `127.0.0.1:${port}`, 'small.bin', '--json', '--concurrency', String(conc), '--duration', String(seconds)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let text = '';
  c.stdout.on('data', (d) => (text += d));
  const code = await new Promise((r) => c.once('exit', r));
  if (code !== 0) throw new Error(`tftpfn bench exited with ${code}`);
  return JSON.parse(text.trim().split('\n').pop());
}

/** What --trace-gc-nvp printed in `text`: scavenges, mean KB promoted per scavenge, mark-compacts. */
function gcSummary(text) {
  const promoted = [...text.matchAll(/gc=s .*? promoted=(\d+)/g)].map((m) => Number(m[1]));
  const markCompacts = (text.match(/gc=mc /g) ?? []).length;
  const mean = promoted.length ? promoted.reduce((a, b) => a + b, 0) / promoted.length / 1024 : 0;
  return { scavenges: promoted.length, promotedKBPerScavenge: +mean.toFixed(1), markCompacts };
}

/** Resolves once the server answers an RRQ (then ends that transfer with an ERROR). */
async function ready(port) {
  const until = Date.now() + 20_000;
  const rrq = Buffer.from('\x00\x01small.bin\x00octet\x00', 'latin1');
  while (Date.now() < until) {
    const s = createSocket('udp4');
    const answered = await new Promise((resolveAnswer) => {
      const t = setTimeout(() => resolveAnswer(false), 200);
      s.once('message', (_msg, rinfo) => {
        clearTimeout(t);
        s.send(Buffer.from('\x00\x05\x00\x00done\x00', 'latin1'), rinfo.port, rinfo.address, () => resolveAnswer(true));
      });
      s.send(rrq, port, '127.0.0.1');
    });
    s.close();
    if (answered) return;
  }
  throw new Error('tftpfn serve did not answer in 20 s');
}

// --log-level warn, as the bench runs it: at info every finished session is a log line.
const port = await freePort();
const child = spawn(serverNode, [...nodeArgs, join(repo, 'bin/tftpfn.js'), 'serve', '--host', '127.0.0.1', '--port', String(port), '--root', root, '--log-level', 'warn',
  '--max-sessions-per-client', '10000', '--max-sessions', '10000', ...(process.env.SERVE_ARGS ?? '').split(' ').filter(Boolean)], { stdio: ['ignore', 'pipe', 'inherit'] });
try {
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  await ready(port);
  await load(port, warm);
  if (idle > 0) await sleep(idle * 1000);
  const mark = out.length;
  const before = cpu(child.pid);
  const r = await load(port, dur);
  const after = cpu(child.pid);
  const n = r.requests;
  console.log(
    JSON.stringify({
      repo, node: spawnSync(serverNode, ['--version'], { encoding: 'utf8' }).stdout.trim(), nodeArgs, idleS: idle,
      requests: n, requestsPerSec: Math.round(r.requestsPerSec), p99Ms: +r.latency.p99Ms.toFixed(2), failures: r.failures, clientCpuS: r.clientCpuSeconds,
      userUsPerRequest: +(((after.user - before.user) * 1e6) / n).toFixed(1), systemUsPerRequest: +(((after.system - before.system) * 1e6) / n).toFixed(1),
      peakRssMiB: +peakRssMiB(child.pid).toFixed(1),
      ...(trace ? gcSummary(out.slice(mark)) : {}),
    }),
  );
} finally {
  child.kill('SIGINT');
  await new Promise((r) => child.once('exit', r));
  rmSync(root, { recursive: true, force: true });
}
