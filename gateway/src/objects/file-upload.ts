/**
 * One file from disk into a store's UploadStore (`tftpfn object put`, issue 14), read part by
 * part as the parts go out, so the process holds at most `partsInFlight` × `partBytes` of the
 * file whatever its size (a 2 GiB initrd no longer means 2 GiB of memory).
 *
 * - Up to `partBytes`: one putObject.
 * - Above: createMultipart, then parts 1..n handed over in order (the local folder store appends
 *   them in that order; S3 takes them in parallel) with at most `partsInFlight` unacknowledged,
 *   each read into a buffer of a fixed pool that is reused once its part is acknowledged; then
 *   completeMultipart. Any failure aborts the upload, so no parts are left behind (or billed).
 * - Progress is reported once per part, in part order (the bytes of parts 1..k, all
 *   acknowledged), so a progress bar only moves forward.
 * - The size is taken when the upload starts; a file that shrinks or grows meanwhile fails the
 *   upload rather than storing an object that is neither the old file nor the new one.
 */
import type { FileHandle } from 'node:fs/promises';
import type { ObjectRef } from './object-store.js';
import type { UploadedPart, UploadStore, WriteOptions } from './upload-store.js';

export interface FileUploadOptions {
  /** Part size; S3 wants at least 5 MiB for every part but the last. */
  readonly partBytes: number;
  /** Parts sent and not yet acknowledged at once (also the number of part buffers). */
  readonly partsInFlight: number;
  readonly writeOptions?: WriteOptions;
  readonly onProgress?: (sentBytes: number, totalBytes: number) => void;
}

export class FileChangedError extends Error {}

/** Uploads the open file `fh` (from offset 0) to `ref`; resolves the bytes stored. */
export async function uploadFile(store: UploadStore, ref: ObjectRef, fh: FileHandle, opts: FileUploadOptions): Promise<number> {
  const { partBytes, onProgress } = opts;
  const writeOptions = opts.writeOptions ?? {};
  const totalBytes = (await fh.stat()).size;
  if (totalBytes <= partBytes) {
    const body = Buffer.allocUnsafe(totalBytes);
    await readPart(fh, body, 0, totalBytes);
    await unchanged(fh, totalBytes);
    await store.putObject(ref, body, writeOptions);
    onProgress?.(totalBytes, totalBytes);
    return totalBytes;
  }
  const partCount = Math.ceil(totalBytes / partBytes);
  const partsInFlight = Math.max(1, Math.min(opts.partsInFlight, partCount));
  const uploadId = await store.createMultipart(ref, writeOptions);
  // The pool: every buffer is either being filled, in flight, or free.
  const free: Buffer[] = Array.from({ length: partsInFlight }, () => Buffer.allocUnsafe(partBytes));
  const acked: (UploadedPart | undefined)[] = new Array(partCount);
  const inFlight = new Set<Promise<void>>();
  let reportedParts = 0;
  let failure: { error: unknown } | undefined;
  try {
    for (let n = 1; n <= partCount; n++) {
      // Bounded: each wait ends when one of at most partsInFlight parts settles.
      while (free.length === 0 && !failure) await Promise.race(inFlight);
      if (failure) break;
      const buffer = free.pop()!;
      const start = (n - 1) * partBytes;
      const length = Math.min(partBytes, totalBytes - start);
      const body = buffer.subarray(0, length);
      await readPart(fh, body, start, length);
      // The tracked promise never rejects (the first error is kept in `failure`), so no part's
      // failure goes unhandled while the next part is being read.
      const sent: Promise<void> = store.uploadPart(ref, uploadId, n, body).then(
        (part) => {
          acked[n - 1] = part;
          free.push(buffer);
          for (; reportedParts < partCount && acked[reportedParts]; reportedParts++) {
            onProgress?.(Math.min((reportedParts + 1) * partBytes, totalBytes), totalBytes);
          }
        },
        (error: unknown) => {
          failure ??= { error };
        },
      );
      const tracked = sent.finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
    }
    await Promise.all(inFlight);
    if (failure) throw failure.error;
    await unchanged(fh, totalBytes);
    await store.completeMultipart(ref, uploadId, acked as UploadedPart[], writeOptions);
    return totalBytes;
  } catch (e) {
    await Promise.all(inFlight);
    await store.abortMultipart(ref, uploadId).catch(() => {});
    throw e;
  }
}

/** Fills `body` from `position`; a short read means the file shrank under us. */
async function readPart(fh: FileHandle, body: Buffer, position: number, length: number): Promise<void> {
  let filled = 0;
  // Bounded: every pass reads at least one byte or throws.
  while (filled < length) {
    const { bytesRead } = await fh.read(body, filled, length - filled, position + filled);
    if (bytesRead === 0) throw new FileChangedError(`the file shrank while it was being uploaded (expected ${position + length} bytes, it ends at ${position + filled})`);
    filled += bytesRead;
  }
}

async function unchanged(fh: FileHandle, totalBytes: number): Promise<void> {
  const now = (await fh.stat()).size;
  if (now !== totalBytes) throw new FileChangedError(`the file changed size while it was being uploaded (${totalBytes} bytes at the start, ${now} now): upload it again once it is written`);
}
