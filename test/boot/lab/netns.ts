/**
 * The UEFI test's network: a tap device with a test address (192.0.2.1/24, TEST-NET-1, RFC 5737)
 * and dnsmasq answering DHCP only (--port=0: no DNS), all inside the private network namespace
 * scripts/test-boot.sh runs the boot tests in. Nothing here may run in the machine's own
 * namespace: `inPrivateNetns` is checked first, and the tests refuse to go on without it.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SERVER_ADDRESS = '192.0.2.1';

/**
 * True when this process's network namespace holds nothing but loopback and the tests' own tap
 * devices: a namespace made for the tests. (Comparing /proc/self/ns/net with pid 1's says
 * nothing in a container whose pid 1 lives in yet another namespace, as here.)
 */
export function inPrivateNetns(): boolean {
  const links = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.split(': ')[1]?.split('@')[0]);
  return links.every((name) => name === 'lo' || name?.startsWith(TAP_PREFIX));
}

/** Every tap device the tests make starts with this. */
export const TAP_PREFIX = 'tftpfn-';

export interface TapNetwork {
  readonly tap: string;
  /** What dnsmasq logged (DHCP offers, the boot file it named). */
  dhcpLog(): string;
  close(): Promise<void>;
}

/** A tap device `tap` with 192.0.2.1/24 and dnsmasq handing out 192.0.2.100-150 and `bootFile`. */
export async function startTapNetwork(tap: string, bootFile: string, dnsmasq: string): Promise<TapNetwork> {
  if (!tap.startsWith(TAP_PREFIX)) throw new Error(`a test tap device's name starts with ${TAP_PREFIX}`);
  if (!inPrivateNetns()) throw new Error('refusing to add a tap device and a DHCP server outside a private network namespace: run the boot tests with scripts/test-boot.sh');
  execFileSync('ip', ['tuntap', 'add', 'dev', tap, 'mode', 'tap']);
  const dir = mkdtempSync(join(tmpdir(), 'tftpfn-dhcp-'));
  let child: ChildProcess | undefined;
  let log = '';
  const close = async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    execFileSync('ip', ['link', 'del', tap]);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    execFileSync('ip', ['addr', 'add', `${SERVER_ADDRESS}/24`, 'dev', tap]);
    execFileSync('ip', ['link', 'set', tap, 'up']);
    child = spawn(dnsmasq, [
      '--no-daemon', '--port=0', '--conf-file=/dev/null', `--interface=${tap}`, '--bind-interfaces',
      '--dhcp-range=192.0.2.100,192.0.2.150,1h', `--dhcp-boot=${bootFile},,${SERVER_ADDRESS}`,
      `--dhcp-leasefile=${join(dir, 'leases')}`, `--pid-file=${join(dir, 'pid')}`, '--log-dhcp', '--log-facility=-',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.setEncoding('utf8').on('data', (c: string) => (log += c));
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (log += c));
    const end = Date.now() + 10_000;
    while (!/DHCP, IP range/.test(log)) {
      if (child.exitCode !== null || Date.now() > end) throw new Error(`dnsmasq did not start: ${log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } catch (e) {
    await close();
    throw e;
  }
  return { tap, dhcpLog: () => log, close };
}
