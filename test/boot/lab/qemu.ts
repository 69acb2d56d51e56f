/**
 * Runs one QEMU boot under a hard bound (`timeout`, and a kill timer behind it) with the serial
 * console on stdout. The guest's /init powers off after printing its line, and -no-reboot turns
 * a panic or a reset into an exit, so a boot always ends: a good one in about 11-15 s under
 * software emulation. A boot that does not print the expected line fails with the console's
 * last line in the message: what the firmware or the kernel said last is what tells why.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface QemuRun {
  /** Everything the serial console printed, \r removed. */
  serial: string;
  code: number | null;
  ms: number;
}

export function lastLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
  return lines[lines.length - 1] ?? '(the console printed nothing)';
}

/** `giveUp`: a console line after which the boot cannot succeed; QEMU is stopped there and then. */
export async function runQemu(qemu: string, args: string[], timeoutMs: number, giveUp?: RegExp): Promise<QemuRun> {
  const started = Date.now();
  const seconds = Math.ceil(timeoutMs / 1000);
  const child = spawn('timeout', ['--kill-after=5', String(seconds), qemu, '-nographic', '-no-reboot', '-m', '512', '-serial', 'mon:stdio', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let serial = '';
  child.stdout.setEncoding('latin1').on('data', (c: string) => {
    serial += c.replaceAll('\r', '');
    if (giveUp?.test(serial)) child.kill('SIGTERM');
  });
  child.stderr.setEncoding('utf8').on('data', (c: string) => (serial += c));
  const backstop = setTimeout(() => child.kill('SIGKILL'), timeoutMs + 10_000);
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  clearTimeout(backstop);
  return { serial, code, ms: Date.now() - started };
}

/** The boot's console, or an error naming the console's last line when `expect` never appeared. */
/** Console lines after which no boot goes on: stop there rather than wait for the bound. */
export const DEAD_END = /No bootable device|Nothing to boot|Kernel panic - not syncing|grub rescue>|\ngrub> /;

export async function bootUntil(qemu: string, args: string[], expect: RegExp, timeoutMs: number, what: string, giveUp: RegExp = DEAD_END): Promise<QemuRun> {
  const run = await runQemu(qemu, args, timeoutMs, giveUp);
  if (!expect.test(run.serial)) {
    const why = giveUp?.test(run.serial)
      ? `stopped at ${giveUp}`
      : run.code === 124
        ? `still running after ${timeoutMs} ms`
        : `QEMU exited with ${run.code} after ${run.ms} ms`;
    // The whole console goes to a file for the post-mortem; the message carries its last line.
    const saved = join(mkdtempSync(join(tmpdir(), 'tftpfn-serial-')), 'console.log');
    writeFileSync(saved, run.serial);
    throw new Error(`${what}: no ${expect} on the serial console (${why}); its last line: ${lastLine(run.serial)} (whole console: ${saved})`);
  }
  return run;
}
