import { afterEach, describe, expect, it } from 'vitest';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { LocalBucketStore } from '../../../gateway/src/objects/local-bucket.js';
import { ObjectStoreError, type ObjectErrorKind, type ObjectInfo } from '../../../gateway/src/objects/object-store.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'tftpfn-bucket-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) {
    chmodSync(d, 0o755);
    rmSync(d, { recursive: true, force: true });
  }
});

/** A root with bucket "boot" holding the given files. */
function storeWith(files: Record<string, string | Uint8Array>): { root: string; store: LocalBucketStore } {
  const root = tempDir();
  for (const [key, body] of Object.entries(files)) {
    const p = join(root, 'boot', key);
    mkdirSync(join(p, '..'), { recursive: true });
    writeFileSync(p, body);
  }
  return { root, store: new LocalBucketStore(root) };
}

async function kindOf(p: Promise<unknown>): Promise<ObjectErrorKind> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ObjectStoreError);
  return (e as ObjectStoreError).kind;
}

async function info(store: LocalBucketStore, key: string): Promise<ObjectInfo> {
  const r = await store.head({ bucket: 'boot', key });
  if (r === 'not-modified') throw new Error('unexpected not-modified');
  return r;
}

describe('LocalBucketStore', () => {
  it('head: gives the size and an ETag, and kind is folder', async () => {
    const { store } = storeWith({ 'a/b.bin': 'hello world' });
    const i = await info(store, 'a/b.bin');
    expect(i.size).toBe(11);
    expect(i.etag).toMatch(/^[0-9a-f]{32}$/);
    expect(store.kind).toBe('folder');
  });

  it('head: answers not-modified for the current ETag and the info for another', async () => {
    const { store } = storeWith({ 'x.bin': 'abc' });
    const i = await info(store, 'x.bin');
    expect(await store.head({ bucket: 'boot', key: 'x.bin' }, { ifNoneMatch: i.etag })).toBe('not-modified');
    expect(await store.head({ bucket: 'boot', key: 'x.bin' }, { ifNoneMatch: 'other' })).toEqual(i);
  });

  it('getRange: returns exactly the bytes asked for, including the last byte and an empty range', async () => {
    const body = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
    const { store } = storeWith({ 'r.bin': body });
    const { etag } = await info(store, 'r.bin');
    const ref = { bucket: 'boot', key: 'r.bin' };
    for (const [s, e] of [[0, 1], [0, 1000], [17, 513], [999, 1000], [500, 500]] as const) {
      expect(Buffer.from(await store.getRange(ref, s, e, etag))).toEqual(body.subarray(s, e));
    }
  });

  it('etag: changes when the file is rewritten, even with the same size', async () => {
    const { root, store } = storeWith({ 'c.txt': 'aaaa' });
    const before = await info(store, 'c.txt');
    writeFileSync(join(root, 'boot', 'c.txt'), 'bbbb');
    utimesSync(join(root, 'boot', 'c.txt'), new Date(), new Date(Date.now() + 5000));
    const after = await info(store, 'c.txt');
    expect(after.size).toBe(4);
    expect(after.etag).not.toBe(before.etag);
    expect(await info(store, 'c.txt')).toEqual(after); // stable while unchanged
  });

  it('getRange: a stale ETag fails with changed, after an in-place rewrite and after a rename into place', async () => {
    const { root, store } = storeWith({ 'k.bin': 'version one' });
    const ref = { bucket: 'boot', key: 'k.bin' };
    const { etag } = await info(store, 'k.bin');
    writeFileSync(join(root, 'boot', 'k.bin'), 'version two, longer');
    expect(await kindOf(store.getRange(ref, 0, 5, etag))).toBe('changed');
    const { etag: second } = await info(store, 'k.bin');
    writeFileSync(join(root, 'boot', '.tmp'), 'version three');
    renameSync(join(root, 'boot', '.tmp'), join(root, 'boot', 'k.bin'));
    expect(await kindOf(store.getRange(ref, 0, 5, second))).toBe('changed');
  });

  it('not-found: a missing key, a missing bucket, a folder as key, a version id', async () => {
    const { store } = storeWith({ 'dir/f': 'x' });
    expect(await kindOf(store.head({ bucket: 'boot', key: 'nope' }))).toBe('not-found');
    expect(await kindOf(store.head({ bucket: 'nobucket', key: 'dir/f' }))).toBe('not-found');
    expect(await kindOf(store.head({ bucket: 'boot', key: 'dir' }))).toBe('not-found');
    expect(await kindOf(store.head({ bucket: 'boot', key: 'dir/f', versionId: 'v1' }))).toBe('not-found');
    expect(await kindOf(store.getRange({ bucket: 'boot', key: 'nope' }, 0, 1, 'e'))).toBe('not-found');
  });

  it('denied: traversal and malformed names are refused before touching the disk', async () => {
    const { root, store } = storeWith({ 'f': 'x' });
    writeFileSync(join(root, 'secret'), 'outside any bucket');
    for (const ref of [
      { bucket: 'boot', key: '../secret' },
      { bucket: '..', key: 'secret' },
      { bucket: 'boot', key: 'a//f' },
      { bucket: 'boot', key: '' },
      { bucket: '', key: 'f' },
      { bucket: 'boot/..', key: 'secret' },
      { bucket: 'boot', key: 'a\\..\\f' },
      { bucket: 'boot', key: './f' },
      { bucket: 'boot', key: 'f\u0000' },
    ]) {
      expect(await kindOf(store.head(ref)), JSON.stringify(ref)).toBe('denied');
    }
  });

  it('denied: a symlink leading outside the root is refused; one inside the root is followed', async () => {
    const outside = tempDir();
    writeFileSync(join(outside, 'passwd'), 'root:x:0:0');
    const { root, store } = storeWith({ 'real.bin': 'inside' });
    symlinkSync(join(outside, 'passwd'), join(root, 'boot', 'escape'));
    symlinkSync(outside, join(root, 'linked-bucket'));
    symlinkSync(join(root, 'boot', 'real.bin'), join(root, 'boot', 'alias'));
    expect(await kindOf(store.head({ bucket: 'boot', key: 'escape' }))).toBe('denied');
    expect(await kindOf(store.head({ bucket: 'linked-bucket', key: 'passwd' }))).toBe('denied');
    expect((await info(store, 'alias')).size).toBe(6);
  });

  it('denied: an unreadable file is denied, not missing', async () => {
    const { root, store } = storeWith({ 'locked': 'x' });
    chmodSync(join(root, 'boot', 'locked'), 0o000);
    if (process.getuid?.() !== 0) {
      expect(await kindOf(store.head({ bucket: 'boot', key: 'locked' }))).toBe('denied');
      return;
    }
    // Root reads any file whatever its mode: ask as an unprivileged user (nobody), from the build.
    chmodSync(root, 0o755);
    chmodSync(join(root, 'boot'), 0o755);
    // The built modules it needs, copied where nobody can read them whatever the checkout's
    // permissions (a CI checkout under /root would not be).
    const code = mkdtempSync(join(tmpdir(), 'tftpfn-probe-'));
    chmodSync(code, 0o755);
    for (const f of ['objects/local-bucket.js', 'objects/object-store.js', 'objects/upload-local.js', 'sources/beneath.js']) {
      mkdirSync(join(code, f, '..'), { recursive: true, mode: 0o755 });
      chmodSync(join(code, f, '..'), 0o755);
      copyFileSync(join(import.meta.dirname, '../../../dist/gateway/src', f), join(code, f));
    }
    dirs.push(code);
    const built = pathToFileURL(join(code, 'objects/local-bucket.js')).href;
    const probe = `const { LocalBucketStore } = await import(${JSON.stringify(built)});
      const store = new LocalBucketStore(${JSON.stringify(root)});
      try { await store.head({ bucket: 'boot', key: 'locked' }); console.log('readable'); } catch (e) { console.log(e.kind); }`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', probe], { uid: 65534, gid: 65534, encoding: 'utf8', timeout: 20_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('denied');
  });

  it('signal: an aborted signal fails with unavailable', async () => {
    const { store } = storeWith({ 'f': 'x' });
    const ac = new AbortController();
    ac.abort();
    expect(await kindOf(store.head({ bucket: 'boot', key: 'f' }, { signal: ac.signal }))).toBe('unavailable');
  });
});
