/**
 * objects/file-upload.ts (`tftpfn object put`, issue 14): a file streamed from disk into an
 * UploadStore part by part. A scripted in-memory store records the calls and lets the test
 * acknowledge or fail each part when it chooses, so in-flight bounds and ordering are exact.
 */
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileChangedError, uploadFile } from '../../../gateway/src/objects/file-upload.js';
import type { UploadedPart, UploadStore } from '../../../gateway/src/objects/upload-store.js';
import { seededBytes } from '../../helpers/raw-peer.js';

interface PendingPart {
  n: number;
  body: Buffer;
  ack(): void;
  fail(e: Error): void;
}

/** Parts wait until the test settles them (or settle at once with `auto`). */
class ScriptedStore implements UploadStore {
  readonly kind = 'scripted';
  readonly calls: string[] = [];
  readonly pending: PendingPart[] = [];
  readonly stored = new Map<number, Buffer>();
  object: Buffer | undefined;
  maxInFlight = 0;
  private inFlight = 0;

  constructor(private readonly auto: boolean) {}

  async exists(): Promise<boolean> {
    return false;
  }
  async putObject(_ref: unknown, body: Uint8Array): Promise<void> {
    this.calls.push('putObject');
    this.object = Buffer.from(body);
  }
  async createMultipart(): Promise<string> {
    this.calls.push('create');
    return 'u1';
  }
  uploadPart(_ref: unknown, _id: string, n: number, body: Uint8Array): Promise<UploadedPart> {
    this.calls.push(`part ${n}`);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    // A copy now: the uploader reuses its buffers once a part is acknowledged.
    const copy = Buffer.from(body);
    return new Promise((resolve, reject) => {
      const part: PendingPart = {
        n,
        body: copy,
        ack: () => {
          this.inFlight--;
          this.stored.set(n, copy);
          resolve({ partNumber: n, etag: `e${n}` });
        },
        fail: (e) => {
          this.inFlight--;
          reject(e);
        },
      };
      if (this.auto) queueMicrotask(part.ack);
      else this.pending.push(part);
    });
  }
  async completeMultipart(_ref: unknown, _id: string, parts: readonly UploadedPart[]): Promise<void> {
    this.calls.push(`complete ${parts.map((p) => p.partNumber).join(',')}`);
    this.object = Buffer.concat(parts.map((p) => this.stored.get(p.partNumber)!));
  }
  async abortMultipart(): Promise<void> {
    this.calls.push('abort');
  }
  async listMultipart(): Promise<never[]> {
    return [];
  }

  /** Waits (bounded) until `count` parts are waiting for the test. */
  async waitPending(count: number): Promise<void> {
    // Bounded by time, not turns: the parts are read from a file on libuv's thread pool, which
    // a loaded machine (the suite on Node 24 beside the boot tests) can hold for a while.
    for (const end = Date.now() + 10_000; Date.now() < end && this.pending.length < count; ) await new Promise((r) => setTimeout(r, 1));
    expect(this.pending.length).toBeGreaterThanOrEqual(count);
  }
}

const ref = { bucket: 'boot', key: 'big.img' };
let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function fileWith(bytes: Uint8Array) {
  dir = mkdtempSync(join(tmpdir(), 'tftpfn-file-upload-'));
  const path = join(dir, 'f.bin');
  writeFileSync(path, bytes);
  return { path, fh: await open(path, 'r') };
}

describe('file upload', () => {
  it('file upload: a file up to one part goes in one putObject, byte-identical', async () => {
    const bytes = seededBytes(1000, 3);
    const { fh } = await fileWith(bytes);
    const store = new ScriptedStore(true);
    const progress: number[] = [];
    expect(await uploadFile(store, ref, fh, { partBytes: 1000, partsInFlight: 2, onProgress: (s) => progress.push(s) })).toBe(1000);
    await fh.close();
    expect(store.calls).toEqual(['putObject']);
    expect(store.object!.equals(bytes)).toBe(true);
    expect(progress).toEqual([1000]);
  });

  it('file upload: parts go in order with at most partsInFlight unacknowledged, progress moves forward part by part', async () => {
    const bytes = seededBytes(10 * 256 + 17, 5);
    const { fh } = await fileWith(bytes);
    const store = new ScriptedStore(false);
    const progress: number[] = [];
    const done = uploadFile(store, ref, fh, { partBytes: 256, partsInFlight: 3, onProgress: (s) => progress.push(s) });
    // 11 parts in rounds of 3, 3, 3 and 2: each round, no further part is sent until one of the
    // pending is acknowledged; they are acknowledged in reverse order (the last first).
    for (const want of [3, 3, 3, 2]) {
      await store.waitPending(want);
      for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
      expect(store.pending).toHaveLength(want);
      for (const p of store.pending.splice(0).reverse()) p.ack();
    }
    expect(await done).toBe(bytes.length);
    await fh.close();
    expect(store.maxInFlight).toBe(3);
    expect(store.calls).toEqual(['create', ...Array.from({ length: 11 }, (_, i) => `part ${i + 1}`), `complete ${Array.from({ length: 11 }, (_, i) => i + 1).join(',')}`]);
    expect(store.object!.equals(bytes)).toBe(true);
    // One report per part, in part order, whatever order the acknowledgements came in.
    expect(progress).toEqual([...Array.from({ length: 10 }, (_, i) => (i + 1) * 256), bytes.length]);
  });

  it('file upload: a failed part aborts the upload after the parts in flight settle, and the error reaches the caller', async () => {
    const { fh } = await fileWith(seededBytes(5 * 100, 9));
    const store = new ScriptedStore(false);
    const done = uploadFile(store, ref, fh, { partBytes: 100, partsInFlight: 2 });
    await store.waitPending(2);
    const [first, second] = store.pending.splice(0);
    first.fail(new Error('S3 UploadPart: connection reset'));
    await new Promise((r) => setImmediate(r));
    // The other part is still in flight: no abort before it settles.
    expect(store.calls).not.toContain('abort');
    second.ack();
    await expect(done).rejects.toThrow('connection reset');
    await fh.close();
    expect(store.calls).toEqual(['create', 'part 1', 'part 2', 'abort']);
  });

  it('file upload: a file that shrinks while it is read fails and aborts instead of storing a mix', async () => {
    const { path, fh } = await fileWith(seededBytes(4 * 100, 11));
    const store = new ScriptedStore(false);
    const done = uploadFile(store, ref, fh, { partBytes: 100, partsInFlight: 1 });
    await store.waitPending(1);
    truncateSync(path, 150);
    for (const p of store.pending.splice(0)) p.ack();
    for (let i = 0; i < 100 && store.pending.length > 0; i++) {
      for (const p of store.pending.splice(0)) p.ack();
      await new Promise((r) => setImmediate(r));
    }
    await expect(done).rejects.toBeInstanceOf(FileChangedError);
    await fh.close();
    expect(store.calls.at(-1)).toBe('abort');
    expect(store.calls).not.toContain(expect.stringMatching(/^complete/));
  });
});
