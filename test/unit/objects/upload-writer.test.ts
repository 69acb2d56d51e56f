import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { ObjectStoreError, type ObjectRef } from '../../../gateway/src/objects/object-store.js';
import { LocalUploadStore } from '../../../gateway/src/objects/upload-local.js';
import { UploadRegistry, UploadSlots, UploadTally } from '../../../gateway/src/objects/upload-registry.js';
import type { PendingUpload, UploadedPart, UploadStore, WriteOptions } from '../../../gateway/src/objects/upload-store.js';
import { MIN_PART_BYTES, UploadWriter } from '../../../gateway/src/objects/upload-writer.js';

const MiB = 1024 * 1024;

/** An in-memory store that records every call, can fail a chosen part, and holds parts until completed. */
class FakeStore implements UploadStore {
  readonly kind = 'fake';
  readonly objects = new Map<string, Uint8Array>();
  readonly uploads = new Map<string, { key: string; parts: Map<number, Uint8Array>; initiated: Date }>();
  readonly calls: string[] = [];
  failPart: number | undefined;
  failAbort = false;
  maxConcurrentParts = 0;
  private concurrent = 0;
  private next = 0;

  async exists(ref: ObjectRef) {
    return this.objects.has(ref.key);
  }
  async putObject(ref: ObjectRef, body: Uint8Array, opts: WriteOptions) {
    this.calls.push(`put ${ref.key} ${body.byteLength}`);
    if (opts.ifNoneMatch && this.objects.has(ref.key)) throw new ObjectStoreError('changed', 'exists');
    this.objects.set(ref.key, body.slice());
  }
  async createMultipart(ref: ObjectRef) {
    const id = `u${++this.next}`;
    this.calls.push(`create ${ref.key}`);
    this.uploads.set(id, { key: ref.key, parts: new Map(), initiated: new Date() });
    return id;
  }
  async uploadPart(_ref: ObjectRef, uploadId: string, n: number, body: Uint8Array): Promise<UploadedPart> {
    this.calls.push(`part ${n} ${body.byteLength}`);
    this.concurrent++;
    this.maxConcurrentParts = Math.max(this.maxConcurrentParts, this.concurrent);
    await new Promise((r) => setTimeout(r, 5));
    this.concurrent--;
    if (n === this.failPart) throw new ObjectStoreError('unavailable', 'part failed');
    this.uploads.get(uploadId)!.parts.set(n, body.slice());
    return { partNumber: n, etag: `e${n}` };
  }
  async completeMultipart(ref: ObjectRef, uploadId: string, parts: readonly UploadedPart[], opts: WriteOptions) {
    this.calls.push(`complete ${parts.length}`);
    if (opts.ifNoneMatch && this.objects.has(ref.key)) throw new ObjectStoreError('changed', 'exists');
    const u = this.uploads.get(uploadId)!;
    const all = parts.map((p) => u.parts.get(p.partNumber)!);
    const out = new Uint8Array(all.reduce((n, b) => n + b.byteLength, 0));
    let o = 0;
    for (const b of all) (out.set(b, o), (o += b.byteLength));
    this.objects.set(ref.key, out);
    this.uploads.delete(uploadId);
  }
  async abortMultipart(_ref: ObjectRef, uploadId: string) {
    this.calls.push(`abort ${uploadId}`);
    if (this.failAbort) throw new ObjectStoreError('unavailable', 'abort failed');
    this.uploads.delete(uploadId);
  }
  async listMultipart(_bucket: string, prefix: string): Promise<PendingUpload[]> {
    return [...this.uploads].filter(([, u]) => u.key.startsWith(prefix)).map(([uploadId, u]) => ({ key: u.key, uploadId, initiated: u.initiated }));
  }
}

