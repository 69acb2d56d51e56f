/**
 * The S3 object store: HeadObject and ranged GetObject through the AWS SDK v3, against AWS or
 * any S3-compatible server (endpoint + path-style).
 *
 * Time is bounded here and nowhere else: the SDK makes one attempt (`maxAttempts: 1`) because
 * the gateway retries 'unavailable' with its own backoff and must see every failure; each call
 * gets one deadline (`requestTimeoutMs`) that covers the response headers AND the body, since
 * the SDK's own request timeout stops at the headers.
 *
 * Time to first byte is bounded apart (`firstByteTimeoutMs`): a hung S3 that accepts and never
 * answers would otherwise cost a new request upstreamAttempts × requestTimeoutMs of silence
 * (22 s by default) before its ERROR 0, and TFTP clients give up long before. After one call
 * sees no response within that bound the store counts as stalled for `stallHoldMs` (longer than
 * the gateway's whole retry schedule, 2.1 s of backoff): calls made then wait only
 * STALLED_FIRST_BYTE_MS for headers, so retries add little to the wait while a live S3 still
 * answers within it and clears the stall. With the defaults a new request on a hung S3 gets its
 * ERROR 0 after about 2 + 3 × 0.25 + 2.1 ≈ 4.9 s.
 *
 * Errors become ObjectStoreError kinds (classifyS3Error). Their messages name the operation,
 * bucket, key and the S3 error code, never credentials: the SDK error is not kept as `cause`
 * because S3 error bodies can echo the access key id and the string that was signed.
 */
import { createRequire } from 'node:module';
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { DEFAULTS } from '../config/defaults.js';
import { ObjectStoreError, type ObjectInfo, type ObjectRef, type WritableObjectStore } from './object-store.js';
import { consumedProgress, countedBody } from './counted-body.js';
import { S3UploadStore } from './upload-s3.js';
import type { S3StoreOptions } from './s3-store-options.js';

// Here for their older importers: the options and the error map live in files of their own, so
// the upload store (upload-s3.ts) uses them without importing this file (no import circle).
export type { S3StoreOptions } from './s3-store-options.js';
export { classifyS3Error } from './s3-errors.js';
import { classifyS3Error, type SdkErrorShape } from './s3-errors.js';
import { regionFromChain } from './s3-region.js';

/**
 * Uploads above this go in parts of this size (CreateMultipartUpload / UploadPart, each part
 * with its own deadline and a progress report); S3 wants parts of at least 5 MiB but the last.
 */
export const MULTIPART_PART_BYTES = 8 * 1024 * 1024;
/** Deadline of one PutObject or one part: uploads are not bounded by the read deadline. */
const MIN_UPLOAD_TIMEOUT_MS = 60_000;

/** Header wait while stalled: a live S3 answers a HEAD or a ranged GET's headers well within it. */
export const STALLED_FIRST_BYTE_MS = 250;


type S3Sdk = typeof import('@aws-sdk/client-s3');
let s3Sdk: S3Sdk | undefined;
/**
 * The AWS SDK, loaded by the first S3 store rather than with this module (issue 13,
 * docs/PERFORMANCE.md "Idle memory"): it costs about 21 MiB of RSS, and a gateway serving a
 * folder never talks to S3. A synchronous require keeps the constructor synchronous; the
 * package's `main` is its CommonJS build, which is also what an `import` of it resolves to.
 */
function loadS3Sdk(): S3Sdk {
  s3Sdk ??= createRequire(import.meta.url)('@aws-sdk/client-s3') as S3Sdk;
  return s3Sdk;
}

function stripQuotes(etag: string): string {
  return etag.length >= 2 && etag.startsWith('"') && etag.endsWith('"') ? etag.slice(1, -1) : etag;
}

/** S3 compares If-Match / If-None-Match against the quoted form it sends back. */
function quoted(etag: string): string {
  return etag.startsWith('"') || etag.startsWith('W/') ? etag : `"${etag}"`;
}

export class S3ObjectStore implements WritableObjectStore {
  readonly kind = 's3';
  /** Upstream calls made, body bytes received, calls failed; read by the gateway's stats. */
  readonly requests = { head: 0, get: 0, bytes: 0, errors: 0, firstByteTimeouts: 0 };
  private readonly sdk = loadS3Sdk();
  private readonly client: S3Client;
  private readonly requestTimeoutMs: number;
  private readonly firstByteTimeoutMs: number;
  /** performance.now() until which the upstream counts as stalled (see the file comment). */
  private stalledUntilMs = 0;
  private readonly stallHoldMs: number;
  /** Uploads through functions (issue 15) use a client of their own, built from the same options. */
  private readonly uploadOptions: S3StoreOptions;
  private uploads: S3UploadStore | undefined;

