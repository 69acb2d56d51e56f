/**
 * The servers under test and how to start each on loopback, with the exact command recorded for
 * the report.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { get } from '../client/index.js';
import { ManagedProcess } from './child-process.js';
import { REPO_ROOT } from './repo-root.js';
import { atftpdPath, atftpdVersion } from './setup.js';

export type ServerName =
  | 'tftpfn' | 'tftpfn-p2' | 'tftpfn-fn1' | 'tftpfn-fn2' | 'tftpfn-fn4' | 'in.tftpd' | 'fbtftp'
  // Issue 13's fallback: the same gateway with UDP GSO off (sendPath: plain), one datagram per send.
  | 'tftpfn-plain'
  // Another checkout's build (--baseline DIR), e.g. the code when an issue was filed: "no row
  // slower than today" judged in the same run, not against figures from another day.
  | 'tftpfn-base'
  // The strongest peers of issue 13: atftpd (C, RFC 7440) and the npm `tftp` package's server.
  | 'atftpd' | 'npm-tftp'
  // A reference row, not a peer: the least a Node dgram read server costs (bench/node-floor-server.mjs).
  | 'node-floor'
  // (h), bench/s3-storm.ts: one gateway config (S3 + Redis), three cache states.
  | 'tftpfn-s3-cold' | 'tftpfn-s3-warm' | 'tftpfn-s3-fleet'
  // (i), bench/stats-cost.ts: session stats to Redis, and that plus Prometheus metrics.
  | 'tftpfn-stats' | 'tftpfn-stats-metrics';

/** What the report calls each server; the function servers differ only in poolSize. */
export const SERVER_LABELS: Record<ServerName, string> = {
  tftpfn: 'tftpfn',
  'tftpfn-p2': 'tftpfn-p2',
  'tftpfn-plain': 'tftpfn, forced fallback (sendPath plain)',
  'tftpfn-base': 'tftpfn, baseline build (--baseline)',
  'tftpfn-fn1': 'tftpfn (worker function, poolSize 1)',
  'tftpfn-fn2': 'tftpfn (worker function, poolSize 2)',
  'tftpfn-fn4': 'tftpfn (worker function, poolSize 4)',
  'in.tftpd': 'in.tftpd',
  fbtftp: 'fbtftp',
  atftpd: 'atftpd',
  'npm-tftp': 'node tftp (npm)',
  'node-floor': 'node floor (bare dgram responder, reference)',
  'tftpfn-s3-cold': 'tftpfn from S3, cold (fresh gateway, Redis flushed)',
  'tftpfn-s3-warm': 'tftpfn from S3, warm (second storm, same gateway and Redis)',
  'tftpfn-s3-fleet': 'tftpfn from S3, another gateway (fresh process, warm Redis)',
  'tftpfn-stats': 'tftpfn, stats to Redis (statsToRedis)',
  'tftpfn-stats-metrics': 'tftpfn, stats to Redis + Prometheus metrics (metricsPort)',
};

/** Pool sizes tried in (g); 2 is the default (config/defaults.ts), so that row is the one judged. */
export const FUNCTION_POOL_SIZES = [1, 2, 4] as const;
const BENCH_FUNCTION = fileURLToPath(new URL('../../bench/functions/one-kib.ts', import.meta.url));

/** The config file of the function server with `poolSize` workers, in `confDir`. */
export function functionConfigPath(confDir: string, poolSize: number): string {
  return join(confDir, `function-pool${poolSize}.json`);
}

/**
 * The function servers' configs: every path goes to one function (defaultRoute), whose entry is
 * the .ts source, bundled by the gateway at start as `tftpfn serve` does for any entry. Host,
 * port and root come from flags, exactly as for the folder server.
 */
export function functionConfig(poolSize: number): object {
  return { functions: { gen: { entry: BENCH_FUNCTION, poolSize } }, defaultRoute: { function: 'gen' } };
}

export function writeFunctionConfigs(confDir: string): void {
  for (const n of FUNCTION_POOL_SIZES) writeFileSync(functionConfigPath(confDir, n), `${JSON.stringify(functionConfig(n))}\n`);
}

/** The forced-fallback server's config (issue 13: "with GSO unavailable, no row slower than today"). */
export function plainSendPathConfigPath(confDir: string): string {
  return join(confDir, 'send-path-plain.json');
}

export function writePlainSendPathConfig(confDir: string): void {
  writeFileSync(plainSendPathConfigPath(confDir), `${JSON.stringify({ sendPath: 'plain' })}\n`);
}

