/**
 * The runtime's temp folders (`tftpfn-functions-PID-NS-XXXXXX` in the OS temp folder: entry
 * builds, sandbox folders; NS identifies the PID namespace, so a gateway never sweeps the folders
 * of a live gateway in another container that shares the temp folder). Removed when their owner closes them, when the process exits, and on
 * SIGINT/SIGTERM/SIGHUP when nobody else handles the signal; a gateway that was SIGKILLed or
 * crashed leaves its folders behind, so each start sweeps the folders of PIDs no longer alive.
 */
import { mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const TEMP_PREFIX = 'tftpfn-functions-';
const OWNED = /^tftpfn-functions-(\d+)-(\d+)-/;

/** This process's PID namespace (the inode in /proc/self/ns/pid), or 0 where there is none. */
function pidNamespace(): string {
  try {
    return /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'))?.[1] ?? '0';
  } catch {
    return '0';
  }
}
const NS = pidNamespace();
const live = new Set<string>();
let hooked = false;

function removeAll(): void {
  for (const dir of live) rmSync(dir, { recursive: true, force: true });
  live.clear();
}

function hook(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', removeAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      // Someone else (tftpfn serve) shuts down gracefully and exits: the exit hook cleans up.
      if (process.listenerCount(signal) > 1) return;
      removeAll();
      process.removeListener(signal, onSignal);
      process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

/** A fresh folder named after this process, removed at exit at the latest. */
export function makeTempDir(): string {
  hook();
  const dir = mkdtempSync(join(tmpdir(), `${TEMP_PREFIX}${process.pid}-${NS}-`));
  live.add(dir);
  return dir;
}

export function removeTempDir(dir: string): void {
  live.delete(dir);
  rmSync(dir, { recursive: true, force: true });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists, under another user.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes folders left by dead processes; returns their paths. */
export function sweepStaleTempDirs(base = tmpdir()): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(base);
  } catch {
    return removed;
  }
  for (const name of names) {
    const m = OWNED.exec(name);
    // Another PID namespace: its PIDs mean nothing here.
    if (!m || m[2] !== NS) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || alive(pid)) continue;
    const dir = join(base, name);
    try {
      rmSync(dir, { recursive: true, force: true });
      removed.push(dir);
    } catch {
      /* another sweeper got it, or not ours to remove */
    }
  }
  return removed;
}
