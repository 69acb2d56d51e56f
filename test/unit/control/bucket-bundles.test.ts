import { describe, expect, it } from 'vitest';
import { BucketBundles } from '../../../gateway/src/control/bucket-bundles.js';
import { ObjectStoreError, type ObjectRef, type WritableObjectStore } from '../../../gateway/src/objects/object-store.js';

/** A bucket whose HEAD answers what the test says and whose PUTs are recorded (or fail). */
function bucket(head: () => Promise<{ size: number; etag: string }>, putError?: ObjectStoreError) {
  const puts: string[] = [];
  const store: WritableObjectStore = {
    kind: 'fake',
    head: head as WritableObjectStore['head'],
    getRange: () => Promise.reject(new Error('unused')),
    close: () => Promise.resolve(),
    get: () => Promise.reject(new Error('unused')),
    put: (ref: ObjectRef) => {
      puts.push(ref.key);
      return putError ? Promise.reject(putError) : Promise.resolve();
    },
  };
  return { store, puts };
}

const code = new TextEncoder().encode('export function handle() {}');
const sha = 'a'.repeat(64);

describe('BucketBundles.store', () => {
  it('skips the upload when the bucket has the object with this size', async () => {
    const b = bucket(() => Promise.resolve({ size: code.length, etag: '"x"' }));
    await new BucketBundles(b.store, 'bkt', 'p/').store('fn', sha, code, undefined);
    expect(b.puts).toEqual([]);
  });

  it('uploads when the HEAD says not found, or fails for another reason (a 5xx while another deployer writes the same key)', async () => {
    for (const error of [new ObjectStoreError('not-found', 'no such key'), new ObjectStoreError('unavailable', 'S3 HeadObject: Unknown (HTTP 500)')]) {
      const b = bucket(() => Promise.reject(error));
      await new BucketBundles(b.store, 'bkt', 'p/').store('fn', sha, code, undefined);
      expect(b.puts).toEqual([`p/functions/fn/${sha}.mjs`]);
    }
  });

  it("reports the PUT's error, naming the object, its kind and what to check", async () => {
    const b = bucket(() => Promise.reject(new ObjectStoreError('unavailable', 'HEAD 500')), new ObjectStoreError('unavailable', 'connect ECONNREFUSED'));
    const e = await new BucketBundles(b.store, 'bkt', 'p/').store('fn', sha, code, undefined).catch((x: Error) => x);
    expect((e as Error).message).toBe(`cannot store s3://bkt/p/functions/fn/${sha}.mjs (unavailable): connect ECONNREFUSED; check controlBucket, the S3 settings and that the bucket exists`);
  });
});
