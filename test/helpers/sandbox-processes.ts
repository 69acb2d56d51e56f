/**
 * Which sandboxed function processes are running (Linux /proc): for the tests that check no
 * worker or warm spare (runtime/warm-spare.ts) outlives its gateway.
 */
import { readFileSync } from 'node:fs';

/** The process exists (signal 0 checks without sending anything). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * The sandbox hosts (host.mjs: a function worker or a warm spare) among the children of `pid`'s
 * main thread. `unshare` and `/bin/sh` exec node, so the host is the direct child.
 */
export function sandboxHosts(pid: number): number[] {
  let listed = '';
  try {
    listed = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8');
  } catch {
    return [];
  }
  return listed
    .split(/\s+/)
    .filter(Boolean)
    .map(Number)
    .filter((child) => {
      try {
        return readFileSync(`/proc/${child}/cmdline`, 'latin1').includes('host.mjs');
      } catch {
        return false; // exited meanwhile
      }
    });
}
