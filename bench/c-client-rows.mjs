// The single-stream rows of `npm run bench` ((a), (j), (b), (c): one 64 MiB file) with the C
// client atftp instead of the project's Node load client, every server side by side in one
// invocation (issue 13; docs/PERFORMANCE.md, "Run 14"). Not part of the test run (a
// benchmark, not a check). After `npm run build` (and `npm run bench` once, which unpacks atftpd):
//
//   node bench/c-client-rows.mjs
//   ROWS=1468:1,1468:16 SERVERS=tftpfn,atftpd RUNS=5 node bench/c-client-rows.mjs
//   SPIN=1 node bench/c-client-rows.mjs     # with two `nice -n 19` busy loops, so no core idles
//
// ROWS are blksize:windowsize. Per server and row: start it, one warm-up transfer, RUNS timed
// transfers (atftp -g to /dev/null), wall time and the server's CPU (utime + stime of it and its
// reaped children, /proc/PID/stat) around them. One line per server and row. Linux only.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

// The servers start exactly as `npm run bench` starts them (dist/bench/servers.js).
const { serverSpecs, writePlainSendPathConfig } = await import(new URL('../dist/bench/servers.js', import.meta.url).href);
const FILE_BYTES = 64 * 1024 * 1024;
const runs = Number(process.env.RUNS ?? 3);
const rows = (process.env.ROWS ?? '1468:1,65464:1,1468:16,1468:64').split(',').map((r) => r.split(':').map(Number));
const wanted = (process.env.SERVERS ?? 'tftpfn,tftpfn-plain,atftpd,in.tftpd,node-floor').split(',');

const root = mkdtempSync(join(tmpdir(), 'tftpfn-c-client-'));
writeFileSync(join(root, 'big.bin'), randomBytes(FILE_BYTES));
writePlainSendPathConfig(root);
const specs = serverSpecs(root);

const cpuSeconds = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / 100; // utime stime cutime cstime
};
const spinners = process.env.SPIN === '1' ? [0, 1].map(() => spawn('nice', ['-n', '19', 'sh', '-c', 'while :; do :; done'], { stdio: 'ignore' })) : [];
let port = 17_800 + Math.floor(Math.random() * 1000);
console.log(`# atftp client, ${runs} runs of 64 MiB, load average ${loadavg()[0].toFixed(2)}${spinners.length ? ', two nice-19 busy loops' : ''}`);
try {
  for (const [blksize, windowsize] of rows) {
    for (const name of wanted) {
      const spec = specs.find((sp) => sp.name === name);
      if (!spec || spec.unavailable || (windowsize > 1 && !spec.windowed)) continue;
      const { cmd, args } = spec.command(++port, root);
      const child = spawn(cmd, args, { stdio: 'ignore' });
      try {
        const opts = ['--option', `blksize ${blksize}`, '--option', 'tsize 0', ...(windowsize > 1 ? ['--option', `windowsize ${windowsize}`] : [])];
        const get = () => {
          const r = spawnSync('atftp', [...opts, '-g', '-r', 'big.bin', '-l', '/dev/null', '127.0.0.1', String(port)], { timeout: 120_000, encoding: 'utf8' });
          return r.status === 0;
        };
        let up = false;
        for (let i = 0; i < 50 && !up; i++) {
          await new Promise((r) => setTimeout(r, 100));
          up = get(); // the first success is the warm-up
        }
        if (!up) throw new Error(`${name} did not serve big.bin`);
        const c0 = cpuSeconds(child.pid);
        const t0 = performance.now();
        for (let i = 0; i < runs; i++) if (!get()) throw new Error(`${name}: atftp failed`);
        const wallS = (performance.now() - t0) / 1000;
        const cpuS = (cpuSeconds(child.pid) - c0) / runs;
        const blocks = Math.floor(FILE_BYTES / blksize) + 1;
        console.log(`blksize ${String(blksize).padEnd(5)} windowsize ${String(windowsize).padEnd(2)} ${name.padEnd(12)} ${((64 * runs) / wallS).toFixed(1).padStart(7)} MiB/s  server CPU ${cpuS.toFixed(2)} s per 64 MiB (${((cpuS * 1e6) / blocks).toFixed(1)} µs per block)`);
      } finally {
        child.kill();
        await new Promise((r) => child.once('exit', r));
      }
    }
  }
} finally {
  for (const s of spinners) s.kill();
  rmSync(root, { recursive: true, force: true });
}
