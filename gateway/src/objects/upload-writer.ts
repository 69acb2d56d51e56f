/**
 * One upload into a bucket, as the write session's ByteWriter (issue 15).
 *
 * Theory of operation. Bytes arrive in DATA-block sized chunks (write), in order. They are
 * copied into a part buffer of `partBytes` (at least 5 MiB: S3's minimum for every part but
 * the last). When the buffer is full the multipart upload is created (on the first full part)
 * and the part is sent while the next one fills; at most `maxPartsInFlight` parts are in the
 * air, and a write that would start one more waits for the oldest: memory per upload stays
 * under (maxPartsInFlight + 1) × partBytes, never the whole file.
 *
 * commit() comes after the last block: an upload that never filled a part goes as one
 * PutObject; otherwise the rest is the last part and the multipart upload is completed. The
 * session sends its final ACK only when commit() resolves (write-session.ts, state
 * committing), so a client that saw its last ACK knows the object is stored.
 *
 * abort() comes from the session driver whenever the session ends without a commit (an
 * ERROR from the client, a timeout, a shutdown, a failed write): parts in flight are awaited
 * and the multipart upload is aborted, so nothing is left behind. A failed part fails the next
 * write (the client gets ERROR 0 at once, and the driver then aborts).
 *
 * Limits: more than `maxBytes` fails with ERROR 3 "upload too large"; with `overwrite` false
 * an existing key is refused up front (open, ERROR 6) and again at the end by a conditional
 * write where the store honours it (S3 If-None-Match: *; the local folder's link(2)).
 */
import { ObjectStoreError, type ObjectRef } from './object-store.js';
import type { UploadedPart, UploadStore, WriteOptions } from './upload-store.js';
import type { ByteWriter } from '../sources/types.js';
import { wireError } from '../errors/to-tftp-error.js';
import { WIRE_TEXT } from '../errors/wire-texts.js';

/** S3's smallest part (all but the last): 5 MiB. */
export const MIN_PART_BYTES = 5 * 1024 * 1024;

export interface UploadWriterOptions {
  readonly contentType?: string;
  /** Replace an existing object; false: ERROR 6 when the key is taken. */
  readonly overwrite: boolean;
  /** Largest upload, bytes; beyond it ERROR 3. */
  readonly maxBytes: number;
  /** Part size, bytes (>= 5 MiB). */
  readonly partBytes: number;
  /** Parts uploading at once per upload. */
  readonly maxPartsInFlight: number;
  /** Hears the end of the upload: 'committed', 'aborted' or 'failed' (for metrics and the open-upload registry). */
  readonly onEnd?: (outcome: 'committed' | 'aborted', bytes: number) => void;
  /** Hears an AbortMultipartUpload that failed (the sweep retries it); abort() itself never rejects. */
  readonly onAbortFailed?: (ref: ObjectRef, uploadId: string, error: unknown) => void;
}

type State = 'open' | 'committing' | 'committed' | 'aborted';

export class UploadWriter implements ByteWriter {
  private state: State = 'open';
  private bytes = 0;
  private buffer: Uint8Array | undefined;
  private filled = 0;
  private uploadId: Promise<string> | undefined;
  private readonly parts: Promise<UploadedPart>[] = [];
  private readonly inFlight = new Set<Promise<UploadedPart>>();
  private failure: unknown;
  private readonly writeOpts: WriteOptions;

  /** Opens an upload: checks the key is free first unless overwriting (ERROR 6 before any DATA). */
  static async open(store: UploadStore, ref: ObjectRef, opts: UploadWriterOptions): Promise<UploadWriter> {
    if (!opts.overwrite && (await store.exists(ref))) throw wireError(WIRE_TEXT.fileExists);
    return new UploadWriter(store, ref, opts);
  }

  private constructor(
    private readonly store: UploadStore,
    readonly ref: ObjectRef,
    private readonly opts: UploadWriterOptions,
  ) {
    this.writeOpts = { contentType: opts.contentType, ifNoneMatch: !opts.overwrite };
  }

