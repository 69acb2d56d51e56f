/**
 * Installs the comparison servers and iperf3 when they are missing, as scripts/test.sh installs
 * the interop clients: tftpd-hpa and iperf3 from Debian with apt-get; atftpd from its Debian
 * package too, but unpacked into a cache folder rather than installed, because the atftpd and
 * tftpd-hpa packages conflict (both provide /usr/sbin/in.tftpd) and the bench runs both.
 *
 * Nothing here fails the run: a server that cannot be had is skipped and the report says why.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './repo-root.js';

/** Where the atftpd package is unpacked; node_modules/.cache is ignored by git and by npm ci's users. */
export const ATFTPD_CACHE_DIR = join(REPO_ROOT, 'node_modules/.cache/tftpfn-bench/atftpd');
const SYSTEM_ATFTPD = '/usr/sbin/atftpd';

/** The atftpd binary to run: the installed one, else the one unpacked by ensureBenchTools. */
export function atftpdPath(): string | undefined {
  if (existsSync(SYSTEM_ATFTPD)) return SYSTEM_ATFTPD;
  const cached = join(ATFTPD_CACHE_DIR, 'root/usr/sbin/atftpd');
  return existsSync(cached) ? cached : undefined;
}

/** The version of atftpd the bench runs (dpkg's, or the unpacked .deb's file name). */
export function atftpdVersion(): string {
  try {
    if (existsSync(SYSTEM_ATFTPD)) return execFileSync('dpkg-query', ['-W', '-f=${Version}', 'atftpd'], { encoding: 'utf8' });
    const deb = readdirSync(ATFTPD_CACHE_DIR).find((n) => n.endsWith('.deb'));
    return deb?.replace(/^atftpd_/, '').replace(/_[^_]+\.deb$/, '') ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

const hasCommand = (name: string) => {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

/** Runs an apt-get (or dpkg) command as root: directly when root, else through `sudo -n`. */
function runAsRoot(args: string[], cwd?: string): void {
  const [cmd, ...rest] = process.getuid?.() === 0 ? args : ['sudo', '-n', ...args];
  execFileSync(cmd, rest, { cwd, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

/**
 * Unpacks the Debian package atftpd into ATFTPD_CACHE_DIR when no atftpd is there (installing
 * its libraries with apt-get). Returns why it could not, or undefined.
 */
export function ensureAtftpd(log: (s: string) => void): string | undefined {
  if (atftpdPath()) return undefined;
  try {
    runAsRoot(['apt-get', 'install', '-y', '-q', '--no-install-recommends', 'libwrap0', 'libpcre2-8-0']);
  } catch {
    // Reported below if the binary then cannot run; the libraries are usually there already.
  }
  log('bench: unpacking atftpd (apt-get download; it conflicts with tftpd-hpa, so it is not installed)');
  try {
    rmSync(ATFTPD_CACHE_DIR, { recursive: true, force: true });
    mkdirSync(ATFTPD_CACHE_DIR, { recursive: true });
    try {
      runAsRoot(['apt-get', 'download', 'atftpd'], ATFTPD_CACHE_DIR);
    } catch {
      runAsRoot(['apt-get', 'update', '-q']);
      runAsRoot(['apt-get', 'download', 'atftpd'], ATFTPD_CACHE_DIR);
    }
    const deb = readdirSync(ATFTPD_CACHE_DIR).find((n) => n.endsWith('.deb'));
    if (!deb) throw new Error('apt-get download atftpd left no .deb');
    execFileSync('dpkg-deb', ['-x', join(ATFTPD_CACHE_DIR, deb), join(ATFTPD_CACHE_DIR, 'root')]);
    return undefined;
  } catch (e) {
    return `atftpd: ${String((e as { stderr?: Buffer }).stderr ?? (e as Error).message).trim().slice(-300)}`;
  }
}

/**
 * Installs what is missing (apt-get, as root or through sudo). Returns one line per tool that
 * could not be installed; `log` hears what is being done.
 */
export function ensureBenchTools(log: (s: string) => void): string[] {
  const problems: string[] = [];
  if (!existsSync('/usr/bin/apt-get')) return ['apt-get not found: install tftpd-hpa, atftpd and iperf3 by hand'];
  const aptInstall = (pkgs: string[]) => {
    const args = ['apt-get', 'install', '-y', '-q', '--no-install-recommends', ...pkgs];
    try {
      runAsRoot(args);
    } catch {
      runAsRoot(['apt-get', 'update', '-q']);
      runAsRoot(args);
    }
  };
  const missing: string[] = [];
  if (!existsSync('/usr/sbin/in.tftpd') || !isTftpdHpa()) missing.push('tftpd-hpa');
  if (!hasCommand('iperf3')) missing.push('iperf3');
  if (missing.length) {
    log(`bench: installing Debian packages: ${missing.join(' ')}`);
    try {
      aptInstall(missing);
    } catch (e) {
      problems.push(`apt-get install ${missing.join(' ')} failed: ${String((e as { stderr?: Buffer }).stderr ?? e).trim().slice(-300)}`);
    }
  }
  const atftpd = ensureAtftpd(log);
  if (atftpd) problems.push(atftpd);
  return problems;
}

/** in.tftpd is tftpd-hpa's (atftpd's package ships an in.tftpd too). */
function isTftpdHpa(): boolean {
  try {
    return execFileSync('dpkg-query', ['-W', '-f=${Status}', 'tftpd-hpa'], { encoding: 'utf8' }).includes('installed');
  } catch {
    return false;
  }
}