function pattern(bytes: number, seed = 7): Uint8Array {
  const b = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

/** Feeds `data` in DATA-block sized chunks, as the session driver does. */
async function feed(w: UploadWriter, data: Uint8Array, blockBytes = 1468): Promise<void> {
  for (let o = 0; o < data.byteLength; o += blockBytes) await w.write(data.subarray(o, Math.min(data.byteLength, o + blockBytes)));
}

const base = { overwrite: false, maxBytes: 1024 * MiB, partBytes: MIN_PART_BYTES, maxPartsInFlight: 2 };
const ref = { bucket: 'backups', key: 'sw1/config' };

describe('upload writer', () => {
  test('a small upload is one PutObject at commit, and nothing is stored before it', async () => {
    const store = new FakeStore();
    const w = await UploadWriter.open(store, ref, base);
    await feed(w, pattern(3000));
    expect(store.objects.size).toBe(0);
    await w.commit();
    expect(store.calls).toEqual(['put sw1/config 3000']);
    expect(Buffer.from(store.objects.get('sw1/config')!).equals(Buffer.from(pattern(3000)))).toBe(true);
  });

  test('an empty upload stores an empty object', async () => {
    const store = new FakeStore();
    const w = await UploadWriter.open(store, ref, base);
    await w.commit();
    expect(store.objects.get('sw1/config')!.byteLength).toBe(0);
  });

  test('a large upload goes in parts of partBytes (the last shorter), at most maxPartsInFlight at once, completed at commit', async () => {
    const store = new FakeStore();
    const data = pattern(12 * MiB + 123);
    const w = await UploadWriter.open(store, ref, base);
    await feed(w, data, 65464);
    expect(store.objects.size).toBe(0);
    await w.commit();
    expect(store.calls.filter((c) => c.startsWith('part'))).toEqual([`part 1 ${5 * MiB}`, `part 2 ${5 * MiB}`, `part 3 ${2 * MiB + 123}`]);
    expect(store.calls.at(-1)).toBe('complete 3');
    expect(store.maxConcurrentParts).toBeLessThanOrEqual(2);
    expect(Buffer.from(store.objects.get('sw1/config')!).equals(Buffer.from(data))).toBe(true);
    expect(store.uploads.size).toBe(0);
  });

  test('abort after some parts aborts the multipart upload and leaves nothing', async () => {
    const store = new FakeStore();
    const ends: string[] = [];
    const w = await UploadWriter.open(store, ref, { ...base, onEnd: (o) => ends.push(o) });
    await feed(w, pattern(11 * MiB), 65464);
    await w.abort();
    await w.abort(); // idempotent
    expect(store.calls.filter((c) => c.startsWith('abort'))).toEqual(['abort u1']);
    expect(store.uploads.size).toBe(0);
    expect(store.objects.size).toBe(0);
    expect(ends).toEqual(['aborted']);
  });

  test('abort after commit changes nothing', async () => {
    const store = new FakeStore();
    const w = await UploadWriter.open(store, ref, base);
    await feed(w, pattern(100));
    await w.commit();
    await w.abort();
    expect(store.objects.has('sw1/config')).toBe(true);
    expect(store.calls.some((c) => c.startsWith('abort'))).toBe(false);
  });

  test('a failed part fails a later write or the commit; the abort then cleans up', async () => {
    const store = new FakeStore();
    store.failPart = 1;
    const w = await UploadWriter.open(store, ref, base);
    await expect(feed(w, pattern(16 * MiB), 65464).then(() => w.commit())).rejects.toMatchObject({ name: 'ObjectStoreError', kind: 'unavailable' });
    await w.abort();
    expect(store.uploads.size).toBe(0);
    expect(store.objects.size).toBe(0);
  });

  test('more than maxBytes fails with ERROR 3', async () => {
    const store = new FakeStore();
    const w = await UploadWriter.open(store, ref, { ...base, maxBytes: 1000 });
    await expect(feed(w, pattern(1468), 512)).rejects.toMatchObject({ tftpCode: 3, message: 'upload too large' });
  });

  test('an existing key is refused up front with ERROR 6 unless overwriting; a key taken meanwhile fails the commit with ERROR 6', async () => {
    const store = new FakeStore();
    store.objects.set('sw1/config', new Uint8Array(1));
    await expect(UploadWriter.open(store, ref, base)).rejects.toMatchObject({ tftpCode: 6 });
    const over = await UploadWriter.open(store, ref, { ...base, overwrite: true });
    await feed(over, pattern(10));
    await over.commit();
    expect(store.objects.get('sw1/config')!.byteLength).toBe(10);

    const racing = await UploadWriter.open(store, { bucket: 'backups', key: 'sw2/config' }, base);
    await feed(racing, pattern(10));
    store.objects.set('sw2/config', new Uint8Array(1)); // another gateway won
    await expect(racing.commit()).rejects.toMatchObject({ tftpCode: 6 });
  });

  test('a failed abort is reported, never thrown, and the registry sweep retries it', async () => {
    const store = new FakeStore();
    const registry = new UploadRegistry(store, { sweepIntervalMs: 0, sweepAgeMs: 3_600_000 });
    store.failAbort = true;
    const w = await UploadWriter.open(store, ref, { ...base, onAbortFailed: (r, id) => registry.abortFailed(r, id) });
    await feed(w, pattern(6 * MiB), 65464);
    await w.abort();
    expect(store.uploads.size).toBe(1);
    expect(registry.counters.abortFailures).toBe(1);
    store.failAbort = false;
    expect(await registry.sweepOnce()).toBe(1);
    expect(store.uploads.size).toBe(0);
  });

  test('registry: per-client limit, counters, and the sweep aborts only old uploads under written prefixes', async () => {
    const store = new FakeStore();
    const registry = new UploadRegistry(store, { sweepIntervalMs: 0, sweepAgeMs: 60_000 });
    const slots = new UploadSlots();
    const first = registry.acquire(slots, '10.0.0.1', 2);
    expect(first).toBeTypeOf('function');
    expect(registry.acquire(slots, '10.0.0.1', 2)).toBeTypeOf('function');
    expect(registry.acquire(slots, '10.0.0.1', 2)).toBeUndefined();
    expect(registry.acquire(slots, '10.0.0.2', 2)).toBeTypeOf('function');
    first!('committed', 100);
    first!('aborted', 5); // a second end of the same upload counts nothing
    expect(registry.acquire(slots, '10.0.0.1', 2)).toBeTypeOf('function');
    expect(registry.counters).toMatchObject({ started: 4, committed: 1, aborted: 0, bytesCommitted: 100, refusedPerClient: 1, active: 3 });
    // Another store's uploads through the same function share the client's slots (accepted() and s3Put()).
    const fnTally = new UploadTally('function');
    expect(fnTally.acquire(slots, '10.0.0.1', 2)).toBeUndefined();
    expect(fnTally.acquire(slots, '10.0.0.2', 2)).toBeTypeOf('function');
    expect(fnTally.counters).toMatchObject({ started: 1, refusedPerClient: 1, active: 1 });
    fnTally.close();

    registry.wroteTo('backups', 'sw1/config');
    const old = await store.createMultipart({ bucket: 'backups', key: 'sw1/old' });
    store.uploads.get(old)!.initiated = new Date(Date.now() - 120_000);
    await store.createMultipart({ bucket: 'backups', key: 'sw1/fresh' });
    const elsewhere = await store.createMultipart({ bucket: 'backups', key: 'other/old' });
    store.uploads.get(elsewhere)!.initiated = new Date(Date.now() - 120_000);
    expect(await registry.sweepOnce()).toBe(1);
    expect([...store.uploads.values()].map((u) => u.key).sort()).toEqual(['other/old', 'sw1/fresh']);
  });
});

describe('local upload store', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const root = () => {
    const d = mkdtempSync(join(tmpdir(), 'tftpfn-upload-'));
    dirs.push(d);
    mkdirSync(join(d, 'backups'));
    return d;
  };

  test('parts go to a temporary file; the object appears only at commit, identical', async () => {
    const dir = root();
    const store = new LocalUploadStore(dir);
    const data = pattern(11 * MiB + 5);
    const w = await UploadWriter.open(store, ref, base);
    await feed(w, data, 65464);
    // Parts may still be on their way to the temporary file (the folder too, on a loaded
    // machine: seen once); whatever is there before the commit is temporary.
    const sw1 = join(dir, 'backups', 'sw1');
    expect((existsSync(sw1) ? readdirSync(sw1) : []).every((n) => n.includes('.tftpfn-upload-'))).toBe(true);
    expect(existsSync(join(sw1, 'config'))).toBe(false);
    await w.commit();
    expect(readdirSync(join(dir, 'backups', 'sw1'))).toEqual(['config']);
    expect(readFileSync(join(dir, 'backups', 'sw1', 'config')).equals(Buffer.from(data))).toBe(true);
  });

  test('abort removes the temporary file', async () => {
    const dir = root();
    const w = await UploadWriter.open(new LocalUploadStore(dir), ref, base);
    await feed(w, pattern(6 * MiB), 65464);
    await w.abort();
    expect(readdirSync(join(dir, 'backups', 'sw1'))).toEqual([]);
  });

  test('without overwrite, a key created meanwhile is not replaced (link(2) fails: ERROR 6) and no temporary file stays', async () => {
    const dir = root();
    const w = await UploadWriter.open(new LocalUploadStore(dir), ref, base);
    await feed(w, pattern(10));
    mkdirSync(join(dir, 'backups', 'sw1'));
    writeFileSync(join(dir, 'backups', 'sw1', 'config'), 'theirs');
    await expect(w.commit()).rejects.toMatchObject({ tftpCode: 6 });
    await w.abort();
    expect(readdirSync(join(dir, 'backups', 'sw1'))).toEqual(['config']);
    expect(readFileSync(join(dir, 'backups', 'sw1', 'config'), 'utf8')).toBe('theirs');
  });

  test('the sweep removes a crashed gateway\'s old temporary file under a written prefix, and leaves a live upload and objects alone', async () => {
    const dir = root();
    const store = new LocalUploadStore(dir);
    mkdirSync(join(dir, 'backups', 'sw1'), { recursive: true });
    const stale = join(dir, 'backups', 'sw1', 'old.cfg.tftpfn-upload-4242-00aa11bb22cc33dd');
    writeFileSync(stale, 'half');
    utimesSync(stale, new Date(Date.now() - 7_200_000), new Date(Date.now() - 7_200_000));
    writeFileSync(join(dir, 'backups', 'sw1', 'kept.cfg'), 'object');
    const live = await UploadWriter.open(store, { bucket: 'backups', key: 'sw1/live.cfg' }, base);
    await feed(live, pattern(6 * MiB), 65464);
    const registry = new UploadRegistry(store, { sweepIntervalMs: 0, sweepAgeMs: 3_600_000 });
    registry.wroteTo('backups', 'sw1/live.cfg');
    expect(await registry.sweepOnce()).toBe(1);
    const left = readdirSync(join(dir, 'backups', 'sw1')).sort();
    expect(left.filter((n) => n.startsWith('old.cfg'))).toEqual([]);
    expect(left).toContain('kept.cfg');
    expect(left.some((n) => n.startsWith('live.cfg.tftpfn-upload-'))).toBe(true);
    await live.commit();
    expect(readFileSync(join(dir, 'backups', 'sw1', 'live.cfg')).length).toBe(6 * MiB);
    registry.close();
  });

  test('a key with a ".." segment is refused', async () => {
    const dir = root();
    await expect(UploadWriter.open(new LocalUploadStore(dir), { bucket: 'backups', key: '../x' }, base)).rejects.toMatchObject({ kind: 'denied' });
  });
});
