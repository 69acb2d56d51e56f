/**
 * The reload pipeline with a canary (runtime/reload.ts, generations.ts; issue 12): a fake source
 * that names a stable version and maybe a canary, loads that finish at once (or fail for the
 * versions named broken), and invokers that only count close().
 */
import { describe, expect, test } from 'vitest';
import { Generations } from '../../../gateway/src/runtime/generations.js';
import { Reloader, type ReloadNotice } from '../../../gateway/src/runtime/reload.js';
import type { VersionSource, VersionSpec } from '../../../gateway/src/runtime/version-sources.js';
import { FakeInvoker } from '../../helpers/fake-invoker.js';
import { picksCanary } from '../../../gateway/src/runtime/canary-pick.js';

function setup() {
  let rollout: { stable: string; canary?: { version: string; percent: number } } = { stable: 'a' };
  const broken = new Set<string>();
  const spec = (v: string): VersionSpec => ({ version: v, bundlePath: `/b/${v}` });
  const source: VersionSource = {
    kind: 'fleet',
    current: async () => ({ ...spec(rollout.stable), canary: rollout.canary && { spec: spec(rollout.canary.version), percent: rollout.canary.percent } }),
  };
  const loaded: string[] = [];
  const invokers = new Map<string, FakeInvoker>();
  const load = async (s: VersionSpec) => {
    loaded.push(s.version);
    if (broken.has(s.version)) throw new Error(`${s.version} throws at import`);
    const inv = new FakeInvoker(s.version);
    invokers.set(s.version, inv);
    return inv;
  };
  const notices: ReloadNotice[] = [];
  const gens = new Generations('fn');
  const reloader = new Reloader('fn', source, load, gens, (n) => notices.push(n));
  return { set: (r: typeof rollout) => (rollout = r), broken, loaded, invokers, notices, gens, reloader };
}

const ids = Array.from({ length: 1000 }, (_, i) => `ip:10.1.${(i >> 8) & 255}.${i & 255}`);

describe('reload with a canary', () => {
  test('a canary loads beside the stable version and takes its share of new sessions by client', async () => {
    const t = setup();
    await t.reloader.reload();
    t.set({ stable: 'a', canary: { version: 'b', percent: 30 } });
    await t.reloader.reload();
    expect(t.gens.serving()).toEqual(['a', 'b']);
    let onB = 0;
    for (const id of ids) {
      const p = t.gens.pin(id)!;
      expect(p.version).toBe(picksCanary(id, 'fn', 30) ? 'b' : 'a');
      if (p.version === 'b') onB++;
      // The same client keeps its side across requests.
      for (let k = 0; k < 3; k++) {
        const again = t.gens.pin(id)!;
        expect(again.version).toBe(p.version);
        again.release();
      }
      p.release();
    }
    expect(onB).toBeGreaterThanOrEqual(250);
    expect(onB).toBeLessThanOrEqual(350);
    // A request without an identity gets the stable version.
    expect(t.gens.pin()!.version).toBe('a');
  });

  test('promote makes the canary stable without loading it again; the old stable drains', async () => {
    const t = setup();
    await t.reloader.reload();
    t.set({ stable: 'a', canary: { version: 'b', percent: 50 } });
    await t.reloader.reload();
    const onA = t.gens.pin()!;
    t.set({ stable: 'b' });
    await t.reloader.reload();
    expect(t.loaded).toEqual(['a', 'b']);
    expect(t.gens.serving()).toEqual(['b']);
    expect(t.gens.draining.size).toBe(1);
    expect(t.invokers.get('a')!.closed).toBe(0);
    onA.release();
    for (let i = 0; i < 20 && t.gens.draining.size > 0; i++) await new Promise((r) => setImmediate(r));
    expect(t.invokers.get('a')!.closed).toBe(1);
    expect(t.invokers.get('b')!.closed).toBe(0);
  });

  test('abort retires the canary; the stable version goes on', async () => {
    const t = setup();
    await t.reloader.reload();
    t.set({ stable: 'a', canary: { version: 'b', percent: 50 } });
    await t.reloader.reload();
    t.set({ stable: 'a' });
    await t.reloader.reload();
    for (let i = 0; i < 20 && t.gens.draining.size > 0; i++) await new Promise((r) => setImmediate(r));
    expect(t.gens.serving()).toEqual(['a']);
    expect(t.invokers.get('b')!.closed).toBe(1);
    expect(t.notices.filter((n) => n.type === 'versionRetired').map((n) => (n as { version: string }).version)).toEqual(['b']);
  });

  test('a new percent for the same canary changes the share without a load', async () => {
    const t = setup();
    await t.reloader.reload();
    t.set({ stable: 'a', canary: { version: 'b', percent: 10 } });
    await t.reloader.reload();
    t.set({ stable: 'a', canary: { version: 'b', percent: 90 } });
    await t.reloader.reload();
    expect(t.loaded).toEqual(['a', 'b']);
    expect(t.gens.canary?.percent).toBe(90);
  });

  test('a canary that fails to load never serves, is reported, and is not tried again on the next poll', async () => {
    const t = setup();
    await t.reloader.reload();
    t.broken.add('b');
    t.set({ stable: 'a', canary: { version: 'b', percent: 50 } });
    await t.reloader.reload();
    await t.reloader.reload();
    expect(t.loaded).toEqual(['a', 'b']);
    expect(t.gens.serving()).toEqual(['a']);
    for (const id of ids.slice(0, 100)) expect(t.gens.pin(id)!.version).toBe('a');
    expect(t.reloader.lastError).toBe('b throws at import');
    expect(t.notices.find((n) => n.type === 'reloadFailed')).toMatchObject({ version: 'b', previous: 'a', error: 'b throws at import' });
  });

  test('a broken stable version leaves the previous one (and its canary) serving', async () => {
    const t = setup();
    await t.reloader.reload();
    t.set({ stable: 'a', canary: { version: 'b', percent: 50 } });
    await t.reloader.reload();
    t.broken.add('c');
    t.set({ stable: 'c' });
    await t.reloader.reload();
    expect(t.gens.serving()).toEqual(['a', 'b']);
    expect(t.reloader.lastError).toBe('c throws at import');
  });
});
