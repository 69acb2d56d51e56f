// The gateway's own CPU (user + system, from /proc/PID/stat) per DATA block while it sends one
// file of a folder over FileReader (larger than fileCacheMaxFileBytes), the method of
// docs/PERFORMANCE.md (issue 13): one warm-up transfer, then TRANSFERS measured ones, server CPU
// read before and after. Not part of the test run (a benchmark, not a check). After `npm run
// build`:
//
//   node bench/block-cpu.mjs                     # BLKSIZE=65464 WINDOWSIZE=1 TRANSFERS=3 HEAP=1 CLIENT=tftpfn
//   CLIENT=atftp HEAP=0 node bench/block-cpu.mjs # the C client; the server without the V8 heap flags
//   REPO=/tmp/other-build node bench/block-cpu.mjs   # the server of another checkout (bin/ + dist/)
//   PROF_DIR=/tmp/prof node bench/block-cpu.mjs  # also write the server's --cpu-prof there
//
// HEAP=1 starts the server with the flags bin/tftpfn.js applies itself where node can (Node
// 22.15+): --max-semi-space-size=2 --max-old-space-size=512 --no-allocation-site-pretenuring --no-memory-reducer. The project's client runs in this
// process, so its CPU is not counted; atftp is a child of this process. One JSON line. Linux only.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';

const here = fileURLToPath(new URL('../', import.meta.url));
const repo = resolve(process.env.REPO ?? here);
const { get } = await import(join(repo, 'dist/client/index.js'));
const TICK_S = 0.01; // USER_HZ
const cpuSeconds = (pid) => {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * TICK_S; // utime, stime
};
const transfers = Number(process.env.TRANSFERS ?? 3);
const blksize = Number(process.env.BLKSIZE ?? 65464);
const windowsize = Number(process.env.WINDOWSIZE ?? 1);
const heap = process.env.HEAP !== '0';
const client = process.env.CLIENT ?? 'tftpfn';
const sendPath = process.env.SEND_PATH ?? 'auto';
const FILE_BYTES = Number(process.env.FILE_BYTES ?? 64 * 1024 * 1024);
const blocksPerTransfer = Math.floor(FILE_BYTES / blksize) + 1;
const root = mkdtempSync(join(tmpdir(), 'tftpfn-block-cpu-'));
writeFileSync(join(root, 'big.bin'), randomBytes(FILE_BYTES));

const nodeArgs = [...(heap ? ['--max-semi-space-size=2', '--max-old-space-size=512', '--no-allocation-site-pretenuring', '--no-memory-reducer'] : [])];
if (process.env.PROF_DIR) nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${process.env.PROF_DIR}`);

async function transfer(port) {
  if (client === 'atftp') {
    const opts = [`blksize ${blksize}`, 'tsize 0', ...(windowsize > 1 ? [`windowsize ${windowsize}`] : [])];
    const r = spawnSync('atftp', [...opts.flatMap((o) => ['--option', o]), '-g', '-r', 'big.bin', '-l', '/dev/null', '127.0.0.1', String(port)], { encoding: 'utf8', timeout: 120_000 });
    if (r.status !== 0) throw new Error(`atftp failed (${r.status}): ${r.stderr}`);
    return 0;
  }
  const r = await get({ host: '127.0.0.1', port, path: 'big.bin', blksize, ...(windowsize > 1 ? { windowsize } : {}), discard: true });
  if (r.bytes !== FILE_BYTES) throw new Error(`short transfer: ${r.bytes} bytes`);
  return r.retransmits;
}

const child = spawn(process.execPath, [...nodeArgs, join(repo, 'bin/tftpfn.js'), 'serve', '--host', '127.0.0.1', '--port', '0', '--root', root, '--log-level', 'info'], {
  env: { ...process.env, TFTPFN_SEND_PATH: sendPath },
  stdio: ['ignore', 'pipe', 'inherit'],
});
try {
  let out = '';
  const port = await new Promise((resolvePort, reject) => {
    const t = setTimeout(() => reject(new Error('tftpfn serve printed no listening line in 20 s')), 20_000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /"event":"listening","addresses":\["127\.0\.0\.1:(\d+)"/.exec(out);
      if (m) {
        clearTimeout(t);
        resolvePort(Number(m[1]));
      }
    });
  });
  await transfer(port);
  const load = loadavg()[0];
  const cpu0 = cpuSeconds(child.pid);
  const t0 = performance.now();
  let retransmits = 0;
  for (let i = 0; i < transfers; i++) retransmits += await transfer(port);
  const wallS = (performance.now() - t0) / 1000;
  const cpuS = cpuSeconds(child.pid) - cpu0;
  const path = /"event":"sendPath","path":"(\w+)"/.exec(out)?.[1];
  console.log(
    JSON.stringify({
      repo, client, heap, sendPath: path, blksize, windowsize, transfers, load1: +load.toFixed(2),
      serverCpuS: +cpuS.toFixed(2), usPerBlock: +((cpuS * 1e6) / (transfers * blocksPerTransfer)).toFixed(1),
      MiBps: +((transfers * FILE_BYTES) / 1048576 / wallS).toFixed(1), clientRetransmits: retransmits,
    }),
  );
} finally {
  child.kill('SIGINT');
  await new Promise((r) => child.once('exit', r));
  rmSync(root, { recursive: true, force: true });
}