  constructor(opts: S3StoreOptions = {}) {
    this.uploadOptions = opts;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? DEFAULTS.s3RequestTimeoutMs;
    this.firstByteTimeoutMs = Math.min(opts.firstByteTimeoutMs ?? DEFAULTS.s3FirstByteTimeoutMs, this.requestTimeoutMs);
    this.stallHoldMs = opts.stallHoldMs ?? 5000;
    const agent = { keepAlive: true, maxSockets: opts.maxSockets ?? 256 };
    const config: S3ClientConfig = {
      endpoint: opts.endpoint,
      region: opts.region ?? (() => regionFromChain(loadS3Sdk().S3Client)),
      forcePathStyle: opts.forcePathStyle,
      credentials: opts.credentials,
      maxAttempts: 1,
      // Checksums on ranged reads cost CPU and some S3-compatible servers reject them.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      // The options form builds the SDK's NodeHttpHandler without us depending on it directly.
      requestHandler: {
        connectionTimeout: opts.connectTimeoutMs ?? 2000,
        requestTimeout: this.requestTimeoutMs,
        // Without this the SDK only logs a warning when the timeout passes.
        throwOnRequestTimeout: true,
        httpAgent: agent,
        httpsAgent: agent,
      },
    };
    this.client = new this.sdk.S3Client(config);
  }

  async head(ref: ObjectRef, opts: { ifNoneMatch?: string; signal?: AbortSignal } = {}): Promise<ObjectInfo | 'not-modified'> {
    const what = `S3 HeadObject s3://${ref.bucket}/${ref.key}`;
    this.requests.head++;
    const deadline = this.deadline(opts.signal);
    try {
      const r = await this.firstByte(what, deadline, (abortSignal) =>
        this.client.send(
          new this.sdk.HeadObjectCommand({
            Bucket: ref.bucket,
            Key: ref.key,
            VersionId: ref.versionId,
            IfNoneMatch: opts.ifNoneMatch === undefined ? undefined : quoted(opts.ifNoneMatch),
          }),
          { abortSignal },
        ),
      );
      if (r.ContentLength === undefined || !r.ETag) {
        throw new ObjectStoreError('unavailable', `${what}: reply without Content-Length or ETag`);
      }
      return { size: r.ContentLength, etag: stripQuotes(r.ETag), lastModified: r.LastModified };
    } catch (e) {
      // A 304 is the answer asked for, not a failure; the SDK surfaces it as an error.
      if ((e as SdkErrorShape)?.$metadata?.httpStatusCode === 304) return 'not-modified';
      this.requests.errors++;
      throw classifyS3Error(e, what);
    }
  }

  async getRange(ref: ObjectRef, start: number, end: number, etag: string, opts: { signal?: AbortSignal } = {}): Promise<Uint8Array> {
    const what = `S3 GetObject s3://${ref.bucket}/${ref.key} bytes ${start}-${end - 1}`;
    // An empty range has no HTTP form (bytes=5-4 is invalid): nothing to fetch.
    if (end <= start) return new Uint8Array(0);
    this.requests.get++;
    const deadline = this.deadline(opts.signal);
    try {
      const r = await this.firstByte(what, deadline, (abortSignal) =>
        this.client.send(
          new this.sdk.GetObjectCommand({
            Bucket: ref.bucket,
            Key: ref.key,
            VersionId: ref.versionId,
            Range: `bytes=${start}-${end - 1}`,
            IfMatch: quoted(etag),
          }),
          { abortSignal },
        ),
      );
      if (!r.Body) throw new ObjectStoreError('unavailable', `${what}: reply without a body`);
      // The deadline signal still covers this read: aborting destroys the socket mid-body.
      const bytes = await r.Body.transformToByteArray();
      this.requests.bytes += bytes.length;
      if (bytes.length !== end - start) {
        throw new ObjectStoreError('unavailable', `${what}: got ${bytes.length} bytes, expected ${end - start}`);
      }
      return bytes;
    } catch (e) {
      this.requests.errors++;
      throw classifyS3Error(e, what);
    }
  }

