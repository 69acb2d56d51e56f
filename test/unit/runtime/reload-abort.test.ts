/**
 * The hot reload pipeline of `tftpfn dev` without esbuild or workers: a fake fs.watch and a fake
 * clock drive runtime/source-watch.ts, whose change goes to a Reloader ('change', what
 * FunctionRuntime.rebuild does) over an EntrySource with a fake bundler whose builds the test
 * finishes by hand, in any order. Checks that a save during a build abandons that build, that a
 * stale build or load finishing late never becomes current, the notices subscribers get, and a
 * seeded interleaving of saves and build completions.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { Generations } from '../../../gateway/src/runtime/generations.js';
import { Reloader, type ReloadNotice } from '../../../gateway/src/runtime/reload.js';
import { ReloadBus } from '../../../gateway/src/runtime/reload-notices.js';
import { SourceWatch, type WatchFn } from '../../../gateway/src/runtime/source-watch.js';
import { EntrySource, type Bundler, type VersionSource, type VersionSpec } from '../../../gateway/src/runtime/version-sources.js';
import { captureLog } from '../../helpers/functions.js';
import { FakeInvoker } from '../../helpers/fake-invoker.js';
import type { Invoker } from '../../../gateway/src/runtime/invoker.js';
import { prng, testSeed } from '../../helpers/seeded.js';


/** The version id EntrySource gives a bundle whose fake sha256 starts with `text`. */
const versionOf = (text: string) => `local-${text.padEnd(12, '_').slice(0, 12)}`;

