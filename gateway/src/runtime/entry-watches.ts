/**
 * Entry functions rebuilt on save (`tftpfn dev`, FunctionRuntime.rebuild and watch): each watch
 * (source-watch.ts) turns a burst of saves into a 'change' reload of the function's slot, which
 * abandons an attempt still building an older save (reload.ts). Only a function built from an
 * entry file can be watched or rebuilt.
 */
import type { Logger } from 'pino';
import type { FunctionSlot } from './function-slot.js';
import { SourceWatch, type SourceWatchOptions } from './source-watch.js';
import { EntrySource } from './version-sources.js';

export class EntryWatches {
  private readonly watches = new Set<SourceWatch>();

  constructor(
    private readonly slot: (name: string) => FunctionSlot | undefined,
    private readonly log: Logger,
  ) {}

  /** Reloads an entry function as a change: its source is built again, then swapped in. */
  async rebuild(name: string): Promise<void> {
    await this.entrySlot(name).reload('change');
  }

  /** Rebuilds `name` after every burst of changes under `dir` until the watch (or this) is closed. */
  watch(name: string, dir: string, opts: SourceWatchOptions = {}): SourceWatch {
    this.entrySlot(name);
    const w = new SourceWatch(dir, () => void this.rebuild(name), {
      ...opts,
      onError: (err) => {
        this.watches.delete(w);
        this.log.error({ event: 'sourceWatchError', function: name, dir, err }, `stopped watching ${dir}`);
        opts.onError?.(err);
      },
    });
    this.watches.add(w);
    return w;
  }

  /** Closes every watch still open. */
  close(): void {
    for (const w of this.watches) w.close();
    this.watches.clear();
  }

  private entrySlot(name: string): FunctionSlot {
    const slot = this.slot(name);
    if (!slot || !(slot.source instanceof EntrySource)) throw new Error(`"${name}" is not a function built from an entry file`);
    return slot;
  }
}
