/**
 * Spawns an independent TFTP client (curl, tftp-hpa, atftp, busybox) with a hard timeout and
 * collects what it said. A client that outlives its timeout is killed with SIGKILL, and
 * `killAllClients()` ends any still running when a test file finishes early.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface ClientResult {
  /** Exit code, or null when the process was killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  durationMs: number;
}

const running = new Set<ChildProcess>();

/** Caps what we keep of a chatty client (busybox draws a progress bar). */
const MAX_OUTPUT_CHARS = 64 * 1024;

export function runClient(
  command: string,
  args: string[],
  opts: { timeoutMs?: number; cwd?: string } = {},
): Promise<ClientResult> {
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      if (stdout.length < MAX_OUTPUT_CHARS) stdout += s;
    });
    child.stderr!.setEncoding('utf8').on('data', (s: string) => {
      if (stderr.length < MAX_OUTPUT_CHARS) stderr += s;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      running.delete(child);
      reject(new Error(`cannot run ${command}: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      resolve({ code, signal, stdout, stderr, timedOut, durationMs: performance.now() - started });
    });
  });
}

/** Kills every client this module started that is still running (for afterAll). */
export function killAllClients(): void {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
}

/** One line for assertion messages: what ran and what it printed. */
export function describeRun(command: string, args: string[], r: ClientResult): string {
  const out = `${r.stdout}\n${r.stderr}`.trim().slice(0, 2000);
  return `${command} ${args.join(' ')} -> code=${r.code} signal=${r.signal} timedOut=${r.timedOut}\n${out}`;
}
