/**
 * CPU time and memory of a process tree, read from /proc (Linux only).
 *
 * CPU: utime + stime + cutime + cstime summed over the live tree, so a child that has already
 * exited and been reaped still counts through its parent's cutime/cstime (in.tftpd and fbtftp
 * fork one process per transfer). RSS: VmRSS summed over the tree, which counts pages shared
 * after fork once per process; it overstates forking servers and is exact for one process.
 */
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ on every Linux we run on

interface ProcEntry {
  pid: number;
  ppid: number;
  cpuTicks: number;
}

function readStat(pid: number): ProcEntry | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // gone between readdir and read
  }
  // The command name may hold spaces and parentheses: fields start after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const ppid = Number(fields[1]);
  const cpuTicks = Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
  return { pid, ppid, cpuTicks };
}

/** The pids of `root` and all its descendants, `root` first. */
export function processTree(root: number): ProcEntry[] {
  const all: ProcEntry[] = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const entry = readStat(pid);
    if (entry) all.push(entry);
  }
  const children = new Map<number, ProcEntry[]>();
  for (const e of all) {
    const list = children.get(e.ppid);
    if (list) list.push(e);
    else children.set(e.ppid, [e]);
  }
  const rootEntry = all.find((e) => e.pid === root);
  if (!rootEntry) return [];
  const out: ProcEntry[] = [rootEntry];
  for (let i = 0; i < out.length && i < 100_000; i++) out.push(...(children.get(out[i].pid) ?? []));
  return out;
}

export function treeCpuSeconds(root: number): number {
  let ticks = 0;
  for (const e of processTree(root)) ticks += e.cpuTicks;
  return ticks / TICKS_PER_SECOND;
}

function vmRssKiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

export function treeRssMiB(root: number): number {
  let kib = 0;
  for (const e of processTree(root)) kib += vmRssKiB(e.pid);
  return kib / 1024;
}

/** Samples the tree's RSS every `intervalMs` until stopped; reports the peak. */
export function startRssSampler(root: number, intervalMs = 200): { stop(): number } {
  let peak = treeRssMiB(root);
  const timer = setInterval(() => {
    peak = Math.max(peak, treeRssMiB(root));
  }, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, treeRssMiB(root));
    },
  };
}
