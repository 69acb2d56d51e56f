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