const dirs: string[] = [];
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
});
afterEach(() => {
  vi.useRealTimers();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/**
 * The pipeline with hand-finished builds and loads. `file` is what the entry holds now; a build
 * snapshots it when it starts, as esbuild reads the files then.
 */
function pipeline(opts: { instantLoads?: boolean } = {}) {
  const outDir = mkdtempSync(join(tmpdir(), 'tftpfn-reload-abort-'));
  dirs.push(outDir);
  let file = 'v0';
  const builds: { text: string; signal: AbortSignal | undefined; finish: () => void; fail: (msg: string) => void }[] = [];
  const bundler: Bundler = (_entry, { signal }) =>
    new Promise((resolve, reject) => {
      const text = file;
      builds.push({ text, signal, finish: () => resolve({ code: text, map: '{}', sha256: text.padEnd(64, '_') }), fail: (msg) => reject(new Error(msg)) });
    });
  const source = new EntrySource('fn', '/fn/index.ts', outDir, bundler);
  const loads: { spec: VersionSpec; finish: () => void }[] = [];
  const invokers: FakeInvoker[] = [];
  const load = (spec: VersionSpec) =>
    new Promise<Invoker>((resolve) => {
      const finish = () => {
        const inv = new FakeInvoker(spec.version);
        invokers.push(inv);
        resolve(inv);
      };
      if (opts.instantLoads) finish();
      else loads.push({ spec, finish });
    });
  const log = captureLog('debug');
  const bus = new ReloadBus(log.logger, undefined);
  const notices: ReloadNotice[] = [];
  bus.subscribe((n) => notices.push(n));
  const gens = new Generations();
  // Every version that became current, in order, and the invokers that did.
  const currents: string[] = [];
  const swapped = new Set<Invoker>();
  const swap = gens.swap.bind(gens);
  gens.swap = (version, invoker) => {
    currents.push(version);
    swapped.add(invoker);
    return swap(version, invoker);
  };
  const reloader = new Reloader('fn', source as VersionSource, load, gens, bus.emit);
  let onEvent: ((changed: string | null) => void) | undefined;
  const watchFn: WatchFn = (_dir, cb) => {
    onEvent = cb;
    return { close: () => {}, on: () => ({}) as never };
  };
  const watch = new SourceWatch('/fn', () => void reloader.reload('change'), { debounceMs: 100, watchFn });
  /** The author saves `text`: the watcher's event, then the debounce. */
  const save = async (text: string) => {
    file = text;
    onEvent!('index.ts');
    await vi.advanceTimersByTimeAsync(100);
  };
  const settle = async () => {
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  };
  return { save, settle, builds, loads, invokers, notices, gens, currents, swapped, reloader, watch, log };
}

describe('reload pipeline: stale builds', () => {
  test('reload: a save during a build cancels it; the newer build becomes current even when the stale one finishes last', async () => {
    const p = pipeline({ instantLoads: true });
    await p.save('v1');
    expect(p.builds).toHaveLength(1);
    await p.save('v2');
    // The stale build was told to stop, and the newest started without waiting for it.
    expect(p.builds[0].signal?.aborted).toBe(true);
    expect(p.builds).toHaveLength(2);
    expect(p.builds[1].text).toBe('v2');
    p.builds[1].finish();
    await p.settle();
    expect(p.gens.current?.version).toBe(versionOf('v2'));
    // The stale build ignores the cancel and finishes after the newer one: never swapped in.
    p.builds[0].finish();
    await p.reloader.settled();
    await p.settle();
    expect(p.currents).toEqual([versionOf('v2')]);
    expect(p.gens.current?.version).toBe(versionOf('v2'));
    expect(p.notices.map((n) => n.type)).toEqual(['buildStarted', 'reloadAbandoned', 'buildStarted', 'reloadComplete']);
    expect(p.notices[1]).toEqual({ type: 'reloadAbandoned', function: 'fn', version: undefined });
    expect(p.log.lines.filter((l) => l.event === 'functionReloadAbandoned')).toHaveLength(1);
  });

  test('reload: a save while the previous save loads shuts that pool unseen, and the newer one serves', async () => {
    const p = pipeline();
    await p.save('v1');
    p.builds[0].finish();
    await p.settle();
    expect(p.loads.map((l) => l.spec.version)).toEqual([versionOf('v1')]);
    await p.save('v2');
    // A pool cannot stop starting midway: the attempt waits for it, then shuts it.
    expect(p.builds).toHaveLength(1);
    p.loads[0].finish();
    await p.settle();
    expect(p.invokers[0].closed).toBe(1);
    expect(p.gens.current).toBeUndefined();
    expect(p.builds).toHaveLength(2);
    p.builds[1].finish();
    await p.settle();
    p.loads[1].finish();
    await p.reloader.settled();
    expect(p.currents).toEqual([versionOf('v2')]);
    expect(p.invokers[1].closed).toBe(0);
    expect(p.notices.map((n) => n.type)).toEqual(['buildStarted', 'reloadAbandoned', 'buildStarted', 'reloadComplete']);
    expect(p.notices[1]).toEqual({ type: 'reloadAbandoned', function: 'fn', version: versionOf('v1') });
  });

  test('reload: a burst of saves while one build runs is one more build, of the last save', async () => {
    const p = pipeline({ instantLoads: true });
    await p.save('v1');
    // Three saves inside one debounce: one change.
    for (const text of ['v2', 'v3', 'v4']) {
      await p.save(text);
    }
    p.builds.forEach((b) => b.finish());
    await p.reloader.settled();
    await p.settle();
    expect(p.gens.current?.version).toBe(versionOf('v4'));
    expect(p.currents).toEqual([versionOf('v4')]);
    expect(p.builds.slice(0, -1).every((b) => b.signal?.aborted)).toBe(true);
  });

  test('reload: a failed build is a sourceFailed notice with its text, and the last good version keeps serving', async () => {
    const p = pipeline({ instantLoads: true });
    await p.save('v1');
    p.builds[0].finish();
    await p.reloader.settled();
    await p.save('broken');
    p.builds[1].fail('cannot bundle /fn/index.ts:\n  /fn/index.ts:1:27: Unexpected ";"');
    await p.reloader.settled();
    expect(p.gens.current?.version).toBe(versionOf('v1'));
    const failed = p.notices.find((n) => n.type === 'sourceFailed');
    expect(failed && failed.type === 'sourceFailed' && (failed.err as Error).message).toMatch(/^cannot bundle .*Unexpected/s);
  });

  test('reload: a poll does not abandon a load under way (a deploy folder loads what it named)', async () => {
    const deploy: VersionSource = { kind: 'deploy', current: async () => ({ version: 'd1', bundlePath: '/d1' }) };
    const loads: ((inv: Invoker) => void)[] = [];
    const gens = new Generations();
    const notices: ReloadNotice[] = [];
    const reloader = new Reloader('fn', deploy, () => new Promise<Invoker>((r) => loads.push(r)), gens, (n) => notices.push(n));
    const first = reloader.reload();
    for (let i = 0; i < 20 && loads.length === 0; i++) await new Promise((r) => setImmediate(r));
    void reloader.reload('poll');
    loads[0](new FakeInvoker('d1'));
    await first;
    expect(gens.current?.version).toBe('d1');
    expect(notices.map((n) => n.type)).toEqual(['reloadComplete']);
  });

  test('reload: an EntrySource build that outlives an invalidate() is built again, not remembered', async () => {
    const outDir = mkdtempSync(join(tmpdir(), 'tftpfn-reload-abort-'));
    dirs.push(outDir);
    let file = 'old';
    const pending: (() => void)[] = [];
    const source = new EntrySource('fn', '/fn/index.ts', outDir, () => {
      const text = file;
      return new Promise((r) => pending.push(() => r({ code: text, map: '{}', sha256: text.padEnd(64, '_') })));
    });
    const asked = source.current();
    await Promise.resolve();
    file = 'new';
    source.invalidate();
    pending.shift()!();
    for (let i = 0; i < 20 && pending.length === 0; i++) await new Promise((r) => setImmediate(r));
    pending.shift()!();
    expect((await asked).version).toBe(versionOf('new'));
    expect((await source.current()).version).toBe(versionOf('new'));
  });
});

describe('reload pipeline: seeded interleavings', () => {
  test('reload: whatever order saves, builds and loads finish in, the versions made current follow the saves and the last save serves', async () => {
    const seed = testSeed(20261207);
    const rand = prng(seed);
    for (let round = 0; round < 40; round++) {
      const p = pipeline();
      const saved: string[] = [];
      // Up to 60 steps: save, finish some pending build, or finish some pending load.
      for (let step = 0; step < 60; step++) {
        const r = rand();
        const openBuilds = p.builds.filter((b) => !(b as { done?: boolean }).done);
        const openLoads = p.loads.filter((l) => !(l as { done?: boolean }).done);
        if (r < 0.3 || (openBuilds.length === 0 && openLoads.length === 0)) {
          const text = `r${round}s${step}`;
          saved.push(text);
          await p.save(text);
        } else if (r < 0.65 && openBuilds.length > 0) {
          const b = openBuilds[Math.floor(rand() * openBuilds.length)];
          (b as { done?: boolean }).done = true;
          b.finish();
        } else if (openLoads.length > 0) {
          const l = openLoads[Math.floor(rand() * openLoads.length)];
          (l as { done?: boolean }).done = true;
          l.finish();
        }
        await p.settle();
      }
      // Drain: finish everything still pending (bounded: each pass finishes at least one).
      for (let pass = 0; pass < 200; pass++) {
        const open = [...p.builds, ...p.loads].filter((x) => !(x as { done?: boolean }).done);
        if (open.length === 0) break;
        for (const x of open) {
          (x as { done?: boolean }).done = true;
          x.finish();
        }
        await p.settle();
      }
      await p.reloader.settled();
      const order = p.currents.map((v) => saved.findIndex((s) => versionOf(s) === v));
      const context = `seed ${seed} round ${round}: saves ${saved.join(',')} currents ${p.currents.join(',')}`;
      expect(order.every((i) => i >= 0), context).toBe(true);
      expect(order.every((i, k) => k === 0 || i > order[k - 1]), context).toBe(true);
      expect(p.gens.current?.version, context).toBe(versionOf(saved.at(-1)!));
      // Every pool that never became current was shut, once.
      const unserved = p.invokers.filter((inv) => !p.swapped.has(inv));
      expect(unserved.map((inv) => inv.closed), context).toEqual(unserved.map(() => 1));
      expect((p.gens.current?.invoker as FakeInvoker | undefined)?.closed, context).toBe(0);
      p.watch.close();
    }
  });
});

describe('reload pipeline: one outcome per change', () => {
  test('reload: a change whose build is the version serving ends in reloadUnchanged, not in silence', async () => {
    const p = pipeline({ instantLoads: true });
    await p.save('v1');
    p.builds[0].finish();
    await p.reloader.settled();
    await p.save('v1'); // saved again, same bundle (a comment-only edit esbuild drops, a touch)
    p.builds[1].finish();
    await p.reloader.settled();
    expect(p.notices.map((n) => n.type)).toEqual(['buildStarted', 'reloadComplete', 'buildStarted', 'reloadUnchanged']);
    expect(p.notices[3]).toEqual({ type: 'reloadUnchanged', function: 'fn', version: versionOf('v1') });
    expect(p.currents).toEqual([versionOf('v1')]);
    p.watch.close();
  });

  test('reload: a change that builds a version which failed to load says so with its error, and a poll stays quiet', async () => {
    const log = captureLog('debug');
    const bus = new ReloadBus(log.logger, undefined);
    const notices: ReloadNotice[] = [];
    bus.subscribe((n) => notices.push(n));
    const source: VersionSource = { kind: 'entry', current: async () => ({ version: 'local-broken', bundlePath: '/x' }) };
    const reloader = new Reloader('fn', source, () => Promise.reject(new Error('throws at import: boom')), new Generations(), bus.emit);
    await reloader.reload('change');
    await reloader.reload('change');
    await reloader.reload('poll');
    expect(notices.map((n) => n.type)).toEqual(['buildStarted', 'reloadFailed', 'buildStarted', 'reloadUnchanged']);
    expect(notices[3]).toEqual({ type: 'reloadUnchanged', function: 'fn', version: 'local-broken', error: 'throws at import: boom' });
  });
});