export interface ServerSpec {
  name: ServerName;
  /** Why the server cannot run here, when it cannot. */
  unavailable?: string;
  command(port: number | string, root: string): { cmd: string; args: string[] };
  /** Whether it implements RFC 7440 windowsize. */
  windowed: boolean;
}

const repoRoot = REPO_ROOT;
const tftpfnBin = join(REPO_ROOT, 'bin/tftpfn.js');
const fbtftpScript = join(REPO_ROOT, 'bench/fbtftp_static_server.py');
const npmTftpLauncher = join(REPO_ROOT, 'bench/npm-tftp-server.mjs');
const nodeFloorLauncher = join(REPO_ROOT, 'bench/node-floor-server.mjs');
export const IN_TFTPD = '/usr/sbin/in.tftpd';
const PYTHON = '/usr/bin/python3';

/**
 * `tftpfn serve` restarts itself with V8 heap limits where node has process.execve (Node 22.15+,
 * which users run; bin/tftpfn.js). On an older node (Node 20 here) the harness gives the same
 * flags itself, so the benchmark measures the gateway as it runs on 22 and 24.
 */
const SERVE_HEAP_FLAGS = typeof (process as { execve?: unknown }).execve === 'function' ? [] : ['--max-semi-space-size=2', '--max-old-space-size=512', '--no-allocation-site-pretenuring', '--no-memory-reducer'];

export function tftpfn(name: ServerName, processes: number, config?: string, bin: string = tftpfnBin): ServerSpec {
  return {
    name,
    windowed: true,
    command: (port, root) => ({
      cmd: process.execPath,
      args: [
        ...SERVE_HEAP_FLAGS,
        bin, 'serve', ...(config ? ['-c', config] : []), '--host', '127.0.0.1', '--port', String(port), '--root', root,
        // Benchmarks are about the data path: the per-client cap (64) would refuse a boot storm
        // from one loopback address, and info logs cost a line per session.
        '--max-sessions-per-client', '10000', '--max-sessions', '10000', '--log-level', 'warn',
        '--shutdown-grace-ms', '500',
        ...(processes > 1 ? ['--processes', String(processes)] : []),
      ],
    }),
  };
}

/**
 * The launcher of another tftpfn checkout given with --baseline: its `bin/tftpfn.js`, which
 * needs that checkout's `dist/` (`npm ci && npm run build` there). Throws a message naming the
 * flag and the fix.
 */
export function baselineBin(dir: string): string {
  const bin = resolve(dir, 'bin/tftpfn.js');
  if (!existsSync(bin)) throw new Error(`--baseline ${dir}: no bin/tftpfn.js there; give a tftpfn checkout (git worktree add DIR COMMIT)`);
  if (!existsSync(resolve(dir, 'dist/gateway/src/cli/main.js'))) throw new Error(`--baseline ${dir}: not built; run \`npm ci && npm run build\` in ${dir}`);
  return bin;
}

/**
 * @param confDir where writeFunctionConfigs put the function servers' configs
 * @param baselineDir another tftpfn checkout (--baseline): adds the tftpfn-base server
 */
export function serverSpecs(confDir: string, baselineDir?: string): ServerSpec[] {
  const isRoot = process.getuid?.() === 0;
  return [
    tftpfn('tftpfn', 1),
    tftpfn('tftpfn-p2', 2),
    tftpfn('tftpfn-plain', 1, plainSendPathConfigPath(confDir)),
    // With its own defaults: a build from before sendPath existed refuses send-path-plain.json
    // (an unknown key), and the code of that day had no GSO to turn off.
    ...(baselineDir ? [tftpfn('tftpfn-base', 1, undefined, baselineBin(baselineDir))] : []),
    ...FUNCTION_POOL_SIZES.map((n) => tftpfn(`tftpfn-fn${n}` as ServerName, 1, functionConfigPath(confDir, n))),
    {
      name: 'in.tftpd',
      windowed: false,
      unavailable: !existsSync(IN_TFTPD) ? `${IN_TFTPD} not found (apt-get install tftpd-hpa)` : !isRoot ? '--secure needs chroot, which needs root' : undefined,
      // -u root: --secure chroots and then drops to "nobody", who cannot read a 0700 temp dir.
      command: (port, root) => ({ cmd: IN_TFTPD, args: ['--foreground', '--address', `127.0.0.1:${port}`, '-u', 'root', '--secure', root] }),
    },
    atftpdSpec(),
    npmTftpSpec(),
    nodeFloorSpec(),
    {
      name: 'fbtftp',
      windowed: false,
      unavailable: hasFbtftp() ? undefined : 'python3-fbtftp not installed (apt-get install python3-fbtftp)',
      command: (port, root) => ({ cmd: PYTHON, args: [fbtftpScript, '--address', '127.0.0.1', '--port', String(port), '--root', root] }),
    },
  ];
}

