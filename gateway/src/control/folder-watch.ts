/**
 * The folder control plane's watch(): every pollMs it takes each function's rollout files'
 * (mtime, inode, size) fingerprints, rollout.json and the deploy store's `current` pointer,
 * and reports the functions whose fingerprint changed. Every writer replaces those files by
 * rename, and a rename always brings a new inode, so a change within one mtime tick is still
 * seen. The baseline is taken synchronously when the first listener is added, so a change made
 * right after watch() returns is a change, not the starting state.
 */
import { readdirSync, statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { FUNCTION_NAME } from '../config/schema.js';
import { listDir } from './folder-files.js';
import { functionPaths } from './folder-layout.js';

export class RolloutPoller {
  private readonly listeners = new Set<(name: string) => void>();
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  private stopped = false;
  /** Each function's rollout files as last seen: `stat` fingerprints. */
  private seen = new Map<string, string>();

  constructor(
    private readonly dir: string,
    private readonly pollMs: number,
  ) {}

  /** Calls `listener(name)` when a rollout changes; returns unsubscribe (the last one stops the timer). */
  add(listener: (name: string) => void): () => void {
    if (this.listeners.size === 0) {
      this.seen = this.fingerprintsSync();
      this.timer = setInterval(() => void this.poll(), this.pollMs);
      this.timer.unref();
    }
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stopTimer();
    };
  }

  close(): void {
    this.stopped = true;
    this.listeners.clear();
    this.stopTimer();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async poll(): Promise<void> {
    if (this.polling || this.stopped) return;
    this.polling = true;
    try {
      const now = await this.fingerprints();
      const changed: string[] = [];
      for (const [name, print] of now) if (this.seen.get(name) !== print) changed.push(name);
      this.seen = now;
      for (const name of changed) {
        for (const l of [...this.listeners]) {
          try {
            l(name);
          } catch {
            // a listener's throw must not stop the others or the poll
          }
        }
      }
    } catch {
      // the folder is unreadable this time; the next poll tries again
    } finally {
      this.polling = false;
    }
  }

  private async fingerprints(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const name of await listDir(this.dir)) {
      if (!FUNCTION_NAME.test(name)) continue;
      const paths = functionPaths(this.dir, name);
      const [a, b] = await Promise.all([stat(paths.rollout).catch(() => undefined), stat(paths.pointer).catch(() => undefined)]);
      if (a || b) out.set(name, `${printOf(a)}|${printOf(b)}`);
    }
    return out;
  }

  private fingerprintsSync(): Map<string, string> {
    const out = new Map<string, string>();
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return out;
    }
    const statOr = (p: string) => {
      try {
        return statSync(p);
      } catch {
        return undefined;
      }
    };
    for (const name of names) {
      if (!FUNCTION_NAME.test(name)) continue;
      const paths = functionPaths(this.dir, name);
      const a = statOr(paths.rollout);
      const b = statOr(paths.pointer);
      if (a || b) out.set(name, `${printOf(a)}|${printOf(b)}`);
    }
    return out;
  }
}

function printOf(st: { mtimeMs: number; ino: number; size: number } | undefined): string {
  return st ? `${st.mtimeMs}:${st.ino}:${st.size}` : '-';
}
