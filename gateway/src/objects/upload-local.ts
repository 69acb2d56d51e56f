/**
 * Uploads into the local folder standing in for buckets (`<root>/<bucket>/<key>`, issue 15):
 * a multipart upload is one temporary file beside the target, opened O_EXCL, parts appended in
 * order; completing flushes it and moves it into place, so a reader never sees half an upload.
 *
 *  - with ifNoneMatch: link(2) the temporary file to the target, which fails with EEXIST when
 *    the key is taken (an atomic "create only"; the writer's HEAD up front is only a hint),
 *    then unlink the temporary name;
 *  - else rename(2), which replaces the target atomically.
 *
 * Aborting removes the temporary file. Folders on the way are created, and one that resolves
 * outside the root (a planted symlink) is refused, as LocalBucketStore.put does.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { link, mkdir, open, readdir, realpath, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { inside } from '../sources/beneath.js';
import { ObjectStoreError, type ObjectRef } from './object-store.js';
import type { PendingUpload, UploadedPart, UploadStore, WriteOptions } from './upload-store.js';

/** Temporary files carry this infix, so the sweep and a reader can tell them from objects. */
export const TEMP_INFIX = '.tftpfn-upload-';

// eslint-disable-next-line no-control-regex
const BAD_SEGMENT = /[\\\u0000-\u001f\u007f]/;

function validName(name: string): boolean {
  return name.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..' && !BAD_SEGMENT.test(seg) && !seg.includes(TEMP_INFIX));
}

function fsError(e: unknown, what: string): ObjectStoreError {
  if (e instanceof ObjectStoreError) return e;
  const code = (e as NodeJS.ErrnoException)?.code;
  // The key is taken: reported like S3's 412 to a conditional write.
  if (code === 'EEXIST') return new ObjectStoreError('changed', `${what}: exists`);
  if (code === 'EACCES' || code === 'EPERM' || code === 'ELOOP') return new ObjectStoreError('denied', `${what}: ${code}`);
  if (code === 'ENOENT' || code === 'ENOTDIR') return new ObjectStoreError('not-found', `${what}: ${code}`);
  return new ObjectStoreError('unavailable', `${what}: ${code ?? 'write error'}`, { cause: e });
}

interface Open {
  readonly fh: FileHandle;
  readonly temp: string;
  readonly target: string;
  nextPart: number;
  /** Parts are appended one after another, in the order they were handed over. */
  chain: Promise<unknown>;
}

export class LocalUploadStore implements UploadStore {
  readonly kind = 'folder';
  private readonly open = new Map<string, Open>();

  constructor(private readonly root: string) {}

  async exists(ref: ObjectRef): Promise<boolean> {
    const target = this.target(ref, `folder head ${ref.bucket}/${ref.key}`);
    try {
      return (await stat(target)).isFile();
    } catch {
      return false;
    }
  }

  async putObject(ref: ObjectRef, body: Uint8Array, opts: WriteOptions): Promise<void> {
    const id = await this.createMultipart(ref, opts);
    try {
      const part = await this.uploadPart(ref, id, 1, body);
      await this.completeMultipart(ref, id, [part], opts);
    } catch (e) {
      await this.abortMultipart(ref, id);
      throw e;
    }
  }

  async createMultipart(ref: ObjectRef, _opts: WriteOptions): Promise<string> {
    const what = `folder upload ${ref.bucket}/${ref.key}`;
    const target = this.target(ref, what);
    try {
      await mkdir(dirname(target), { recursive: true });
      if (!inside(this.root, await realpath(dirname(target)))) throw new ObjectStoreError('denied', `${what}: resolves outside the root`);
      const id = randomBytes(8).toString('hex');
      const temp = `${target}${TEMP_INFIX}${process.pid}-${id}`;
      // O_EXCL | O_NOFOLLOW: a link planted under the temporary name is not followed.
      const fh = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
      this.open.set(id, { fh, temp, target, nextPart: 1, chain: Promise.resolve() });
      return id;
    } catch (e) {
      throw fsError(e, what);
    }
  }

