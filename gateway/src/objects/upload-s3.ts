/**
 * Uploads into S3 (or an S3-compatible server): PutObject for small uploads, and
 * Create/UploadPart/Complete/AbortMultipartUpload for the rest (issue 15). The SDK is imported
 * when the first upload starts, so a gateway that never receives one never loads it; the
 * client is its own (the read path's client in s3-store.ts keeps its stall bookkeeping apart).
 *
 * Every call has a deadline (a part or a PutObject: at least UPLOAD_CALL_TIMEOUT_MS; the rest:
 * requestTimeoutMs), one attempt each (the writer fails the upload and aborts it instead of
 * retrying: the TFTP client is waiting for its ACK). Errors become ObjectStoreError kinds
 * (classifyS3Error), naming operation, bucket and key, never credentials.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { DEFAULTS } from '../config/defaults.js';
import { ObjectStoreError, type ObjectRef } from './object-store.js';
import { classifyS3Error } from './s3-errors.js';
import { regionFromChain } from './s3-region.js';
import type { S3StoreOptions } from './s3-store-options.js';
import type { PendingUpload, UploadedPart, UploadStore, WriteOptions } from './upload-store.js';

/** One part or PutObject: 5-8 MiB over a slow link takes seconds, not the read deadline. */
export const UPLOAD_CALL_TIMEOUT_MS = 60_000;

type Sdk = typeof import('@aws-sdk/client-s3');


export class S3UploadStore implements UploadStore {
  readonly kind = 's3';
  private sdk: Promise<{ sdk: Sdk; client: S3Client }> | undefined;
  private readonly requestTimeoutMs: number;
  /** Calls in flight: close() lets them (the aborts of a shutdown above all) finish first. */
  private readonly pending = new Set<Promise<unknown>>();

  constructor(private readonly opts: S3StoreOptions) {
    this.requestTimeoutMs = opts.requestTimeoutMs ?? DEFAULTS.s3RequestTimeoutMs;
  }

  async exists(ref: ObjectRef): Promise<boolean> {
    const { sdk, client } = await this.load();
    try {
      await client.send(new sdk.HeadObjectCommand({ Bucket: ref.bucket, Key: ref.key }), { abortSignal: AbortSignal.timeout(this.requestTimeoutMs) });
      return true;
    } catch (e) {
      const err = classifyS3Error(e, `S3 HeadObject s3://${ref.bucket}/${ref.key}`);
      if (err.kind === 'not-found') return false;
      throw err;
    }
  }

  async putObject(ref: ObjectRef, body: Uint8Array, opts: WriteOptions): Promise<void> {
    const { sdk, client } = await this.load();
    await this.call(`S3 PutObject s3://${ref.bucket}/${ref.key}`, UPLOAD_CALL_TIMEOUT_MS, () =>
      client.send(
        new sdk.PutObjectCommand({
          Bucket: ref.bucket,
          Key: ref.key,
          Body: body,
          ContentLength: body.byteLength,
          ContentType: opts.contentType,
          IfNoneMatch: opts.ifNoneMatch ? '*' : undefined,
        }),
        { abortSignal: AbortSignal.timeout(UPLOAD_CALL_TIMEOUT_MS) },
      ),
    );
  }

  async createMultipart(ref: ObjectRef, opts: WriteOptions): Promise<string> {
    const { sdk, client } = await this.load();
    const what = `S3 CreateMultipartUpload s3://${ref.bucket}/${ref.key}`;
    const r = await this.call(what, this.requestTimeoutMs, () =>
      client.send(new sdk.CreateMultipartUploadCommand({ Bucket: ref.bucket, Key: ref.key, ContentType: opts.contentType }), {
        abortSignal: AbortSignal.timeout(this.requestTimeoutMs),
      }),
    );
    if (!r.UploadId) throw new ObjectStoreError('unavailable', `${what}: no UploadId`);
    return r.UploadId;
  }

  async uploadPart(ref: ObjectRef, uploadId: string, partNumber: number, body: Uint8Array): Promise<UploadedPart> {
    const { sdk, client } = await this.load();
    const what = `S3 UploadPart s3://${ref.bucket}/${ref.key} part ${partNumber}`;
    const r = await this.call(what, UPLOAD_CALL_TIMEOUT_MS, () =>
      client.send(
        new sdk.UploadPartCommand({ Bucket: ref.bucket, Key: ref.key, UploadId: uploadId, PartNumber: partNumber, Body: body, ContentLength: body.byteLength }),
        { abortSignal: AbortSignal.timeout(UPLOAD_CALL_TIMEOUT_MS) },
      ),
    );
    if (!r.ETag) throw new ObjectStoreError('unavailable', `${what}: no ETag`);
    return { partNumber, etag: r.ETag };
  }

