/**
 * The stores `tftpfn object` writes to, behind one interface: S3 through the S3 store's upload
 * side (multipart above MULTIPART_PART_BYTES, with progress per part) plus its own list and
 * delete calls, or the local bucket folder (objectStore "local", bucketsDir/BUCKET/KEY, a
 * temporary file renamed into place). Listing and deleting are not part of the gateway's store
 * interface (it never does either), so they are here, beside the CLI that needs them.
 */
import { mkdirSync, statSync } from 'node:fs';
import { readdir, realpath, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { GatewayConfig } from '../config/schema.js';
import { uploadFile } from '../objects/file-upload.js';
import { LocalBucketStore } from '../objects/local-bucket.js';
import { ObjectStoreError, type ObjectRef } from '../objects/object-store.js';
import { s3StoreOptions } from '../objects/s3-options.js';
import { classifyS3Error, MULTIPART_PART_BYTES, S3ObjectStore } from '../objects/s3-store.js';
import { TEMP_INFIX } from '../objects/upload-local.js';

export interface ListedObject {
  key: string;
  size: number;
  lastModified?: Date;
}

/**
 * Parts of the file sent and not yet acknowledged during a multipart put: memory for the file
 * is at most this × MULTIPART_PART_BYTES (32 MiB), and S3 receives parts in parallel.
 */
export const PUT_PARTS_IN_FLIGHT = 4;

/** The three operations over one store; `where` names it in messages (s3://b/k or a path). */
export interface ObjectBackend {
  where(ref: ObjectRef): string;
  /** Streams the open file to `ref`; resolves its size. */
  putFile(ref: ObjectRef, file: FileHandle, onProgress?: (sentBytes: number, totalBytes: number) => void): Promise<number>;
  list(bucket: string, prefix: string): Promise<ListedObject[]>;
  /** Throws ObjectStoreError 'not-found' when there is no such object. */
  remove(ref: ObjectRef): Promise<void>;
  close(): Promise<void>;
}

export async function openBackend(config: GatewayConfig, opts: { create?: boolean } = {}): Promise<ObjectBackend> {
  if (config.objectStore === 's3') return s3Backend(config);
  return localBackend(config.bucketsDir, opts.create === true);
}

async function s3Backend(config: GatewayConfig): Promise<ObjectBackend> {
  const opts = s3StoreOptions(config);
  const store = new S3ObjectStore(opts);
  // Loaded on use, not with the CLI: the SDK costs ~20 MiB and most verbs never touch S3.
  const { S3Client, ListObjectsV2Command, DeleteObjectCommand } = await import('@aws-sdk/client-s3');
  // Listing and deleting only: same endpoint, region, path style and credentials as the store.
  const client = new S3Client({
    endpoint: opts.endpoint,
    region: opts.region ?? process.env.AWS_REGION ?? 'us-east-1',
    forcePathStyle: opts.forcePathStyle,
    credentials: opts.credentials,
    maxAttempts: 3,
  });
  const timeout = () => AbortSignal.timeout(Math.max(config.s3RequestTimeoutMs, 30_000));
  return {
    where: (ref) => `s3://${ref.bucket}/${ref.key}`,
    putFile: (ref, file, onProgress) => uploadFile(store.uploadStore(), ref, file, { partBytes: MULTIPART_PART_BYTES, partsInFlight: PUT_PARTS_IN_FLIGHT, onProgress }),
    async list(bucket, prefix) {
      const out: ListedObject[] = [];
      let token: string | undefined;
      // Bounded: 10,000 pages of up to 1,000 keys.
      for (let page = 0; page < 10_000; page++) {
        let r;
        try {
          r = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix || undefined, ContinuationToken: token }), { abortSignal: timeout() });
        } catch (e) {
          throw classifyS3Error(e, `S3 ListObjectsV2 s3://${bucket}/${prefix}`);
        }
        for (const o of r.Contents ?? []) if (o.Key !== undefined) out.push({ key: o.Key, size: o.Size ?? 0, lastModified: o.LastModified });
        if (!r.IsTruncated || !r.NextContinuationToken) break;
        token = r.NextContinuationToken;
      }
      return out;
    },
    async remove(ref) {
      // S3 answers a delete of a missing key with success: ask first, so a typo is not "removed".
      const info = await store.head(ref);
      if (info === 'not-modified') return;
      try {
        await client.send(new DeleteObjectCommand({ Bucket: ref.bucket, Key: ref.key }), { abortSignal: timeout() });
      } catch (e) {
        throw classifyS3Error(e, `S3 DeleteObject s3://${ref.bucket}/${ref.key}`);
      }
    },
    async close() {
      client.destroy();
      await store.close();
    },
  };
}

function localBackend(bucketsDir: string, create: boolean): ObjectBackend {
  let store: LocalBucketStore | undefined;
  const openStore = (): LocalBucketStore => {
    if (store) return store;
    let exists = false;
    try {
      exists = statSync(bucketsDir).isDirectory();
    } catch {
      exists = false;
    }
    if (!exists) {
      if (!create) throw new ObjectStoreError('not-found', `the bucket folder ${bucketsDir} does not exist (bucketsDir; objectStore "local")`);
      mkdirSync(bucketsDir, { recursive: true });
    }
    store = new LocalBucketStore(bucketsDir);
    return store;
  };
  const path = (ref: ObjectRef) => join(bucketsDir, ref.bucket, ref.key);
  return {
    where: path,
    putFile: (ref, file, onProgress) => uploadFile(openStore().uploadStore(), ref, file, { partBytes: MULTIPART_PART_BYTES, partsInFlight: PUT_PARTS_IN_FLIGHT, onProgress }),
    async list(bucket, prefix) {
      openStore();
      const top = join(bucketsDir, bucket);
      const root = await realpath(top).catch(() => {
        throw new ObjectStoreError('not-found', `no bucket ${bucket}: ${top} does not exist`);
      });
      const out: ListedObject[] = [];
      // Regular files only, links not followed (the gateway refuses those leading out anyway).
      const walk = async (dir: string, depth: number): Promise<void> => {
        if (depth > 64) return;
        for (const ent of await readdir(dir, { withFileTypes: true })) {
          const full = join(dir, ent.name);
          if (ent.isDirectory()) await walk(full, depth + 1);
          // Temporary files of writes in progress (LocalBucketStore's, and the upload store's) are not objects yet.
          else if (ent.isFile() && !/\.tmp-\d+-[0-9a-f]{8}$/.test(ent.name) && !ent.name.includes(TEMP_INFIX)) {
            const key = relative(root, full).split(sep).join('/');
            if (!key.startsWith(prefix)) continue;
            const st = await stat(full);
            out.push({ key, size: st.size, lastModified: st.mtime });
          }
        }
      };
      await walk(root, 0);
      return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    },
    async remove(ref) {
      const s = openStore();
      // head() checks the names and that the file lies inside the folder (links refused).
      await s.head(ref);
      try {
        await unlink(path(ref));
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        throw new ObjectStoreError(code === 'ENOENT' ? 'not-found' : 'denied', `cannot remove ${path(ref)}: ${code}`);
      }
    },
    async close() {},
  };
}
