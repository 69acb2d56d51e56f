/**
 * Watches a function's folder and reports each burst of changes once: the first step of the hot
 * reload pipeline in `tftpfn dev` (source-watch → FunctionRuntime.rebuild → reload.ts).
 *
 * Editors save in bursts (write a temp file, rename it over the old one, chmod): every event
 * restarts a `debounceMs` timer, and the change is reported when the folder has been quiet that
 * long, so one save is one rebuild. Changes under node_modules/ and .git/ are not the author's
 * source (an install, a commit) and are ignored. A change that comes while a rebuild runs is a
 * new burst: the reloader abandons the stale build for it (reload.ts).
 */
import { watch, type FSWatcher } from 'node:fs';
import { DEFAULTS } from '../config/defaults.js';

/** A path (relative to the watched folder) whose change is not a change of the function. */
export function ignoredChange(path: string): boolean {
  return /(^|[\\/])(node_modules|\.git)([\\/]|$)/.test(path);
}

/** The part of fs.watch this uses; a fake in unit tests. */
export type WatchFn = (dir: string, onEvent: (changed: string | null) => void) => Pick<FSWatcher, 'close' | 'on'>;

const fsWatch: WatchFn = (dir, onEvent) => watch(dir, { recursive: true }, (_event, changed) => onEvent(changed === null ? null : String(changed)));

export interface SourceWatchOptions {
  /** Quiet time after the last event before the change is reported. */
  readonly debounceMs?: number;
  /** The watcher failed (the folder was removed, too many watches); it reports nothing more. */
  readonly onError?: (err: Error) => void;
  readonly watchFn?: WatchFn;
}

export class SourceWatch {
  private timer: NodeJS.Timeout | undefined;
  private readonly watcher: Pick<FSWatcher, 'close' | 'on'>;
  private closed = false;

  /** Starts watching `dir` (recursively); `onChange` is called once per burst of changes. */
  constructor(readonly dir: string, private readonly onChange: () => void, opts: SourceWatchOptions = {}) {
    const debounceMs = opts.debounceMs ?? DEFAULTS.sourceWatchDebounceMs;
    this.watcher = (opts.watchFn ?? fsWatch)(dir, (changed) => {
      if (this.closed || (changed !== null && ignoredChange(changed))) return;
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.fire(), debounceMs);
    });
    this.watcher.on('error', (err: Error) => {
      this.close();
      opts.onError?.(err);
    });
  }

  private fire(): void {
    this.timer = undefined;
    if (!this.closed) this.onChange();
  }

  /** Stops watching; a burst still being debounced is dropped. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.watcher.close();
  }
}
