/**
 * The reload pipeline without workers (runtime/reload.ts, generations.ts): a fake version
 * source and a fake loader whose loads the test finishes by hand, and invokers that only count
 * close(). Checks the order of steps, the merging of bursts, the skipping of a version that
 * failed and draining (the log lines and onReload events: reload-notices.test.ts).
 */
import { describe, expect, test } from 'vitest';
import { Generations } from '../../../gateway/src/runtime/generations.js';
import { Reloader, type ReloadNotice } from '../../../gateway/src/runtime/reload.js';
import type { VersionSource, VersionSpec } from '../../../gateway/src/runtime/version-sources.js';
import { FakeInvoker } from '../../helpers/fake-invoker.js';
import type { Invoker } from '../../../gateway/src/runtime/invoker.js';


function setup() {
  let version: string | Error = 'v1';
  const source: VersionSource = {
    kind: 'deploy',
    current: async () => {
      if (version instanceof Error) throw version;
      return { version, bundlePath: `/b/${version}` };
    },
  };
  const loads: { spec: VersionSpec; finish: (ok: boolean) => void }[] = [];
  const invokers: FakeInvoker[] = [];
  const load = (spec: VersionSpec) =>
    new Promise<Invoker>((resolve, reject) => {
      loads.push({
        spec,
        finish: (ok) => {
          if (!ok) return reject(new Error(`${spec.version} cannot start`));
          const inv = new FakeInvoker(spec.version);
          invokers.push(inv);
          resolve(inv);
        },
      });
    });
  const notices: ReloadNotice[] = [];
  const gens = new Generations();
  const reloader = new Reloader('fn', source, load, gens, (n) => notices.push(n));
  const until = async (cond: () => boolean) => {
    for (let i = 0; i < 100 && !cond(); i++) await new Promise((r) => setImmediate(r));
    expect(cond()).toBe(true);
  };
  return { setVersion: (v: string | Error) => (version = v), loads, invokers, notices, gens, reloader, until };
}

describe('reload', () => {
  test('reload: a new version is loaded, swapped in, and the old one drains once its last pin is released', async () => {
    const t = setup();
    const first = t.reloader.reload();
    await t.until(() => t.loads.length === 1);
    t.loads[0].finish(true);
    await first;
    expect(t.gens.current?.version).toBe('v1');
    const pinned = t.gens.pin()!;
    expect(pinned.version).toBe('v1');

    t.setVersion('v2');
    const second = t.reloader.reload();
    await t.until(() => t.loads.length === 2);
    // While v2 loads, v1 still serves new requests.
    const during = t.gens.pin()!;
    expect(during.version).toBe('v1');
    during.release();
    t.loads[1].finish(true);
    await second;
    expect(t.gens.current?.version).toBe('v2');
    expect(t.gens.draining.size).toBe(1);
    expect(t.invokers[0].closed).toBe(0);
    pinned.release();
    await t.until(() => t.gens.draining.size === 0);
    expect(t.invokers[0].closed).toBe(1);
    expect(t.notices.map((n) => n.type)).toEqual(['reloadComplete', 'reloadComplete', 'versionRetired']);
    expect(t.notices[1]).toMatchObject({ function: 'fn', version: 'v2', previous: 'v1', ok: true });
  });

  test('reload: a burst of triggers while one load runs collapses into one more load, of the newest version', async () => {
    const t = setup();
    const first = t.reloader.reload();
    await t.until(() => t.loads.length === 1);
    t.setVersion('v2');
    void t.reloader.reload();
    t.setVersion('v3');
    void t.reloader.reload();
    t.loads[0].finish(true);
    await t.until(() => t.loads.length === 2);
    expect(t.loads[1].spec.version).toBe('v3');
    t.loads[1].finish(true);
    await first;
    expect(t.loads).toHaveLength(2);
    expect(t.gens.current?.version).toBe('v3');
  });

  test('reload: a version that failed to load is tried once, and the previous one keeps serving', async () => {
    const t = setup();
    const first = t.reloader.reload();
    await t.until(() => t.loads.length === 1);
    t.loads[0].finish(true);
    await first;
    t.setVersion('bad');
    const second = t.reloader.reload();
    await t.until(() => t.loads.length === 2);
    t.loads[1].finish(false);
    await second;
    expect(t.gens.current?.version).toBe('v1');
    expect(t.reloader.lastError).toBe('bad cannot start');
    await t.reloader.reload();
    expect(t.loads).toHaveLength(2);
    const failed = t.notices.find((n) => n.type === 'reloadFailed');
    expect(failed).toMatchObject({ version: 'bad', previous: 'v1', ok: false, error: 'bad cannot start' });
  });

  test('reload: a source that cannot answer is reported, and nothing is loaded', async () => {
    const t = setup();
    t.setVersion(new Error('build failed'));
    await t.reloader.reload();
    expect(t.loads).toHaveLength(0);
    expect(t.reloader.lastError).toBe('build failed');
    expect(t.notices).toEqual([{ type: 'sourceFailed', function: 'fn', err: expect.any(Error) }]);
  });


  test('generations: close shuts every generation, and one still pinned after the grace is shut regardless', async () => {
    const gens = new Generations();
    const a = new FakeInvoker('a');
    const b = new FakeInvoker('b');
    gens.swap('a', a);
    const held = gens.pin()!;
    const old = gens.swap('b', b)!;
    gens.drain(old, () => {});
    expect(gens.pin()?.version).toBe('b');
    await gens.close(0);
    expect(a.closed).toBe(1);
    expect(b.closed).toBe(1);
    expect(gens.current).toBeUndefined();
    held.release();
    expect(a.closed).toBe(1);
  });
});
