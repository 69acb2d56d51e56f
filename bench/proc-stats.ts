/**
 * CPU time and memory of a process tree, read from /proc (Linux only).
 *
 * CPU: in.tftpd and fbtftp fork one process per transfer, and in.tftpd ignores SIGCHLD, so an
 * exited child's time never reaches its parent's cutime. A CpuTracker therefore samples the tree
 * and keeps, per pid, the largest utime + stime it saw; a child's last moments (under one sample
 * interval) are missed, so for forking servers the figure is a lower bound. The machine-wide
 * busy time from /proc/stat is reported beside it to bound it from above.
 * RSS: VmRSS summed over the tree, which counts pages shared after fork once per process; it
 * overstates forking servers and is exact for one process.
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
  const cpuTicks = Number(fields[11]) + Number(fields[12]); // utime + stime
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

/** Tracks the CPU seconds of a process tree whose members come and go. */
export class CpuTracker {
  private readonly ticksByPid = new Map<number, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly root: number, intervalMs = 100) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  sample(): void {
    for (const e of processTree(this.root)) {
      const seen = this.ticksByPid.get(e.pid) ?? 0;
      if (e.cpuTicks > seen) this.ticksByPid.set(e.pid, e.cpuTicks);
    }
  }

  /** CPU seconds seen so far, over every process of the tree ever sampled. */
  seconds(): number {
    let ticks = 0;
    for (const t of this.ticksByPid.values()) ticks += t;
    return ticks / TICKS_PER_SECOND;
  }

  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return this.seconds();
  }
}

/** Busy CPU seconds of the whole machine (all cores, everything but idle and iowait). */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  return (total - v[3] - v[4]) / TICKS_PER_SECOND;
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
