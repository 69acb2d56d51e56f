/**
 * What the gateway needs of a store to receive uploads (issue 15): one whole-object put for
 * small uploads, and a multipart upload (create, parts, complete, abort) for the rest, so an
 * upload is streamed part by part and appears only when it is complete. S3 (upload-s3.ts) and
 * the local folder standing in for buckets (upload-local.ts) implement it.
 *
 * Errors are ObjectStoreError (objects/object-store.ts): a conditional write that finds the
 * key taken fails with kind 'changed' (HTTP 412), which the upload writer reports as ERROR 6.
 */
import type { ObjectRef } from './object-store.js';

/** One part as the store acknowledged it (S3's ETag of the part). */
export interface UploadedPart {
  readonly partNumber: number;
  readonly etag: string;
}

/** A multipart upload the store holds (ListMultipartUploads), for the stale-upload sweep. */
export interface PendingUpload {
  readonly key: string;
  readonly uploadId: string;
  readonly initiated: Date | undefined;
}

export interface WriteOptions {
  readonly contentType?: string;
  /**
   * Refuse to replace an existing object: S3's conditional write (If-None-Match: *), where the
   * store honours it. The writer also checks with HEAD up front (s3rver ignores the header).
   */
  readonly ifNoneMatch?: boolean;
}

export interface UploadStore {
  /** 's3' or 'folder': for records and logs. */
  readonly kind: string;
  /** True when the key holds an object now. Throws ObjectStoreError (never for a missing key). */
  exists(ref: ObjectRef): Promise<boolean>;
  /** Stores `body` as the whole object in one request. */
  putObject(ref: ObjectRef, body: Uint8Array, opts: WriteOptions): Promise<void>;
  /** Starts a multipart upload; resolves its id. */
  createMultipart(ref: ObjectRef, opts: WriteOptions): Promise<string>;
  /** Stores part `partNumber` (1-based; every part but the last at least 5 MiB on S3). */
  uploadPart(ref: ObjectRef, uploadId: string, partNumber: number, body: Uint8Array): Promise<UploadedPart>;
  /** Makes the object visible: atomic, all parts or nothing. */
  completeMultipart(ref: ObjectRef, uploadId: string, parts: readonly UploadedPart[], opts: WriteOptions): Promise<void>;
  /** Drops an unfinished upload and its parts. Resolves when the store no longer holds them. */
  abortMultipart(ref: ObjectRef, uploadId: string): Promise<void>;
  /** Unfinished multipart uploads under `prefix` in `bucket`. */
  listMultipart(bucket: string, prefix: string): Promise<PendingUpload[]>;
}

/** A store that can receive uploads hands out its UploadStore. */
export interface AcceptsUploads {
  uploadStore(): UploadStore;
}

export function acceptsUploads(store: unknown): store is AcceptsUploads {
  return typeof (store as Partial<AcceptsUploads> | undefined)?.uploadStore === 'function';
}
