/**
 * The `tftpfn` binary as an operator runs it: a real child process, its JSON log on stdout,
 * its exit code, and real transfers against it. Needs the build (`npm run build`); the suite
 * builds once when dist/ is missing.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { get } from '../../client/index.js';
import { freePort } from '../helpers/free-port.js';
import { makeRoot } from '../helpers/gateway.js';
import { RawPeer, sameBytes, seededBytes } from '../helpers/raw-peer.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '../..');
const bin = join(repo, 'bin/tftpfn.js');

beforeAll(() => {
  if (!existsSync(join(repo, 'dist/gateway/src/cli/main.js'))) {
    const r = spawnSync('npm', ['run', 'build', '--silent'], { cwd: repo, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('npm run build failed');
  }
}, 120_000);

interface LogLine {
  event?: string;
  pid?: number;
  addresses?: string[];
  [k: string]: unknown;
}

/** A running `tftpfn` child: parsed stdout log lines, stderr text, and waits on both. */
class Cli {
  readonly lines: LogLine[] = [];
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private watchers: (() => void)[] = [];

  constructor(readonly child: ChildProcess) {
    let partial = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      partial += chunk;
      let nl: number;
      while ((nl = partial.indexOf('\n')) >= 0) {
        const line = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        try {
          this.lines.push(JSON.parse(line) as LogLine);
        } catch {
          this.lines.push({ text: line });
        }
      }
      this.notify();
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    this.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    void this.exited.then(() => this.notify());
  }

  private notify(): void {
    for (const w of [...this.watchers]) w();
  }