  /** Bytes accepted so far. */
  get receivedBytes(): number {
    return this.bytes;
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (this.state !== 'open') throw wireError(WIRE_TEXT.uploadEnded);
    if (this.failure !== undefined) throw this.failure;
    if (this.bytes + chunk.byteLength > this.opts.maxBytes) throw wireError(WIRE_TEXT.uploadTooLarge);
    this.bytes += chunk.byteLength;
    let offset = 0;
    while (offset < chunk.byteLength) {
      this.buffer ??= new Uint8Array(this.opts.partBytes);
      const n = Math.min(chunk.byteLength - offset, this.buffer.byteLength - this.filled);
      this.buffer.set(chunk.subarray(offset, offset + n), this.filled);
      this.filled += n;
      offset += n;
      if (this.filled === this.buffer.byteLength) await this.sendPart(this.takeBuffer());
    }
  }

  async commit(): Promise<void> {
    if (this.state !== 'open') throw wireError(WIRE_TEXT.uploadEnded);
    if (this.failure !== undefined) throw this.failure;
    this.state = 'committing';
    try {
      if (this.uploadId === undefined) {
        // Never filled a part: one PutObject of what there is (possibly nothing: an empty file).
        await this.store.putObject(this.ref, this.takeBuffer(), this.writeOpts);
      } else {
        if (this.filled > 0) await this.sendPart(this.takeBuffer());
        const parts = await Promise.all(this.parts);
        await this.store.completeMultipart(this.ref, await this.uploadId, parts, this.writeOpts);
      }
    } catch (e) {
      this.state = 'open';
      this.failure = mapStoreError(e);
      throw this.failure;
    }
    this.state = 'committed';
    this.buffer = undefined;
    this.opts.onEnd?.('committed', this.bytes);
  }

  /** Drops the upload. Never rejects (the driver calls it from a close path): a failed abort is reported to onAbortFailed. */
  async abort(): Promise<void> {
    if (this.state === 'committed' || this.state === 'aborted') return;
    this.state = 'aborted';
    this.buffer = undefined;
    // Parts still uploading would recreate what abort removes on some stores: wait for them.
    await Promise.allSettled([...this.inFlight]);
    const id = this.uploadId ? await this.uploadId.catch(() => undefined) : undefined;
    if (id !== undefined) {
      try {
        await this.store.abortMultipart(this.ref, id);
      } catch (e) {
        this.opts.onAbortFailed?.(this.ref, id, e);
      }
    }
    this.opts.onEnd?.('aborted', this.bytes);
  }

  private takeBuffer(): Uint8Array {
    const b = this.buffer ? this.buffer.subarray(0, this.filled) : new Uint8Array(0);
    this.buffer = undefined;
    this.filled = 0;
    return b;
  }

  /** Starts a full part, first waiting while `maxPartsInFlight` are already in the air. */
  private async sendPart(body: Uint8Array): Promise<void> {
    while (this.inFlight.size >= this.opts.maxPartsInFlight) {
      await Promise.race([...this.inFlight]).catch(() => {});
      if (this.failure !== undefined) throw this.failure;
    }
    this.startPart(body);
  }

  private startPart(body: Uint8Array): void {
    this.uploadId ??= this.store.createMultipart(this.ref, this.writeOpts);
    const partNumber = this.parts.length + 1;
    const uploadId = this.uploadId;
    const part = (async () => this.store.uploadPart(this.ref, await uploadId, partNumber, body))();
    this.parts.push(part);
    this.inFlight.add(part);
    part.then(
      () => this.inFlight.delete(part),
      (e) => {
        this.inFlight.delete(part);
        this.failure ??= mapStoreError(e);
      },
    );
  }
}

/** A store failure as the client should hear it: a taken key is ERROR 6; the rest go through toTftpError. */
function mapStoreError(e: unknown): unknown {
  if (e instanceof ObjectStoreError && e.kind === 'changed') return wireError(WIRE_TEXT.fileExists, { cause: e });
  return e;
}
