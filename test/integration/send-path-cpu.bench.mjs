// Micro benchmark of the two send paths (issue 13): the gateway's own CPU (user + system, from
// /proc/PID/stat) per DATA datagram while it sends a 64 MiB file at windowsize 64, blksize 1468
// to the project's client (in this process, so its CPU is not counted). Not part of the test
// run (a benchmark, not a check): after `npm run build`,
//
//   node test/integration/send-path-cpu.bench.mjs            # ROUNDS=3 TRANSFERS=5 BLKSIZE=1468 WINDOWSIZE=64
//
// Each round runs `tftpfn serve` once per path (sendPath gso, then plain), one warm-up transfer,
// then TRANSFERS measured ones; one JSON line per run. Linux only (/proc).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const { get } = await import(join(repo, 'dist/client/index.js'));
const TICK_S = 0.01; // getconf CLK_TCK: 100 on Linux
const cpuSeconds = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) * TICK_S; // utime, stime
};
const transfers = Number(process.env.TRANSFERS ?? 5);
const rounds = Number(process.env.ROUNDS ?? 3);
const blksize = Number(process.env.BLKSIZE ?? 1468);
const windowsize = Number(process.env.WINDOWSIZE ?? 64);
const FILE_BYTES = 64 * 1024 * 1024;
const datagramsPerTransfer = Math.floor(FILE_BYTES / blksize) + 1;
const root = mkdtempSync(join(tmpdir(), 'tftpfn-send-path-bench-'));
writeFileSync(join(root, 'big.bin'), randomBytes(FILE_BYTES));

async function run(sendPath) {
  const child = spawn(process.execPath, [join(repo, 'bin/tftpfn.js'), 'serve', '--host', '127.0.0.1', '--port', '0', '--root', root, '--log-level', 'info'], {
    env: { ...process.env, TFTPFN_SEND_PATH: sendPath },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  const port = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('tftpfn serve printed no listening line in 20 s')), 20_000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /"event":"listening","addresses":\["127\.0\.0\.1:(\d+)"/.exec(out);
      if (m) {
        clearTimeout(t);
        resolve(Number(m[1]));
      }
    });
  });
  await get({ host: '127.0.0.1', port, path: 'big.bin', blksize, windowsize, discard: true });
  const cpu0 = cpuSeconds(child.pid);
  const t0 = performance.now();
  let retransmits = 0;
  for (let i = 0; i < transfers; i++) {
    const r = await get({ host: '127.0.0.1', port, path: 'big.bin', blksize, windowsize, discard: true });
    if (r.bytes !== FILE_BYTES) throw new Error(`short transfer: ${r.bytes} bytes`);
    retransmits += r.retransmits;
  }
  const wallS = (performance.now() - t0) / 1000;
  const cpuS = cpuSeconds(child.pid) - cpu0;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  const path = /"event":"sendPath","path":"(\w+)"/.exec(out)?.[1];
  return { sendPath, pathInUse: path, blksize, windowsize, transfers, serverCpuS: +cpuS.toFixed(2), usPerDatagram: +((cpuS * 1e6) / (transfers * datagramsPerTransfer)).toFixed(2), MiBps: +((transfers * 64) / wallS).toFixed(1), clientRetransmits: retransmits };
}

try {
  for (let r = 0; r < rounds; r++) for (const p of ['gso', 'plain']) console.log(JSON.stringify(await run(p)));
} finally {
  rmSync(root, { recursive: true, force: true });
}
