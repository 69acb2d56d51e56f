import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync, utimesSync, mkdirSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalDirSource } from '../../../gateway/src/sources/local-dir.js';
import { HotFileCache } from '../../../gateway/src/sources/hot-file-cache.js';
import { normalizePath } from '../../../gateway/src/protocol/path.js';
import type { ByteReader } from '../../../gateway/src/sources/types.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'tftpfn-src-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function readAll(r: ByteReader): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for (let i = 0; i < 100_000; i++) {
    const c = await r.read(512);
    if (c === null) break;
    parts.push(c);
  }
  await r.close();
  return Buffer.concat(parts);
}

describe('folder source', () => {
  it('folder source: reads a file whole and reports its exact size', async () => {
    const root = tempDir();
    const body = Buffer.alloc(200_000, 7);
    writeFileSync(join(root, 'a.bin'), body);
    const src = new LocalDirSource(root, { readAheadBytes: 4096 });
    const r = await src.openRead(normalizePath('/a.bin'));
    expect(r.size).toBe(body.length);
    expect((await readAll(r)).equals(body)).toBe(true);
  });

  it('folder source: missing file is ERROR 1, a directory is ERROR 2', async () => {
    const root = tempDir();
    mkdirSync(join(root, 'sub'));
    const src = new LocalDirSource(root);
    await expect(src.openRead(normalizePath('nope'))).rejects.toMatchObject({ tftpCode: 1, message: 'file not found' });
    await expect(src.openRead(normalizePath('sub'))).rejects.toMatchObject({ tftpCode: 2 });
  });

  it('folder source: a symlink leading outside the root is refused with ERROR 2 and no path in the text', async () => {
    const root = tempDir();
    const outside = tempDir();
    writeFileSync(join(outside, 'secret'), 'x');
    symlinkSync(join(outside, 'secret'), join(root, 'link'));
    const src = new LocalDirSource(root);
    const err = await Promise.resolve(src.openRead(normalizePath('link'))).catch((e) => e);
    expect(err).toMatchObject({ tftpCode: 2 });
    expect(err.message).not.toContain(outside);
  });

  it('folder source: with the hot cache on, a changed file is served fresh once the TTL has passed', async () => {
    const root = tempDir();
    const file = join(root, 'grub.cfg');
    writeFileSync(file, 'one');
    const src = new LocalDirSource(root, { cacheTtlMs: 1, cacheMaxFileBytes: 1024, cacheMaxTotalBytes: 4096 });
    expect((await readAll(await src.openRead(normalizePath('grub.cfg')))).toString()).toBe('one');
    writeFileSync(file, 'two!');
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    // Wait out the 1 ms TTL without sleeping on a timer we do not control: spin a bounded loop.
    const until = performance.now() + 5;
    while (performance.now() < until) { /* bounded */ }
    expect((await readAll(await src.openRead(normalizePath('grub.cfg')))).toString()).toBe('two!');
  });
});

describe('hot file cache', () => {
  it('hot file cache: evicts least recently used entries past its byte budget', () => {
    const c = new HotFileCache(1000, 100, 150);
    c.set('a', { bytes: Buffer.alloc(60), stamp: 'a', checkedAt: 0 });
    c.set('b', { bytes: Buffer.alloc(60), stamp: 'b', checkedAt: 0 });
    expect(c.fresh('a', 1)).toBeDefined(); // a is now most recent
    c.set('c', { bytes: Buffer.alloc(60), stamp: 'c', checkedAt: 0 });
    expect(c.peek('b')).toBeUndefined();
    expect(c.peek('a')).toBeDefined();
    expect(c.peek('c')).toBeDefined();
  });

  it('hot file cache: entries older than the TTL are not fresh; files over the size limit are not kept', () => {
    const c = new HotFileCache(10, 100, 1000);
    c.set('a', { bytes: Buffer.alloc(10), stamp: 'a', checkedAt: 0 });
    expect(c.fresh('a', 5)).toBeDefined();
    expect(c.fresh('a', 11)).toBeUndefined();
    c.set('big', { bytes: Buffer.alloc(101), stamp: 'x', checkedAt: 0 });
    expect(c.peek('big')).toBeUndefined();
  });

  it('hot file cache: concurrent loads of one key run the loader once', async () => {
    const c = new HotFileCache(10, 100, 1000);
    let calls = 0;
    const load = async () => {
      calls++;
      await Promise.resolve();
      return { bytes: Buffer.alloc(1), stamp: 's', checkedAt: 0 };
    };
    const results = await Promise.all([c.loadOnce('k', load), c.loadOnce('k', load), c.loadOnce('k', load)]);
    expect(calls).toBe(1);
    expect(new Set(results).size).toBe(1);
  });

  it('folder source: a fresh hot-cache hit is answered at once, without a promise; a miss or an expired entry opens the file', async () => {
    const root = tempDir();
    writeFileSync(join(root, 'ipxe.cfg'), 'chain');
    const src = new LocalDirSource(root, { cacheTtlMs: 60_000, cacheMaxFileBytes: 1024, cacheMaxTotalBytes: 4096 });
    const miss = src.openRead(normalizePath('ipxe.cfg'));
    expect(miss).toBeInstanceOf(Promise);
    expect((await readAll(await miss)).toString()).toBe('chain');
    const hit = src.openRead(normalizePath('ipxe.cfg'));
    expect(hit).not.toBeInstanceOf(Promise);
    expect((await readAll(hit as ByteReader)).toString()).toBe('chain');
    // Without the cache every request opens (and re-checks) the file.
    const uncached = new LocalDirSource(root);
    await uncached.openRead(normalizePath('ipxe.cfg'));
    expect(uncached.openRead(normalizePath('ipxe.cfg'))).toBeInstanceOf(Promise);
  });
});
