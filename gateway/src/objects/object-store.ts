/**
 * An object store as the gateway needs it: a HEAD (size and ETag, conditional) and ranged
 * reads pinned to one ETag. S3 (any S3-compatible server) implements it, and so does a local
 * folder standing in for a bucket in the embedded default; the shared, cached, coalescing
 * reader (object-source.ts and its parts) is written against this interface only.
 */

/** One object: which bucket, which key, optionally which version. */
export interface ObjectRef {
  readonly bucket: string;
  readonly key: string;
  readonly versionId?: string;
}

export interface ObjectInfo {
  readonly size: number;
  /** Opaque, changes whenever the content does (quotes stripped). */
  readonly etag: string;
  readonly lastModified?: Date;
}

/**
 * Why a store call failed, in the terms the gateway acts on:
 *  - 'not-found': no such bucket, key or version → ERROR 1
 *  - 'denied': credentials lack access → ERROR 2
 *  - 'changed': the object no longer has the ETag a read was pinned to (412) → the session fails
 *  - 'unavailable': timeouts, connection errors, throttling, 5xx → retried, then ERROR 0
 * `message` is for logs only; it may hold bucket and key, never credentials.
 */
export type ObjectErrorKind = 'not-found' | 'denied' | 'changed' | 'unavailable';

export class ObjectStoreError extends Error {
  readonly kind: ObjectErrorKind;
  constructor(kind: ObjectErrorKind, message: string, opts: { cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'ObjectStoreError';
    this.kind = kind;
  }
}

export interface ObjectStore {
  /** 's3' or 'folder'; for stats (`source`) and logs. */
  readonly kind: string;
  /**
   * Size and ETag. With `ifNoneMatch` (an ETag), resolves 'not-modified' when the object still
   * has it (a conditional request: no body, cheap). Throws ObjectStoreError.
   */
  head(ref: ObjectRef, opts?: { ifNoneMatch?: string; signal?: AbortSignal }): Promise<ObjectInfo | 'not-modified'>;
  /**
   * Bytes [start, end) of the object as it is at `etag` (sent as If-Match: a changed object
   * fails with 'changed' rather than mixing two versions). `end` is at most the size.
   * Throws ObjectStoreError.
   */
  getRange(ref: ObjectRef, start: number, end: number, etag: string, opts?: { signal?: AbortSignal }): Promise<Uint8Array>;
  /** Stops keep-alive sockets and timers. */
  close(): Promise<void>;
}

/**
 * A store that can also write and read whole objects: what the control plane needs for
 * bundles (control/redis-control.ts). Served paths never write; only deploys do.
 */
export interface WritableObjectStore extends ObjectStore {
  /** Stores `bytes` at `ref` (replacing it); `onProgress` hears the bytes sent so far. Throws ObjectStoreError. */
  put(ref: ObjectRef, bytes: Uint8Array, onProgress?: (sentBytes: number, totalBytes: number) => void): Promise<void>;
  /** The whole object. Throws ObjectStoreError ('not-found' when absent). */
  get(ref: ObjectRef): Promise<Uint8Array>;
}
