/**
 * A local folder standing in for S3 in the embedded default: `<root>/<bucket>/<key>`.
 *
 * Same safety as the folder source (local-dir.ts): names are checked segment by segment, then
 * the file is opened and the descriptor's real path checked (sources/beneath.ts), refused
 * ('denied') when a symlink, or one swapped in while we work, leads outside the root. The ETag is a hash of (inode, size, mtime), so a rewrite or an atomic rename-into-place
 * changes it; a ranged read re-checks it on the open file handle and fails with 'changed'
 * rather than mixing two versions of a file into one transfer.
 */
import { createHash, randomBytes } from 'node:crypto';
import { constants, realpathSync, type Stats } from 'node:fs';
import { mkdir, open, realpath, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { inside, openBeneath, OutsideRootError } from '../sources/beneath.js';
import { ObjectStoreError, type ObjectInfo, type ObjectRef, type WritableObjectStore } from './object-store.js';
import { LocalUploadStore } from './upload-local.js';

function mapFsError(e: unknown, what: string): ObjectStoreError {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return new ObjectStoreError('not-found', `${what}: ${code}`);
  if (code === 'EACCES' || code === 'EPERM' || code === 'ELOOP') return new ObjectStoreError('denied', `${what}: ${code}`);
  return new ObjectStoreError('unavailable', `${what}: ${code ?? 'read error'}`, { cause: e });
}

// Names that could climb out of a bucket or mean something else on another platform.
// eslint-disable-next-line no-control-regex
const BAD_SEGMENT = /[\\\u0000-\u001f\u007f]/;

function validName(name: string): boolean {
  return name.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..' && !BAD_SEGMENT.test(seg));
}

function etagOf(st: Stats): string {
  return createHash('sha256').update(`${st.ino}:${st.size}:${st.mtimeMs}`).digest('hex').slice(0, 32);
}

function aborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new ObjectStoreError('unavailable', `${what}: aborted`);
}

export class LocalBucketStore implements WritableObjectStore {
  readonly kind = 'folder';
  private readonly root: string;
  private uploads: LocalUploadStore | undefined;

  constructor(root: string) {
    this.root = realpathSync(root);
  }

  async head(ref: ObjectRef, opts: { ifNoneMatch?: string; signal?: AbortSignal } = {}): Promise<ObjectInfo | 'not-modified'> {
    const what = `folder head ${ref.bucket}/${ref.key}`;
    aborted(opts.signal, what);
    const fh = await this.open(ref, what);
    try {
      const st = await this.regularFile(fh, what);
      const etag = etagOf(st);
      if (opts.ifNoneMatch !== undefined && opts.ifNoneMatch === etag) return 'not-modified';
      return { size: st.size, etag, lastModified: st.mtime };
    } finally {
      await fh.close().catch(() => {});
    }
  }

  async getRange(ref: ObjectRef, start: number, end: number, etag: string, opts: { signal?: AbortSignal } = {}): Promise<Uint8Array> {
    const what = `folder read ${ref.bucket}/${ref.key} bytes ${start}-${end - 1}`;
    aborted(opts.signal, what);
    const fh = await this.open(ref, what);
    try {
      // Checked on the handle we read from, so a file replaced after this point is not seen.
      const st = await this.regularFile(fh, what);
      if (etagOf(st) !== etag) throw new ObjectStoreError('changed', `${what}: ETag changed`);
      const len = Math.max(0, end - start);
      if (start < 0 || end > st.size) throw new ObjectStoreError('unavailable', `${what}: outside size ${st.size}`);
      const buf = new Uint8Array(len);
      let filled = 0;
      while (filled < len) {
        aborted(opts.signal, what);
        let bytesRead: number;
        try {
          ({ bytesRead } = await fh.read(buf, filled, len - filled, start + filled));
        } catch (e) {
          throw mapFsError(e, what);
        }
        // Shrunk in place (same inode, truncated) since the stat: it changed under us.
        if (bytesRead === 0) throw new ObjectStoreError('changed', `${what}: file shrank`);
        filled += bytesRead;
      }
      return buf;
    } finally {
      await fh.close().catch(() => {});
    }
  }

  /**
   * Writes the whole object: a temporary file beside it, flushed, then renamed into place, so a
   * reader (and a ranged read pinned to the old ETag) never sees half of it. For deploys
   * (control/), never for served paths.
   */
  async put(ref: ObjectRef, bytes: Uint8Array, onProgress?: (sentBytes: number, totalBytes: number) => void): Promise<void> {
    const what = `folder write ${ref.bucket}/${ref.key}`;
    this.checkNames(ref, what);
    const target = join(this.root, ref.bucket, ref.key);
    try {
      await mkdir(dirname(target), { recursive: true });
      // A folder on the way that is a link out of the root is refused, as on reads.
      if (!inside(this.root, await realpath(dirname(target)))) throw new ObjectStoreError('denied', `${what}: resolves outside the root`);
    } catch (e) {
      if (e instanceof ObjectStoreError) throw e;
      throw mapFsError(e, what);
    }
    const temp = `${target}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      // O_EXCL: a link planted under the temporary name is not followed.
      const fh = await open(temp, 'wx', 0o644);
      try {
        await fh.writeFile(bytes);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(temp, target);
    } catch (e) {
      await rm(temp, { force: true }).catch(() => {});
      throw mapFsError(e, what);
    }
    onProgress?.(bytes.length, bytes.length);
  }

  /** The whole object, read from one descriptor. */
  async get(ref: ObjectRef): Promise<Uint8Array> {
    const what = `folder read ${ref.bucket}/${ref.key}`;
    const fh = await this.open(ref, what);
    try {
      await this.regularFile(fh, what);
      return new Uint8Array(await fh.readFile());
    } catch (e) {
      if (e instanceof ObjectStoreError) throw e;
      throw mapFsError(e, what);
    } finally {
      await fh.close().catch(() => {});
    }
  }

  /** The upload side (objects/upload-local.ts): s3Put() streams uploads into a temporary file, renamed at the end. */
  uploadStore(): LocalUploadStore {
    this.uploads ??= new LocalUploadStore(this.root);
    return this.uploads;
  }

  async close(): Promise<void> {}

  private checkNames(ref: ObjectRef, what: string): void {
    if (ref.bucket.includes('/') || !validName(ref.bucket) || !validName(ref.key)) {
      throw new ObjectStoreError('denied', `${what}: invalid bucket or key name`);
    }
  }

  /** Validates the names, opens read-only, refuses a descriptor outside the root. */
  private async open(ref: ObjectRef, what: string): Promise<FileHandle> {
    this.checkNames(ref, what);
    // A folder keeps one version per key; asking for another is like S3's NoSuchVersion.
    if (ref.versionId !== undefined) throw new ObjectStoreError('not-found', `${what}: no versions in a folder`);
    try {
      // Open, then check where the descriptor points: resolve-then-open races a swap (issue 9 §4).
      return (await openBeneath(this.root, join(this.root, ref.bucket, ref.key), constants.O_RDONLY)).fh;
    } catch (e) {
      if (e instanceof OutsideRootError) throw new ObjectStoreError('denied', `${what}: resolves outside the root`);
      throw mapFsError(e, what);
    }
  }

  private async regularFile(fh: FileHandle, what: string): Promise<Stats> {
    let st: Stats;
    try {
      st = await fh.stat();
    } catch (e) {
      throw mapFsError(e, what);
    }
    // A folder named like the key is not an object, as in S3 where "a/" is only a prefix.
    if (!st.isFile()) throw new ObjectStoreError('not-found', `${what}: not a regular file`);
    return st;
  }
}