  async uploadPart(ref: ObjectRef, uploadId: string, partNumber: number, body: Uint8Array): Promise<UploadedPart> {
    const what = `folder upload ${ref.bucket}/${ref.key} part ${partNumber}`;
    const u = this.get(uploadId, what);
    // Parts are appended, so they must be written in order: the writer hands them over in
    // order (several may be in flight), and the chain keeps that order on disk.
    const step = u.chain.then(async () => {
      if (partNumber !== u.nextPart) throw new ObjectStoreError('unavailable', `${what}: expected part ${u.nextPart}`);
      try {
        let written = 0;
        while (written < body.byteLength) written += (await u.fh.write(body, written, body.byteLength - written)).bytesWritten;
      } catch (e) {
        throw fsError(e, what);
      }
      u.nextPart++;
      return { partNumber, etag: String(partNumber) };
    });
    u.chain = step.catch(() => {});
    return step;
  }

  async completeMultipart(ref: ObjectRef, uploadId: string, parts: readonly UploadedPart[], opts: WriteOptions): Promise<void> {
    const what = `folder upload ${ref.bucket}/${ref.key}`;
    const u = this.get(uploadId, what);
    if (parts.length !== u.nextPart - 1) throw new ObjectStoreError('unavailable', `${what}: ${parts.length} parts named, ${u.nextPart - 1} written`);
    try {
      await u.fh.sync();
      await u.fh.close();
      if (opts.ifNoneMatch) {
        await link(u.temp, u.target);
        await rm(u.temp, { force: true });
      } else {
        await rename(u.temp, u.target);
      }
      this.open.delete(uploadId);
    } catch (e) {
      await this.abortMultipart(ref, uploadId);
      throw fsError(e, what);
    }
  }

  async abortMultipart(_ref: ObjectRef, uploadId: string): Promise<void> {
    const u = this.open.get(uploadId);
    if (!u) return;
    this.open.delete(uploadId);
    await u.fh.close().catch(() => {});
    await rm(u.temp, { force: true }).catch(() => {});
  }

  /** Temporary files under `bucket/prefix` (a crashed gateway's leftovers included). */
  async listMultipart(bucket: string, prefix: string): Promise<PendingUpload[]> {
    const base = join(this.root, bucket);
    const out: PendingUpload[] = [];
    let entries: string[];
    try {
      entries = (await readdir(base, { recursive: true })) as string[];
    } catch {
      return out;
    }
    for (const rel of entries.slice(0, 100_000)) {
      const i = rel.indexOf(TEMP_INFIX);
      if (i < 0 || !rel.startsWith(prefix)) continue;
      const st = await stat(join(base, rel)).catch(() => undefined);
      out.push({ key: rel.slice(0, i), uploadId: `file:${rel.slice(i + TEMP_INFIX.length)}`, initiated: st?.mtime });
    }
    return out;
  }

  /** Removes a leftover temporary file named by listMultipart (the sweep), or an open upload. */
  async removeStale(bucket: string, upload: PendingUpload): Promise<void> {
    if (!upload.uploadId.startsWith('file:')) return this.abortMultipart({ bucket, key: upload.key }, upload.uploadId);
    const suffix = upload.uploadId.slice(5);
    if (!/^[0-9]+-[0-9a-f]+$/.test(suffix)) return;
    await rm(`${this.target({ bucket, key: upload.key }, 'folder sweep')}${TEMP_INFIX}${suffix}`, { force: true });
  }

  private get(uploadId: string, what: string): Open {
    const u = this.open.get(uploadId);
    if (!u) throw new ObjectStoreError('not-found', `${what}: no such upload`);
    return u;
  }

  private target(ref: ObjectRef, what: string): string {
    if (ref.bucket.includes('/') || !validName(ref.bucket) || !validName(ref.key)) throw new ObjectStoreError('denied', `${what}: invalid bucket or key name`);
    return join(this.root, ref.bucket, ref.key);
  }
}