  /** Resolves once `count` log lines match; rejects on timeout or if the process exits first. */
  waitForLines(pred: (l: LogLine) => boolean, count = 1, timeoutMs = 10_000): Promise<LogLine[]> {
    return new Promise((resolve, reject) => {
      let exited = false;
      void this.exited.then(() => {
        exited = true;
      });
      const check = () => {
        const found = this.lines.filter(pred);
        if (found.length >= count) {
          done();
          resolve(found);
        } else if (exited || this.child.exitCode !== null) {
          done();
          reject(new Error(`tftpfn exited before logging what we waited for; stderr: ${this.stderr}`));
        }
      };
      const t = setTimeout(() => {
        done();
        reject(new Error(`timed out waiting for log lines; got ${JSON.stringify(this.lines.map((l) => l.event))}, stderr: ${this.stderr}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(t);
        this.watchers = this.watchers.filter((w) => w !== check);
      };
      this.watchers.push(check);
      check();
    });
  }

  /** The port from the first 'listening' line (its addresses look like "127.0.0.1:41234"). */
  async listeningPort(): Promise<number> {
    const [l] = await this.waitForLines((x) => x.event === 'listening');
    return Number(l.addresses![0].split(':').pop());
  }

  /** Resolves with the exit status; rejects when the process is still running after timeoutMs. */
  async exit(timeoutMs = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null; afterMs: number }> {
    const start = Date.now();
    let t: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      t = setTimeout(() => reject(new Error(`tftpfn still running after ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const r = await Promise.race([this.exited, timeout]);
      return { ...r, afterMs: Date.now() - start };
    } finally {
      clearTimeout(t);
    }
  }
}

const running: Cli[] = [];
const roots: string[] = [];
afterEach(async () => {
  for (const c of running.splice(0)) {
    if (c.child.exitCode === null && c.child.signalCode === null) {
      c.child.kill('SIGKILL');
      await c.exited;
    }
    // Worker processes of a killed primary: end them by their own pids.
    for (const l of c.lines) if (l.pid && l.pid !== c.child.pid && alive(l.pid)) process.kill(l.pid, 'SIGKILL');
  }
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

function cli(args: string[], env: Record<string, string> = {}): Cli {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TFTPFN_')));
  const child = spawn(process.execPath, [bin, ...args], { cwd: repo, env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const c = new Cli(child);
  running.push(c);
  return c;
}

function root(files: Record<string, string | Uint8Array>): string {
  const r = makeRoot(files);
  roots.push(r);
  return r;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const serveArgs = (dir: string, ...more: string[]) => ['serve', '--host', '127.0.0.1', '--port', '0', '--root', dir, ...more];

describe('tftpfn CLI: help and configuration errors', () => {
  it('cli: `tftpfn --help` lists the serve command and exits 0', async () => {
    const c = cli(['--help']);
    const { code } = await c.exit();
    expect(code).toBe(0);
    const out = c.lines.map((l) => l.text ?? '').join('\n');
    expect(out).toMatch(/Usage: tftpfn/);
    expect(out).toMatch(/serve/);
  });

  it('cli: `tftpfn serve --help` describes the flags and exits 0', async () => {
    const c = cli(['serve', '--help']);
    const { code } = await c.exit();
    expect(code).toBe(0);
    const out = c.lines.map((l) => l.text ?? '').join('\n');
    for (const flag of ['--port', '--host', '--root', '--processes', '--write-root', '--single-port', '--allow', '--refuse', '--shutdown-grace-ms']) {
      expect(out).toContain(flag);
    }
  });

  it.each([
    [['--port', '99999'], 'field "port" (from flag --port)'],
    [['--max-window-size', '0'], 'field "maxWindowSize" (from flag --max-window-size)'],
    [['--allow', '10.0.0.0/99'], 'field "allow" (from flag --allow)'],
    [['--refuse', 'tsize,bogus'], 'field "refuse" (from flag --refuse)'],
    [['--port-range', '60000-50000'], 'field "portRange" (from flag --port-range)'],
    [['--single-port', '--processes', '2'], 'field "processes" (from flag --processes)'],
  ])('cli: a bad flag %j exits with code 2 and stderr names the field', async (args, needle) => {
    const c = cli(['serve', '--host', '127.0.0.1', '--root', '.', ...args]);
    const { code } = await c.exit();
    expect(code).toBe(2);
    expect(c.stderr).toContain('tftpfn serve: invalid configuration');
    expect(c.stderr).toContain(needle);
    expect(c.lines.filter((l) => l.event === 'listening')).toHaveLength(0);
  });

  it('cli: a bad TFTPFN_PORT exits with code 2 and stderr names the variable', async () => {
    const c = cli(['serve', '--host', '127.0.0.1', '--root', '.'], { TFTPFN_PORT: 'sixty-nine' });
    const { code } = await c.exit();
    expect(code).toBe(2);
    expect(c.stderr).toContain('field "port" (from environment TFTPFN_PORT)');
  });

  it('cli: a port already in use is reported with a hint and a non-zero exit', async () => {
    const holder = createSocket('udp4');
    await new Promise<void>((resolve) => holder.bind({ port: 0, address: '127.0.0.1', exclusive: true }, resolve));
    try {
      const c = cli(['serve', '--host', '127.0.0.1', '--root', '.', '--port', String(holder.address().port)]);
      const { code } = await c.exit();
      expect(code).not.toBe(0);
      expect(c.stderr).toMatch(/cannot listen on 127\.0\.0\.1/);
    } finally {
      holder.close();
    }
  });
});

describe('tftpfn CLI: serving', () => {
  it('cli: --port 0 logs the real port in the listening line and serves files there', async () => {
    const body = seededBytes(20_000);
    const c = cli(serveArgs(root({ 'a.bin': body })));
    const port = await c.listeningPort();
    expect(port).toBeGreaterThan(0);
    const [listening] = c.lines.filter((l) => l.event === 'listening');
    expect(listening.addresses).toEqual([`127.0.0.1:${port}`]);
    expect(listening.writes).toBe('disabled');
    const r = await get({ host: '127.0.0.1', port, path: 'a.bin', blksize: 1468 });
    expect(sameBytes(r.data, body)).toBe('same');
    c.child.kill('SIGTERM');
    expect((await c.exit()).code).toBe(0);
  });

  it('cli: TFTPFN_PORT is honoured when no --port is given', async () => {
    const want = await freePort('udp');
    const c = cli(['serve', '--host', '127.0.0.1', '--root', root({ 'e.txt': 'from env' })], { TFTPFN_PORT: String(want) });
    expect(await c.listeningPort()).toBe(want);
    const r = await get({ host: '127.0.0.1', port: want, path: 'e.txt' });
    expect(r.data!.toString()).toBe('from env');
    c.child.kill('SIGTERM');
    expect((await c.exit()).code).toBe(0);
  });

  it('cli: --port wins over TFTPFN_PORT', async () => {
    const c = cli(serveArgs(root({ 'x.txt': 'x' })), { TFTPFN_PORT: '1' });
    const port = await c.listeningPort();
    expect(port).not.toBe(1);
    c.child.kill('SIGTERM');
    const ex = await c.exit();
    expect(ex, c.stderr + JSON.stringify(c.lines)).toMatchObject({ code: 0 });
  });

  it('cli: SIGTERM sent the moment the listening line appears is handled gracefully (exit 0)', async () => {
    // The listening line is the readiness signal: a supervisor may act on it at once.
    const dir = root({ 'r.txt': 'r' });
    for (let i = 0; i < 5; i++) {
      const c = cli(serveArgs(dir));
      await c.waitForLines((l) => l.event === 'listening');
      c.child.kill('SIGTERM');
      const ex = await c.exit();
      expect(ex, `attempt ${i + 1}`).toMatchObject({ code: 0, signal: null });
    }
  }, 30_000);

  it('cli: SIGTERM with a transfer in flight lets it finish, answers no new request, then exits 0', async () => {
    const body = seededBytes(512 * 5 + 7);
    const c = cli(serveArgs(root({ 'slow.bin': body }), '--timeout-ms', '5000'));
    const port = await c.listeningPort();
    const p = await RawPeer.open();
    try {
      p.rrq(port, 'slow.bin');
      const d1 = await p.expect(3);
      const tid = d1.from.port;
      c.child.kill('SIGTERM');
      await c.waitForLines((l) => l.event === 'shutdown');

      const late = await RawPeer.open();
      late.rrq(port, 'slow.bin');
      await late.silentFor(300).finally(() => late.close());

      const got = [Buffer.from(d1.packet.data)];
      p.ack(tid, 1);
      for (let block = 2; block <= 6; block++) {
        const d = await p.expect(3);
        expect(d.packet.block).toBe(block);
        got.push(Buffer.from(d.packet.data));
        p.ack(tid, block);
      }
      expect(sameBytes(Buffer.concat(got), body)).toBe('same');
      const { code } = await c.exit();
      expect(code).toBe(0);
      const [session] = c.lines.filter((l) => l.event === 'session');
      expect(session.outcome).toBe('ok');
    } finally {
      p.close();
    }
  }, 20_000);

  it('cli: --processes 2 serves concurrent transfers and SIGTERM stops every process with exit 0', async () => {
    const files: Record<string, Uint8Array> = {};
    for (let i = 0; i < 6; i++) files[`f${i}.bin`] = seededBytes(30_000 + i * 1000, i + 1);
    const c = cli(serveArgs(root(files), '--processes', '2'));
    const listening = await c.waitForLines((l) => l.event === 'listening', 2, 15_000);
    const ports = new Set(listening.map((l) => l.addresses![0]));
    expect(ports.size).toBe(1);
    const port = Number([...ports][0].split(':').pop());
    const workerPids = listening.map((l) => l.pid!);
    expect(new Set(workerPids).size).toBe(2);
    expect(workerPids).not.toContain(c.child.pid);

    const results = await Promise.all(
      Object.entries(files).map(([name, body]) => get({ host: '127.0.0.1', port, path: name, blksize: 1024 }).then((r) => sameBytes(r.data, body))),
    );
    expect(results).toEqual(Array(6).fill('same'));

    c.child.kill('SIGTERM');
    const { code, afterMs } = await c.exit(15_000);
    expect(code).toBe(0);
    // Workers had nothing in flight: shutting down should not wait out the grace period.
    expect(afterMs).toBeLessThan(5000);
    for (const pid of workerPids) expect(alive(pid), `worker ${pid} still running`).toBe(false);
  }, 30_000);
});