  async completeMultipart(ref: ObjectRef, uploadId: string, parts: readonly UploadedPart[], opts: WriteOptions): Promise<void> {
    const { sdk, client } = await this.load();
    // Completing can take S3 a while for many parts; it keeps the connection alive meanwhile.
    await this.call(`S3 CompleteMultipartUpload s3://${ref.bucket}/${ref.key}`, UPLOAD_CALL_TIMEOUT_MS, () =>
      client.send(
        new sdk.CompleteMultipartUploadCommand({
          Bucket: ref.bucket,
          Key: ref.key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.partNumber, ETag: p.etag })) },
          IfNoneMatch: opts.ifNoneMatch ? '*' : undefined,
        }),
        { abortSignal: AbortSignal.timeout(UPLOAD_CALL_TIMEOUT_MS) },
      ),
    );
  }

  async abortMultipart(ref: ObjectRef, uploadId: string): Promise<void> {
    const { sdk, client } = await this.load();
    try {
      const sent = client.send(new sdk.AbortMultipartUploadCommand({ Bucket: ref.bucket, Key: ref.key, UploadId: uploadId }), {
        abortSignal: AbortSignal.timeout(this.requestTimeoutMs),
      });
      this.track(sent);
      await sent;
    } catch (e) {
      const err = classifyS3Error(e, `S3 AbortMultipartUpload s3://${ref.bucket}/${ref.key}`);
      // NoSuchUpload: already gone (aborted or completed elsewhere), which is what we wanted.
      if (err.kind === 'not-found' || /NoSuchUpload/.test(err.message)) return;
      throw err;
    }
  }

  async listMultipart(bucket: string, prefix: string): Promise<PendingUpload[]> {
    const { sdk, client } = await this.load();
    const out: PendingUpload[] = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    // Bounded: 100 pages of 1000 is far past what one sweep should meet.
    for (let page = 0; page < 100; page++) {
      const r = await this.call(`S3 ListMultipartUploads s3://${bucket}/${prefix}`, this.requestTimeoutMs, () =>
        client.send(new sdk.ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }), {
          abortSignal: AbortSignal.timeout(this.requestTimeoutMs),
        }),
      );
      for (const u of r.Uploads ?? []) {
        if (u.Key && u.UploadId) out.push({ key: u.Key, uploadId: u.UploadId, initiated: u.Initiated });
      }
      if (!r.IsTruncated) break;
      keyMarker = r.NextKeyMarker;
      uploadIdMarker = r.NextUploadIdMarker;
    }
    return out;
  }

  /**
   * Waits (at most requestTimeoutMs, then UPLOAD_CALL_TIMEOUT_MS at worst for a part already
   * sent) for calls in flight, then closes the client. At shutdown the sessions' writers abort
   * their uploads as the sessions close, just before the stores are closed: destroying the
   * client first would turn those aborts into leftovers for the sweep.
   */
  async close(): Promise<void> {
    const deadline = Date.now() + this.requestTimeoutMs;
    // A writer's abort starts once its parts in flight settle: give those a moment to appear.
    await new Promise((r) => setImmediate(r));
    while (this.pending.size > 0 && Date.now() < deadline) {
      await Promise.race([Promise.allSettled([...this.pending]), new Promise((r) => setTimeout(r, Math.max(1, deadline - Date.now())).unref())]);
      await new Promise((r) => setImmediate(r));
    }
    if (this.sdk) (await this.sdk.catch(() => undefined))?.client.destroy();
  }

  private load(): Promise<{ sdk: Sdk; client: S3Client }> {
    this.sdk ??= import('@aws-sdk/client-s3').then((sdk) => {
      const agent = { keepAlive: true, maxSockets: this.opts.maxSockets ?? 256 };
      const client = new sdk.S3Client({
        endpoint: this.opts.endpoint,
        // As the read client: the SDK's own chain (AWS_REGION, the profile), else us-east-1.
        region: this.opts.region ?? (() => regionFromChain(sdk.S3Client)),
        forcePathStyle: this.opts.forcePathStyle,
        credentials: this.opts.credentials,
        maxAttempts: 1,
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
        requestHandler: { connectionTimeout: this.opts.connectTimeoutMs ?? 2000, requestTimeout: UPLOAD_CALL_TIMEOUT_MS, throwOnRequestTimeout: true, httpAgent: agent, httpsAgent: agent },
      });
      return { sdk, client };
    });
    return this.sdk;
  }

  private async call<T>(what: string, _timeoutMs: number, send: () => Promise<T>): Promise<T> {
    const p = send();
    this.track(p);
    try {
      return await p;
    } catch (e) {
      throw classifyS3Error(e, what);
    }
  }

  private track(p: Promise<unknown>): void {
    this.pending.add(p);
    const done = () => void this.pending.delete(p);
    p.then(done, done);
  }
}