  /**
   * Stores the whole object (deploys only: bundles, control/redis-control.ts). Up to
   * MULTIPART_PART_BYTES in one PutObject, above it in parts; a failed multipart upload is
   * aborted so no parts are left billed. `onProgress` hears the bytes as the request consumes
   * them (counted-body.ts: every 64 KiB, not once per request), and the total once S3 has them.
   */
  async put(ref: ObjectRef, bytes: Uint8Array, onProgress?: (sentBytes: number, totalBytes: number) => void): Promise<void> {
    const what = `S3 PutObject s3://${ref.bucket}/${ref.key}`;
    const total = bytes.length;
    const timeoutMs = Math.max(this.requestTimeoutMs, MIN_UPLOAD_TIMEOUT_MS);
    const consumed = onProgress && consumedProgress(total, onProgress);
    if (total <= MULTIPART_PART_BYTES) {
      try {
        const body = consumed ? countedBody(bytes, consumed) : bytes;
        await this.client.send(new this.sdk.PutObjectCommand({ Bucket: ref.bucket, Key: ref.key, Body: body, ContentLength: total }), {
          abortSignal: AbortSignal.timeout(timeoutMs),
        });
      } catch (e) {
        this.requests.errors++;
        throw classifyS3Error(e, what);
      }
      onProgress?.(total, total);
      return;
    }
    let uploadId: string | undefined;
    try {
      const created = await this.client.send(new this.sdk.CreateMultipartUploadCommand({ Bucket: ref.bucket, Key: ref.key }), { abortSignal: AbortSignal.timeout(timeoutMs) });
      uploadId = created.UploadId;
      if (!uploadId) throw new ObjectStoreError('unavailable', `${what}: CreateMultipartUpload gave no UploadId`);
      const parts: { ETag: string; PartNumber: number }[] = [];
      for (let start = 0, n = 1; start < total; start += MULTIPART_PART_BYTES, n++) {
        const body = bytes.subarray(start, Math.min(total, start + MULTIPART_PART_BYTES));
        const r = await this.client.send(
          new this.sdk.UploadPartCommand({ Bucket: ref.bucket, Key: ref.key, UploadId: uploadId, PartNumber: n, Body: consumed ? countedBody(body, (read) => consumed(start + read)) : body, ContentLength: body.length }),
          { abortSignal: AbortSignal.timeout(timeoutMs) },
        );
        if (!r.ETag) throw new ObjectStoreError('unavailable', `${what}: part ${n} answered without an ETag`);
        parts.push({ ETag: r.ETag, PartNumber: n });
      }
      await this.client.send(
        new this.sdk.CompleteMultipartUploadCommand({ Bucket: ref.bucket, Key: ref.key, UploadId: uploadId, MultipartUpload: { Parts: parts } }),
        { abortSignal: AbortSignal.timeout(timeoutMs) },
      );
      onProgress?.(total, total);
    } catch (e) {
      this.requests.errors++;
      if (uploadId) {
        await this.client
          .send(new this.sdk.AbortMultipartUploadCommand({ Bucket: ref.bucket, Key: ref.key, UploadId: uploadId }), { abortSignal: AbortSignal.timeout(this.requestTimeoutMs) })
          .catch(() => {});
      }
      throw classifyS3Error(e, what);
    }
  }

  /** The whole object in one GetObject (deploys: bundles), under the usual first-byte and whole-call bounds. */
  async get(ref: ObjectRef): Promise<Uint8Array> {
    const what = `S3 GetObject s3://${ref.bucket}/${ref.key}`;
    this.requests.get++;
    const deadline = this.deadline(undefined);
    try {
      const r = await this.firstByte(what, deadline, (abortSignal) =>
        this.client.send(new this.sdk.GetObjectCommand({ Bucket: ref.bucket, Key: ref.key, VersionId: ref.versionId }), { abortSignal }),
      );
      if (!r.Body) throw new ObjectStoreError('unavailable', `${what}: reply without a body`);
      const bytes = await r.Body.transformToByteArray();
      this.requests.bytes += bytes.length;
      if (r.ContentLength !== undefined && bytes.length !== r.ContentLength) {
        throw new ObjectStoreError('unavailable', `${what}: got ${bytes.length} bytes, Content-Length says ${r.ContentLength}`);
      }
      return bytes;
    } catch (e) {
      this.requests.errors++;
      throw classifyS3Error(e, what);
    }
  }

  /** The upload side (objects/upload-s3.ts): s3Put() streams uploads through it. */
  uploadStore(): S3UploadStore {
    this.uploads ??= new S3UploadStore(this.uploadOptions);
    return this.uploads;
  }

  async close(): Promise<void> {
    this.client.destroy();
    await this.uploads?.close();
  }

  /**
   * Runs one SDK call with a bound on its response headers (the SDK resolves send() when they
   * arrive; the body, if any, stays under the whole-call deadline). Any HTTP answer, errors
   * included, proves the upstream alive and ends a stall.
   */
  private async firstByte<T>(what: string, deadline: AbortSignal, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const stalled = performance.now() < this.stalledUntilMs;
    const boundMs = stalled ? Math.min(STALLED_FIRST_BYTE_MS, this.firstByteTimeoutMs) : this.firstByteTimeoutMs;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), boundMs);
    try {
      const r = await call(AbortSignal.any([deadline, controller.signal]));
      this.stalledUntilMs = 0;
      return r;
    } catch (e) {
      if (controller.signal.aborted && !deadline.aborted) {
        this.requests.firstByteTimeouts++;
        // Only a full-length wait marks (or extends) a stall: short probes that fail must not
        // keep a slow-but-alive upstream on the short bound forever.
        if (!stalled) this.stalledUntilMs = performance.now() + this.stallHoldMs;
        throw new ObjectStoreError('unavailable', `${what}: no response within ${boundMs} ms${stalled ? ' (upstream stalled)' : ''}`);
      }
      if ((e as SdkErrorShape)?.$metadata?.httpStatusCode !== undefined) this.stalledUntilMs = 0;
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  /** One deadline for the whole call, joined with the caller's signal. */
  private deadline(signal: AbortSignal | undefined): AbortSignal {
    const timeout = AbortSignal.timeout(this.requestTimeoutMs);
    return signal ? AbortSignal.any([signal, timeout]) : timeout;
  }
}

