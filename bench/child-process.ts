/**
 * Child processes the harness owns: each starts in its own process group, so stopping it also
 * stops what it forked (in.tftpd and fbtftp fork per transfer), and every one is registered so
 * that an error or Ctrl-C still ends them all.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

const live = new Set<ManagedProcess>();

export class ManagedProcess {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;

  constructor(readonly label: string, command: string, args: string[], opts: SpawnOptions = {}) {
    this.child = spawn(command, args, { ...opts, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout?.setEncoding('utf8').on('data', (s: string) => {
      // Keep the tail only: a chatty server must not grow the harness without bound.
      this.stdout = (this.stdout + s).slice(-1_000_000);
    });
    this.child.stderr?.setEncoding('utf8').on('data', (s: string) => {
      this.stderr = (this.stderr + s).slice(-100_000);
    });
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code) => resolve(code));
      this.child.on('error', () => resolve(null));
    });
    live.add(this);
    void this.exited.then(() => live.delete(this));
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error(`${this.label} did not start: ${this.stderr.trim()}`);
    return this.child.pid;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  private signalGroup(signal: NodeJS.Signals): void {
    if (this.child.pid === undefined) return;
    try {
      process.kill(-this.child.pid, signal);
    } catch {
      // The group is already gone.
    }
  }

  /** SIGTERM to the group, then SIGKILL after `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    if (this.running) {
      this.signalGroup('SIGTERM');
      const timer = new Promise((r) => setTimeout(r, graceMs).unref());
      await Promise.race([this.exited, timer]);
    }
    // Forked children may outlive their parent: end the whole group regardless.
    this.signalGroup('SIGKILL');
    live.delete(this);
  }

  /** Resolves with the exit code, or kills the group and rejects after `timeoutMs`. */
  async wait(timeoutMs: number): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${this.label} still running after ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } catch (e) {
      await this.stop(500);
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }
}

export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((p) => p.stop(1000)));
}

/** Synchronous last resort for process 'exit': SIGKILL every group still registered. */
export function killAllSync(): void {
  for (const p of live) {
    if (p.child.pid !== undefined) {
      try {
        process.kill(-p.child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}
