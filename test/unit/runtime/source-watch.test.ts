/**
 * runtime/source-watch.ts on a fake clock and a fake fs.watch: one change per burst of events,
 * the ignored folders, close and watcher errors.
 */
import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { ignoredChange, SourceWatch, type WatchFn } from '../../../gateway/src/runtime/source-watch.js';

/** A watcher whose events the test sends by hand. */
function fakeWatch() {
  const emitter = new EventEmitter();
  let onEvent: ((changed: string | null) => void) | undefined;
  let closed = 0;
  const watchFn: WatchFn = (_dir, cb) => {
    onEvent = cb;
    return Object.assign(emitter, { close: () => void closed++ }) as unknown as ReturnType<WatchFn>;
  };
  return { watchFn, event: (changed: string | null) => onEvent!(changed), fail: (err: Error) => emitter.emit('error', err), closed: () => closed };
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('source watch', () => {
  test('source watch: a burst of events is one change, reported once the folder is quiet for debounceMs', () => {
    const w = fakeWatch();
    let changes = 0;
    new SourceWatch('/fn', () => changes++, { debounceMs: 100, watchFn: w.watchFn });
    // An editor's save: write the temp file, rename it over the old one, chmod.
    w.event('.index.ts.swp');
    vi.advanceTimersByTime(40);
    w.event('index.ts');
    vi.advanceTimersByTime(40);
    w.event('index.ts');
    vi.advanceTimersByTime(99);
    expect(changes).toBe(0);
    vi.advanceTimersByTime(1);
    expect(changes).toBe(1);
    vi.advanceTimersByTime(1000);
    expect(changes).toBe(1);
    // A later save is a new change; an event without a file name counts too.
    w.event(null);
    vi.advanceTimersByTime(100);
    expect(changes).toBe(2);
  });

  test('source watch: changes under node_modules and .git are ignored, the rest are not', () => {
    const w = fakeWatch();
    let changes = 0;
    new SourceWatch('/fn', () => changes++, { debounceMs: 100, watchFn: w.watchFn });
    w.event('node_modules/left-pad/index.js');
    w.event('.git/index');
    w.event('lib/node_modules/x.js');
    vi.advanceTimersByTime(500);
    expect(changes).toBe(0);
    expect(['node_modules', '.git/HEAD', 'a\\node_modules\\b', 'x/.git'].every(ignoredChange)).toBe(true);
    expect(['index.ts', 'node_modules_extra/x.ts', 'my.git/x', 'lib/git.ts'].some(ignoredChange)).toBe(false);
    w.event('lib/util.ts');
    vi.advanceTimersByTime(100);
    expect(changes).toBe(1);
  });

  test('source watch: close drops a burst still being debounced and closes the watcher once', () => {
    const w = fakeWatch();
    let changes = 0;
    const watch = new SourceWatch('/fn', () => changes++, { debounceMs: 100, watchFn: w.watchFn });
    w.event('index.ts');
    vi.advanceTimersByTime(50);
    watch.close();
    watch.close();
    vi.advanceTimersByTime(500);
    w.event('index.ts');
    vi.advanceTimersByTime(500);
    expect(changes).toBe(0);
    expect(w.closed()).toBe(1);
  });

  test('source watch: a watcher error stops the watch and is reported', () => {
    const w = fakeWatch();
    let changes = 0;
    const errors: string[] = [];
    new SourceWatch('/fn', () => changes++, { debounceMs: 100, watchFn: w.watchFn, onError: (e) => errors.push(e.message) });
    w.event('index.ts');
    w.fail(new Error('ENOENT: folder removed'));
    vi.advanceTimersByTime(500);
    expect(errors).toEqual(['ENOENT: folder removed']);
    expect(changes).toBe(0);
    expect(w.closed()).toBe(1);
  });
});

/** Fake watchers per folder, as fs.watch on each folder holding a watched file. */
function fakeFolders() {
  const folders = new Map<string, (changed: string | null) => void>();
  const closed: string[] = [];
  const watchFn: WatchFn = (dir, cb) => {
    folders.set(dir, cb);
    return Object.assign(new EventEmitter(), { close: () => void closed.push(dir) }) as unknown as ReturnType<WatchFn>;
  };
  return { watchFn, folders, closed, event: (dir: string, changed: string | null) => folders.get(dir)!(changed) };
}

describe('source watch: the input graph', () => {
  test('source watch: only the files of the input graph count, in each of their folders, renamed over or written in place', async () => {
    const f = fakeFolders();
    let changes = 0;
    const w = new SourceWatch('/fn', () => changes++, { debounceMs: 30, watchFn: f.watchFn, inputs: async () => ['/fn/index.ts', '/fn/lib/util.ts', '/shared/names.ts'] });
    await w.ready;
    expect([...f.folders.keys()].sort()).toEqual(['/fn', '/fn/lib', '/shared']);
    expect(w.watched().sort()).toEqual(['/fn/index.ts', '/fn/lib/util.ts', '/shared/names.ts']);
    // A log, an editor's temp file and backup beside the source: nothing.
    f.event('/fn', 'dev.log');
    f.event('/fn', '.index.ts.swp');
    f.event('/fn', 'index.ts~');
    f.event('/fn/lib', 'other.ts');
    vi.advanceTimersByTime(100);
    expect(changes).toBe(0);
    // sed -i: the temp file, then its rename over index.ts (the folder reports the new name).
    f.event('/fn', 'sedAb12Cd');
    f.event('/fn', 'index.ts');
    vi.advanceTimersByTime(30);
    expect(changes).toBe(1);
    f.event('/shared', 'names.ts');
    vi.advanceTimersByTime(30);
    expect(changes).toBe(2);
    w.close();
    expect(f.closed.sort()).toEqual(['/fn', '/fn/lib', '/shared']);
  });

  test('source watch: after a change the graph is asked again: a new import is followed, and a failed ask keeps what was watched', async () => {
    const f = fakeFolders();
    let graph: string[] | Error = ['/fn/index.ts'];
    let changes = 0;
    const w = new SourceWatch('/fn', () => changes++, {
      debounceMs: 30,
      watchFn: f.watchFn,
      inputs: async () => {
        if (graph instanceof Error) throw graph;
        return graph;
      },
    });
    await w.ready;
    expect(w.watched()).toEqual(['/fn/index.ts']);
    graph = ['/fn/index.ts', '/lib/new.ts', '/fn/node_modules/dep/index.js'];
    f.event('/fn', 'index.ts');
    await vi.advanceTimersByTimeAsync(30);
    expect(changes).toBe(1);
    // node_modules is installed code, not the author's: not watched.
    expect(w.watched().sort()).toEqual(['/fn/index.ts', '/lib/new.ts']);
    f.event('/lib', 'new.ts');
    await vi.advanceTimersByTimeAsync(30);
    expect(changes).toBe(2);
    // A broken save: the graph cannot be known; every file watched before still counts.
    graph = new Error('does not build');
    f.event('/fn', 'index.ts');
    await vi.advanceTimersByTimeAsync(30);
    expect(w.watched().sort()).toEqual(['/fn/index.ts', '/lib/new.ts']);
    f.event('/fn', 'index.ts');
    await vi.advanceTimersByTimeAsync(30);
    expect(changes).toBe(4);
    w.close();
  });

  test('source watch: a save after the served build and before the watch began is reported once the watch is ready (builtAtMs)', async () => {
    const { mkdtempSync, writeFileSync, utimesSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'tftpfn-watch-'));
    const entry = join(dir, 'index.ts');
    writeFileSync(entry, 'export const handle = () => null;\n');
    const builtAtMs = Date.now() - 10_000;
    try {
      // Saved before the build: nothing to catch up.
      utimesSync(entry, new Date(builtAtMs - 5_000), new Date(builtAtMs - 5_000));
      let changes = 0;
      const before = new SourceWatch(dir, () => changes++, { debounceMs: 30, watchFn: fakeWatch().watchFn, inputs: async () => [entry], builtAtMs });
      await before.ready;
      vi.advanceTimersByTime(100);
      expect(changes).toBe(0);
      // Saved after the build started, with no watch in place yet: one change once ready.
      utimesSync(entry, new Date(builtAtMs + 5_000), new Date(builtAtMs + 5_000));
      const after = new SourceWatch(dir, () => changes++, { debounceMs: 30, watchFn: fakeWatch().watchFn, inputs: async () => [entry], builtAtMs });
      await after.ready;
      vi.advanceTimersByTime(29);
      expect(changes).toBe(0);
      vi.advanceTimersByTime(1);
      expect(changes).toBe(1);
      // Without builtAtMs there is no catching up.
      const plain = new SourceWatch(dir, () => changes++, { debounceMs: 30, watchFn: fakeWatch().watchFn, inputs: async () => [entry] });
      await plain.ready;
      vi.advanceTimersByTime(100);
      expect(changes).toBe(1);
      for (const w of [before, after, plain]) w.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
