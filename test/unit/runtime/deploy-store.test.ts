/**
 * The deploy folder on a real filesystem (temp dirs): versions written whole, the current
 * pointer, no-op re-deploys, rollback, pruning, and what concurrent deployers leave behind.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BuiltBundle } from '../../../gateway/src/runtime/bundle.js';
import { DeployStore } from '../../../gateway/src/runtime/deploy-store.js';

function fakeBundle(code: string): BuiltBundle {
  return {
    entry: 'functions/demo/index.ts',
    code,
    map: '{"version":3,"sources":[],"mappings":""}',
    bytes: Buffer.byteLength(code),
    sha256: createHash('sha256').update(code).digest('hex'),
    buildMs: 1,
    warnings: [],
  };
}

let dir: string;
let store: DeployStore;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tftpfn-deploy-'));
  store = new DeployStore(dir);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('DeployStore', () => {
  it('publish: writes the bundle, map and meta.json, then points current at the version', async () => {
    const b = fakeBundle('export const handle = () => 1;\n');
    const { deployed, unchanged } = await store.publish('demo', b);
    expect(unchanged).toBe(false);
    expect(deployed.version).toMatch(/^\d{8}T\d{9}Z-[0-9a-f]{8}$/);
    expect(deployed.version.endsWith(b.sha256.slice(0, 8))).toBe(true);
    expect(deployed).toMatchObject({ name: 'demo', sha256: b.sha256, bytes: b.bytes, entry: 'functions/demo/index.ts', dir: join(dir, 'demo', deployed.version) });
    expect(readFileSync(deployed.bundlePath, 'utf8')).toBe(b.code);
    expect(readFileSync(join(deployed.dir, 'function.mjs.map'), 'utf8')).toBe(b.map);
    const meta = JSON.parse(readFileSync(join(deployed.dir, 'meta.json'), 'utf8'));
    expect(meta).toEqual({ name: 'demo', version: deployed.version, sha256: b.sha256, bytes: b.bytes, deployedAt: deployed.deployedAt, entry: b.entry });
    expect(new Date(meta.deployedAt).toISOString()).toBe(meta.deployedAt);
    expect(readFileSync(join(dir, 'demo', 'current'), 'utf8').trim()).toBe(deployed.version);
    expect(await store.current('demo')).toEqual(deployed);
    // No temporary files are left behind.
    expect(readdirSync(join(dir, 'demo')).sort()).toEqual(['current', deployed.version].sort());
  });

  it('current: is undefined for a function never deployed, and for a missing deploy folder', async () => {
    expect(await store.current('nothing')).toBeUndefined();
    expect(await new DeployStore(join(dir, 'absent')).current('demo')).toBeUndefined();
    expect(await new DeployStore(join(dir, 'absent')).functions()).toEqual([]);
  });

  it('publish: byte-identical code to the current version is a no-op returning that version', async () => {
    const first = await store.publish('demo', fakeBundle('a'));
    const again = await store.publish('demo', fakeBundle('a'));
    expect(again.unchanged).toBe(true);
    expect(again.deployed).toEqual(first.deployed);
    expect(await store.versions('demo')).toHaveLength(1);
  });

  it('versions: lists every version oldest first; functions: names with a pointer, sorted', async () => {
    const a = await store.publish('demo', fakeBundle('a'));
    const b = await store.publish('demo', fakeBundle('b'));
    const c = await store.publish('demo', fakeBundle('c'));
    await store.publish('alpha', fakeBundle('x'));
    expect((await store.versions('demo')).map((v) => v.version)).toEqual([a.deployed.version, b.deployed.version, c.deployed.version]);
    expect(await store.functions()).toEqual(['alpha', 'demo']);
    expect((await store.current('demo'))!.version).toBe(c.deployed.version);
  });

  it('publish: ids sort in publish order even for deploys within one millisecond', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push((await store.publish('demo', fakeBundle(`v${i}`))).deployed.version);
    expect([...ids].sort()).toEqual(ids);
    expect((await store.versions('demo')).map((v) => v.version)).toEqual(ids);
  });

  it('activate: rolls back to an older version and forward again', async () => {
    const a = await store.publish('demo', fakeBundle('a'));
    const b = await store.publish('demo', fakeBundle('b'));
    expect(await store.activate('demo', a.deployed.version)).toEqual(a.deployed);
    expect((await store.current('demo'))!.version).toBe(a.deployed.version);
    await store.activate('demo', b.deployed.version);
    expect((await store.current('demo'))!.version).toBe(b.deployed.version);
    // Re-publishing the code of a non-current version is a new version, not a no-op.
    const again = await store.publish('demo', fakeBundle('a'));
    expect(again.unchanged).toBe(false);
    expect(again.deployed.version).not.toBe(a.deployed.version);
  });

  it('activate: refuses an unknown version or a malformed id, leaving current alone', async () => {
    const a = await store.publish('demo', fakeBundle('a'));
    await expect(store.activate('demo', '20200101T000000000Z-deadbeef')).rejects.toThrow(/function "demo" has no version 20200101T000000000Z-deadbeef in .*tftpfn deploy --list --name demo/);
    await expect(store.activate('demo', '../../etc')).rejects.toThrow(/not a version id/);
    expect((await store.current('demo'))!.version).toBe(a.deployed.version);
  });

  it('prune: deletes old versions but keeps the newest `keep` and the current one', async () => {
    const ids: string[] = [];
    for (const code of ['a', 'b', 'c', 'd', 'e']) ids.push((await store.publish('demo', fakeBundle(code))).deployed.version);
    await store.activate('demo', ids[0]); // rolled back to the oldest
    const deleted = await store.prune('demo', 2);
    expect(deleted).toEqual([ids[1], ids[2]]);
    expect((await store.versions('demo')).map((v) => v.version)).toEqual([ids[0], ids[3], ids[4]]);
    expect((await store.current('demo'))!.version).toBe(ids[0]);
    expect(await store.prune('demo', 0)).toEqual([ids[3], ids[4]]);
    expect((await store.current('demo'))!.version).toBe(ids[0]);
    expect(readdirSync(join(dir, 'demo')).sort()).toEqual(['current', ids[0]].sort());
  });

  it('publish: concurrent publishes of different code all land, and current names one of them', async () => {
    const stores = Array.from({ length: 8 }, () => new DeployStore(dir));
    const results = await Promise.all(stores.map((s, i) => s.publish('demo', fakeBundle(`code ${i}`))));
    const ids = results.map((r) => r.deployed.version);
    expect(new Set(ids).size).toBe(8);
    const current = await store.current('demo');
    expect(ids).toContain(current!.version);
    expect(readFileSync(current!.bundlePath, 'utf8')).toMatch(/^code \d$/);
    expect(await store.versions('demo')).toHaveLength(8);
    expect(readdirSync(join(dir, 'demo')).filter((n) => n.includes('tmp'))).toEqual([]);
  });

  it('publish: the same code from two deployers at once gives one valid version', async () => {
    const [x, y] = await Promise.all([store.publish('demo', fakeBundle('same')), new DeployStore(dir).publish('demo', fakeBundle('same'))]);
    const current = await store.current('demo');
    expect(current!.sha256).toBe(x.deployed.sha256);
    expect([x.deployed.version, y.deployed.version]).toContain(current!.version);
  });

  it('current: a pointer to a missing version is a clear error naming the fix', async () => {
    const a = await store.publish('demo', fakeBundle('a'));
    rmSync(a.deployed.dir, { recursive: true });
    await expect(store.current('demo')).rejects.toThrow(`function "demo": version ${a.deployed.version} is not usable`);
    await expect(store.current('demo')).rejects.toThrow(/tftpfn deploy --name demo --activate/);
    // A fresh publish repairs the pointer.
    const b = await store.publish('demo', fakeBundle('b'));
    expect((await store.current('demo'))!.version).toBe(b.deployed.version);
  });

  it('current: a truncated bundle or a garbled pointer is an error, not a half-loaded function', async () => {
    const a = await store.publish('demo', fakeBundle('export const handle = 1;'));
    writeFileSync(a.deployed.bundlePath, 'export');
    await expect(store.current('demo')).rejects.toThrow(/has 6 bytes, meta\.json says 24/);
    expect(await store.versions('demo')).toEqual([]);
    writeFileSync(join(dir, 'demo', 'current'), 'garbage\n');
    await expect(store.current('demo')).rejects.toThrow(/holds "garbage", not a version id/);
  });

  it('rejects function names that are not valid (and could escape the folder)', async () => {
    for (const bad of ['', '../x', 'a/b', '.hidden', 'x'.repeat(64), 'sp ace']) {
      await expect(store.publish(bad, fakeBundle('a'))).rejects.toThrow(/invalid function name/);
      await expect(store.current(bad)).rejects.toThrow(/invalid function name/);
    }
    expect(readdirSync(dir)).toEqual([]);
  });
});
