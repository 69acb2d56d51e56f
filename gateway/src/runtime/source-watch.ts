/**
 * Watches a function's source files and reports each burst of changes once: the first step of
 * the hot reload pipeline in `tftpfn dev` (source-watch → FunctionRuntime.rebuild → reload.ts).
 *
 * What is watched: with `inputs`, exactly the files of the bundle's input graph (bundle.ts
 * bundleInputs), asked again after every change, so a new import is followed and a log file or
 * an editor's backup written beside the source changes nothing; without it, the files directly
 * in `dir`.
 *
 * How: one non-recursive fs.watch per folder holding a watched file, filtered by name. A watch
 * on the folder, not the file, because saves that replace the file (`sed -i`, editors' safe
 * write, write-temp-then-rename) give it a new inode: a watch on the file (and Node 20's
 * recursive watch on Linux, which adds inotify watches per inode) loses it after the first such
 * save, while the folder's watch reports the new name (inotify IN_MOVED_TO / IN_CREATE).
 *
 * Editors save in bursts (write a temp file, rename it over the old one, chmod): every event
 * restarts a `debounceMs` timer, and the change is reported when the files have been quiet that
 * long, so one save is one rebuild. A change that comes while a rebuild runs is a new burst:
 * the reloader abandons the stale build for it (reload.ts).
 */
import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { DEFAULTS } from '../config/defaults.js';

/** A path (relative to the watched folder) whose change is not a change of the function. */
export function ignoredChange(path: string): boolean {
  return /(^|[\\/])(node_modules|\.git)([\\/]|$)/.test(path);
}

/** One folder, not recursive: `changed` is a name in it (null when the platform gives none). A fake in unit tests. */
export type WatchFn = (dir: string, onEvent: (changed: string | null) => void) => Pick<FSWatcher, 'close' | 'on'>;

const fsWatch: WatchFn = (dir, onEvent) => watch(dir, (_event, changed) => onEvent(changed === null ? null : String(changed)));

export interface SourceWatchOptions {
  /** Quiet time after the last event before the change is reported. */
  readonly debounceMs?: number;
  /** The watcher failed (the folder was removed, too many watches); it reports nothing more. */
  readonly onError?: (err: Error) => void;
  /**
   * The files to watch (absolute paths), asked at start and after every change: the function's
   * input graph. Without it, every file directly in the watched folder counts.
   */
  readonly inputs?: () => Promise<readonly string[]>;
  /**
   * When the version being served was built (epoch ms). A save between that build reading the
   * files and the first watch being in place makes no event; so once the first files are
   * watched, one modified after `builtAtMs` is reported as a change.
   */
  readonly builtAtMs?: number;
  readonly watchFn?: WatchFn;
}

export class SourceWatch {
  private timer: NodeJS.Timeout | undefined;
  /** One watcher per folder, with the names in it that count (undefined: every name). */
  private readonly folders = new Map<string, { watcher: Pick<FSWatcher, 'close' | 'on'>; names: Set<string> | undefined }>();
  private readonly debounceMs: number;
  private readonly watchFn: WatchFn;
  private closed = false;
  private refreshing: Promise<void> | undefined;
  private refreshAgain = false;
  /** Resolves once the first set of files is watched. */
  readonly ready: Promise<void>;

  /** Starts watching `dir` (or `opts.inputs`); `onChange` is called once per burst of changes. */
  constructor(readonly dir: string, private readonly onChange: () => void, private readonly opts: SourceWatchOptions = {}) {
    this.debounceMs = opts.debounceMs ?? DEFAULTS.sourceWatchDebounceMs;
    this.watchFn = opts.watchFn ?? fsWatch;
    if (opts.inputs) {
      this.ready = this.refresh().then(() => this.catchUp());
    } else {
      this.watchFolder(resolve(dir), undefined);
      this.ready = Promise.resolve();
    }
  }

  /** The files watched now (absolute), or the folders when every name in them counts. */
  watched(): string[] {
    return [...this.folders].flatMap(([dir, f]) => (f.names ? [...f.names].map((n) => join(dir, n)) : [dir]));
  }

  /** Reports a change when a watched file was saved after the served build (`builtAtMs`), before the watch began. */
  private async catchUp(): Promise<void> {
    const since = this.opts.builtAtMs;
    if (since === undefined) return;
    const mtimes = await Promise.all(this.watched().map((f) => stat(f).then((st) => st.mtimeMs, () => since)));
    if (mtimes.some((m) => m > since)) this.event(dirname(this.watched()[0]), null);
  }

  private watchFolder(dir: string, names: Set<string> | undefined): void {
    let watcher;
    try {
      watcher = this.watchFn(dir, (changed) => this.event(dir, changed));
    } catch (e) {
      return this.fail(e as Error);
    }
    watcher.on('error', (err: Error) => this.fail(err));
    this.folders.set(dir, { watcher, names });
  }

  private event(dir: string, changed: string | null): void {
    if (this.closed) return;
    const names = this.folders.get(dir)?.names;
    if (changed !== null && (names ? !names.has(basename(changed)) : ignoredChange(changed))) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.fire(), this.debounceMs);
  }

  private fire(): void {
    this.timer = undefined;
    if (this.closed) return;
    this.onChange();
    // The change may add or drop an import: follow the graph as it is now.
    if (this.opts.inputs) void this.refresh();
  }

  /** Asks for the input graph and watches exactly its folders; one ask at a time, the newest wins. */
  private refresh(): Promise<void> {
    if (this.refreshing) {
      this.refreshAgain = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      do {
        this.refreshAgain = false;
        let files: readonly string[];
        try {
          files = await this.opts.inputs!();
        } catch {
          continue; // keep watching what was known: a broken save must still be seen when fixed
        }
        this.sync(files);
      } while (this.refreshAgain && !this.closed);
    })().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private sync(files: readonly string[]): void {
    if (this.closed) return;
    const wanted = new Map<string, Set<string>>();
    for (const f of files) {
      const abs = resolve(f);
      if (ignoredChange(abs)) continue; // installed packages are not the author's source
      const dir = dirname(abs);
      if (!wanted.has(dir)) wanted.set(dir, new Set());
      wanted.get(dir)!.add(basename(abs));
    }
    // A file the build no longer names (a failed build names only the files it reached) is
    // kept: the author is editing it, and its fix must be seen.
    for (const [dir, f] of this.folders) {
      if (!wanted.has(dir)) wanted.set(dir, new Set());
      for (const n of f.names ?? []) wanted.get(dir)!.add(n);
    }
    for (const [dir, names] of wanted) {
      const have = this.folders.get(dir);
      if (have) have.names = names;
      else this.watchFolder(dir, names);
    }
  }

  private fail(err: Error): void {
    if (this.closed) return;
    this.close();
    this.opts.onError?.(err);
  }

  /** Stops watching; a burst still being debounced is dropped. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    for (const f of this.folders.values()) f.watcher.close();
    this.folders.clear();
  }
}
