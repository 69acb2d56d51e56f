/**
 * put/get on the two writable object stores the control plane keeps bundles in: S3 (a real
 * s3rver, with a multipart upload above 8 MiB) and the local bucket folder.
 */
import { mkdtempSync, rmSync, symlinkSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalBucketStore } from '../../../gateway/src/objects/local-bucket.js';
import { ObjectStoreError } from '../../../gateway/src/objects/object-store.js';
import { MULTIPART_PART_BYTES, S3ObjectStore } from '../../../gateway/src/objects/s3-store.js';
import { startS3rver, type TestS3rver } from '../../helpers/s3rver.js';
import { seededBytes } from '../../helpers/seeded.js';

/** Deterministic bytes, as a plain Uint8Array (what a caller of put() hands over). */
const pattern = (size: number, seed: number): Uint8Array => new Uint8Array(seededBytes(seed, size));

let s3: TestS3rver;
let store: S3ObjectStore;
const dir = mkdtempSync(join(tmpdir(), 'tftpfn-bucket-put-'));

beforeAll(async () => {
  s3 = await startS3rver();
  await s3.createBucket('deploys');
  store = new S3ObjectStore(s3.clientOptions);
});
afterAll(async () => {
  await store?.close();
  await s3?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('S3ObjectStore put/get', () => {
  it('put then get: a small object in one PutObject, progress at its start and at the end', async () => {
    const bytes = pattern(1000, 3);
    const progress: [number, number][] = [];
    await store.put({ bucket: 'deploys', key: 'functions/a/x.mjs' }, bytes, (s, t) => progress.push([s, t]));
    // Below one 64 KiB read: nothing between "started" and the total S3 confirmed.
    expect(progress).toEqual([
      [0, 1000],
      [1000, 1000],
    ]);
    expect(Buffer.from(await store.get({ bucket: 'deploys', key: 'functions/a/x.mjs' }))).toEqual(Buffer.from(bytes));
  });

  it('put: above 8 MiB goes in parts, reporting progress as each part is read; get returns every byte', async () => {
    const size = MULTIPART_PART_BYTES + 1234567;
    const bytes = pattern(size, 5);
    await s3.clearRequests();
    const progress: number[] = [];
    await store.put({ bucket: 'deploys', key: 'functions/a/big.mjs' }, bytes, (s, t) => {
      expect(t).toBe(size);
      progress.push(s);
    });
    // Every 64 KiB the request takes (counted-body.ts), rising across the part boundary, and the
    // total once S3 has completed the upload (this expected [8 MiB, total] when it was per part).
    expect(progress[0]).toBe(0);
    for (let i = 1; i < progress.length; i++) expect(progress[i]).toBeGreaterThan(progress[i - 1]);
    expect(progress).toContain(MULTIPART_PART_BYTES);
    expect(progress.length).toBeGreaterThan(size / (128 * 1024));
    expect(progress.at(-1)).toBe(size);
    const puts = (await s3.requests()).filter((r) => r.method === 'PUT' || r.method === 'POST');
    expect(puts.filter((r) => r.path.includes('partNumber='))).toHaveLength(2);
    const got = await store.get({ bucket: 'deploys', key: 'functions/a/big.mjs' });
    expect(got.length).toBe(size);
    expect(Buffer.compare(Buffer.from(got), Buffer.from(bytes))).toBe(0);
  });

  it('get: a missing key is not-found', async () => {
    const e = await store.get({ bucket: 'deploys', key: 'nope.mjs' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ObjectStoreError);
    expect((e as ObjectStoreError).kind).toBe('not-found');
  });
});

describe('LocalBucketStore put/get', () => {
  it('put creates the folders, replaces whole, and get reads it back; no temporary file is left', async () => {
    const b = new LocalBucketStore(dir);
    await b.put({ bucket: 'deploys', key: 'functions/f/one.mjs' }, pattern(100, 1));
    await b.put({ bucket: 'deploys', key: 'functions/f/one.mjs' }, pattern(50, 2));
    expect(Buffer.from(await b.get({ bucket: 'deploys', key: 'functions/f/one.mjs' }))).toEqual(Buffer.from(pattern(50, 2)));
    const { readdirSync } = await import('node:fs');
    expect(readdirSync(join(dir, 'deploys/functions/f'))).toEqual(['one.mjs']);
  });

  it('put refuses bad names and a folder that links out of the root', async () => {
    const b = new LocalBucketStore(dir);
    await expect(b.put({ bucket: 'deploys', key: '../escape' }, pattern(1, 1))).rejects.toMatchObject({ kind: 'denied' });
    const outside = mkdtempSync(join(tmpdir(), 'tftpfn-outside-'));
    try {
      mkdirSync(join(dir, 'deploys'), { recursive: true });
      symlinkSync(outside, join(dir, 'deploys', 'out'));
      await expect(b.put({ bucket: 'deploys', key: 'out/x' }, pattern(1, 1))).rejects.toMatchObject({ kind: 'denied' });
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
    await expect(b.get({ bucket: 'deploys', key: 'missing' })).rejects.toMatchObject({ kind: 'not-found' });
  });
});
