/**
 * The fleet source's disk cache (runtime/fleet-cache.ts): bundles by hash, readable by the
 * sandbox user; what was served and its secrets, sealed; damage detected; old bundles pruned.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FleetCache, type ServedState } from '../../../gateway/src/runtime/fleet-cache.js';
import type { VersionRecord } from '../../../gateway/src/control/control-plane.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const dir = () => {
  const d = mkdtempSync(join(tmpdir(), 'fleet-cache-test-'));
  dirs.push(d);
  return d;
};
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const record = (code: string, id: string): VersionRecord => ({ function: 'grub', id, sha256: sha(code), bytes: code.length, createdAt: '2026-01-01T00:00:00.000Z', author: 't', settings: { vars: { A: '1' } } });
const KEY = Buffer.alloc(32, 9);

describe('fleet cache', () => {
  it('writes a bundle under its hash, readable by others (the sandbox copies it with its mode), and refuses bytes that do not match', async () => {
    const c = new FleetCache(dir(), KEY);
    const path = await c.putBundle('grub', sha('code'), Buffer.from('code'));
    expect(readFileSync(path, 'utf8')).toBe('code');
    expect(statSync(path).mode & 0o777).toBe(0o644);
    expect(await c.hasBundle('grub', sha('code'))).toBe(true);
    await expect(c.putBundle('grub', sha('other'), Buffer.from('code'))).rejects.toThrow(/sha256/);
  });

  it('keeps what was served with its secrets sealed, private to the gateway user, and reads them back', async () => {
    const d = dir();
    const c = new FleetCache(d, KEY);
    const r1 = record('one', 'v1');
    const r2 = record('two', 'v2');
    const state: ServedState = { revision: 3, stable: r1, canary: { record: r2, percent: 25 }, at: '2026-01-01T00:00:01.000Z' };
    await c.putServed('grub', state, { TOKEN: 'hunter2' });
    expect(readFileSync(join(d, 'grub', 'secrets.enc')).includes(Buffer.from('hunter2'))).toBe(false);
    expect(statSync(join(d, 'grub', 'served.json')).mode & 0o777).toBe(0o600);
    expect(await new FleetCache(d, KEY).served('grub')).toEqual({ state, secrets: { TOKEN: 'hunter2' } });
    await expect(new FleetCache(d, Buffer.alloc(32, 1)).served('grub')).rejects.toThrow(/another secrets key/);
    await expect(new FleetCache(d).served('grub')).rejects.toThrow(/secrets key/);
    expect(await c.functions()).toEqual(['grub']);
    expect(await c.served('ipxe')).toBeUndefined();
  });

  it('finds a damaged bundle when it is read for a start from cache', async () => {
    const c = new FleetCache(dir(), KEY);
    const path = await c.putBundle('grub', sha('code'), Buffer.from('code'));
    expect(await c.verifiedBundle('grub', sha('code'))).toBe(path);
    writeFileSync(path, 'rotten');
    expect(await c.verifiedBundle('grub', sha('code'))).toBeUndefined();
  });

  it('keeps the served bundles and the four newest others', async () => {
    const d = dir();
    const c = new FleetCache(d, KEY);
    const codes = Array.from({ length: 8 }, (_, i) => `code-${i}`);
    for (const code of codes) {
      await c.putBundle('grub', sha(code), Buffer.from(code));
      await new Promise((r) => setTimeout(r, 5)); // distinct mtimes
    }
    await c.putServed('grub', { revision: 1, stable: record(codes[0], 'v0'), at: 'x' }, {});
    const left = readdirSync(join(d, 'grub')).filter((n) => /^[0-9a-f]{64}$/.test(n)).sort();
    expect(left).toEqual([codes[0], ...codes.slice(4)].map(sha).sort());
  });

  it('refuses names that are not function names or hashes', () => {
    const c = new FleetCache(dir(), KEY);
    expect(() => c.bundlePath('../etc', sha('x'))).toThrow(/function name/);
    expect(() => c.bundlePath('grub', '../../x')).toThrow(/sha256/);
  });
});
