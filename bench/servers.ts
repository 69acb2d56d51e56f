/**
 * The servers under test and how to start each on loopback, with the exact command recorded for
 * the report.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { get } from '../gateway/src/client/index.js';
import { ManagedProcess } from './child-process.js';

export type ServerName = 'tftpfn' | 'tftpfn-p2' | 'in.tftpd' | 'fbtftp';

export interface ServerSpec {
  name: ServerName;
  /** Why the server cannot run here, when it cannot. */
  unavailable?: string;
  command(port: number | string, root: string): { cmd: string; args: string[] };
  /** Whether it implements RFC 7440 windowsize. */
  windowed: boolean;
}

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const tftpfnBin = fileURLToPath(new URL('../../bin/tftpfn.js', import.meta.url));
const fbtftpScript = fileURLToPath(new URL('../../bench/fbtftp_static_server.py', import.meta.url));
export const IN_TFTPD = '/usr/sbin/in.tftpd';
const PYTHON = '/usr/bin/python3';

function tftpfn(processes: number): ServerSpec {
  return {
    name: processes === 1 ? 'tftpfn' : 'tftpfn-p2',
    windowed: true,
    command: (port, root) => ({
      cmd: process.execPath,
      args: [
        tftpfnBin, 'serve', '--host', '127.0.0.1', '--port', String(port), '--root', root,
        // Benchmarks are about the data path: the per-client cap (64) would refuse a boot storm
        // from one loopback address, and info logs cost a line per session.
        '--max-sessions-per-client', '10000', '--max-sessions', '10000', '--log-level', 'warn',
        '--shutdown-grace-ms', '500',
        ...(processes > 1 ? ['--processes', String(processes)] : []),
      ],
    }),
  };
}

export function serverSpecs(): ServerSpec[] {
  const isRoot = process.getuid?.() === 0;
  return [
    tftpfn(1),
    tftpfn(2),
    {
      name: 'in.tftpd',
      windowed: false,
      unavailable: !existsSync(IN_TFTPD) ? `${IN_TFTPD} not found (apt-get install tftpd-hpa)` : !isRoot ? '--secure needs chroot, which needs root' : undefined,
      // -u root: --secure chroots and then drops to "nobody", who cannot read a 0700 temp dir.
      command: (port, root) => ({ cmd: IN_TFTPD, args: ['--foreground', '--address', `127.0.0.1:${port}`, '-u', 'root', '--secure', root] }),
    },
    {
      name: 'fbtftp',
      windowed: false,
      unavailable: hasFbtftp() ? undefined : 'python3-fbtftp not installed (apt-get install python3-fbtftp)',
      command: (port, root) => ({ cmd: PYTHON, args: [fbtftpScript, '--address', '127.0.0.1', '--port', String(port), '--root', root] }),
    },
  ];
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

export function describeCommand(spec: ServerSpec, port: number | string, root: string): string {
  const { cmd, args } = spec.command(port, root);
  const shown = cmd === process.execPath ? 'node' : cmd;
  return [shown, ...args.map((a) => a.replace(repoRoot, ''))].join(' ');
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
  out.iperf3 = pkg('iperf3');
  out.node = process.version;
  return out;
}