/**
 * atftpd in the foreground on a loopback port, no daemon and no inetd: --daemon makes it listen
 * itself, --no-fork keeps it in the foreground. Its defaults otherwise (5 s retry timeout, every
 * RFC 2347/2348/2349/7440 option on), except --maxthread: at its default of 100 transfer threads
 * it drops the requests beyond them, and 1079 of 1500 boot-storm transfers (500 at once) timed
 * out in run 10; with 1000 all succeed. tftpfn's per-client cap is raised for the same reason.
 * As root it would drop to nobody, who cannot read the harness's 0700 temp folder, so it stays
 * root, like in.tftpd.
 */
export function atftpdSpec(): ServerSpec {
  const bin = atftpdPath();
  return {
    name: 'atftpd',
    windowed: true,
    unavailable: bin ? undefined : 'atftpd not found (the harness unpacks the Debian package atftpd; see the skipped list for why it could not)',
    command: (port, root) => ({
      cmd: bin ?? 'atftpd',
      args: ['--daemon', '--no-fork', '--maxthread', '1000', '--port', String(port), '--bind-address', '127.0.0.1', '--user', 'root', '--group', 'root', '--logfile', '/dev/null', root],
    }),
  };
}

/** The npm `tftp` package's server through bench/npm-tftp-server.ts (caps raised to blksize 65464, windowsize 64). */
export function npmTftpSpec(): ServerSpec {
  return {
    name: 'npm-tftp',
    windowed: true,
    unavailable: existsSync(join(REPO_ROOT, 'node_modules/tftp/package.json')) ? undefined : 'node_modules/tftp missing (npm install: it is a devDependency)',
    command: (port, root) => ({ cmd: process.execPath, args: [npmTftpLauncher, '--host', '127.0.0.1', '--port', String(port), '--root', root] }),
  };
}

/**
 * The node floor (bench/node-floor-server.mjs): RRQ, OACK, one dgram send per DATA and one
 * callback per ACK from a file held in memory, and nothing else a server does. Where tftpfn's
 * row is close to it, the rest is Node's event loop and the system calls (docs/PERFORMANCE.md).
 */
export function nodeFloorSpec(): ServerSpec {
  return {
    name: 'node-floor',
    windowed: true,
    command: (port, root) => ({ cmd: process.execPath, args: [nodeFloorLauncher, '--host', '127.0.0.1', '--port', String(port), '--root', root] }),
  };
}

function hasFbtftp(): boolean {
  try {
    execFileSync(PYTHON, ['-c', 'import fbtftp'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Starts a server and waits until it serves `probePath`; at most `readyTimeoutMs`. */
export async function startServer(spec: ServerSpec, port: number, root: string, probePath: string, readyTimeoutMs = 15_000): Promise<ManagedProcess> {
  const { cmd, args } = spec.command(port, root);
  const proc = new ManagedProcess(spec.name, cmd, args, { cwd: repoRoot });
  const deadline = Date.now() + readyTimeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (!proc.running) break;
    try {
      await get({ host: '127.0.0.1', port, path: probePath, timeoutMs: 200, retries: 1, discard: true });
      return proc;
    } catch (e) {
      lastError = e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  await proc.stop(500);
  throw new Error(`${spec.name} did not become ready on port ${port}: ${(lastError as Error)?.message ?? 'exited'}; stderr: ${proc.stderr.trim().slice(-500)}`);
}

function npmTftpVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules/tftp/package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export function describeCommand(spec: ServerSpec, port: number | string, root: string, confDir?: string): string {
  const { cmd, args } = spec.command(port, root);
  const shown = cmd === process.execPath ? 'node' : cmd.replace(repoRoot, '');
  return [shown, ...args.map((a) => (confDir ? a.replace(confDir, 'CONF') : a).replace(repoRoot, ''))].join(' ');
}

export function serverVersions(): Record<string, string> {
  const out: Record<string, string> = {};
  const pkg = (name: string): string => {
    try {
      return execFileSync('dpkg-query', ['-W', '-f=${Version}', name], { encoding: 'utf8' });
    } catch {
      return 'unknown';
    }
  };
  out['tftpd-hpa'] = pkg('tftpd-hpa');
  out['python3-fbtftp'] = pkg('python3-fbtftp');
  out.atftpd = atftpdVersion();
  out['npm tftp'] = npmTftpVersion();
  out.iperf3 = pkg('iperf3');
  out.node = process.version;
  return out;
}
