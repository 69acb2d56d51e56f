/**
 * A write request (WRQ) to a function. It reaches the function only when its config says
 * `writes: true` (or, as before, when the gateway has a writeRoot: then file(path) answers it).
 * A deployed version pinned for the request may narrow that, or turn writes on where the
 * gateway allows manifest writes (`uploadsFor`, runtime/version-settings.ts); otherwise ERROR 2
 * "writes are disabled". The function answers with where the bytes go, and the gateway
 * receives them itself:
 *  - put      → s3Put(): streamed into the bucket part by part (objects/upload-writer.ts),
 *               visible only once complete; the final ACK waits for the store
 *  - discard  → accepted and dropped
 *  - accepted → the function read request.body itself (streamed to it with credit:
 *               body-writer.ts, runtime/body-channel.ts); the final ACK waits for its answer
 *  - file     → under the writeRoot (LocalDirSink)
 *  - error    → refused
 * A declared tsize above the function's maxUploadBytes is refused with ERROR 3 before the
 * function runs (RFC 2349 lets the server refuse a size it cannot take).
 */
import type { TftpError } from '../protocol/error-codes.js';
import type { SessionTags, TftpRequest } from './request.js';
import type { LocalDirSink } from '../sources/local-dir-sink.js';
import type { ByteWriter } from '../sources/types.js';
import { functionFailed } from '../runtime/function-failure.js';
import type { ObjectSource } from '../objects/object-source.js';
import { wireError } from '../errors/to-tftp-error.js';
import { WIRE_TEXT } from '../errors/wire-texts.js';
import { acceptsUploads, type UploadStore } from '../objects/upload-store.js';
import { UploadRegistry, UploadSlots, UploadTally, type UploadEnd } from '../objects/upload-registry.js';
import { UploadWriter } from '../objects/upload-writer.js';
import type { BodyUpload } from '../runtime/body-upload.js';
import { BodyWriter } from './body-writer.js';
import { withOutcome } from '../session/outcome.js';
import { declaredTsize, refusal, type FunctionCaller, type PinnedVersion } from './function-call.js';

/** functions.NAME.writes and the limits that go with it (config/schema.ts, docs/UPLOADS.md). */
export interface FunctionUploadOptions {
  readonly enabled: boolean;
  readonly maxBytes: number;
  readonly maxPerClient: number;
  readonly overwrite: boolean;
  readonly partBytes: number;
  readonly partsInFlight: number;
  readonly sweepIntervalMs: number;
  readonly sweepAgeMs: number;
}

/** The function handler's options that the write path reads (FunctionHandlerOptions, function.ts). */
export interface FunctionWriteOptions {
  /** Where a write request goes when the function answers it with file(path); absent: writes are refused. */
  readonly sink?: LocalDirSink;
  /** Where s3Object() responses are read from, and s3Put() uploads go; absent: such responses are a function error. */
  readonly objects?: ObjectSource;
  /** Uploads through this function (functions.NAME.writes and its limits); absent or disabled: only the writeRoot path. */
  readonly uploads?: FunctionUploadOptions;
  /**
   * The upload settings of one version (its manifest's within the config's: runtime/
   * version-settings.ts); given, it decides for each WRQ by the version pinned for it, in place
   * of `uploads`, so a deploy turns writes on or off without a restart.
   */
  readonly uploadsFor?: (version: string) => FunctionUploadOptions | undefined;
}

/** One registry per upload store, shared by every function writing to it (per-client counts are keyed by function). */
const registries = new WeakMap<UploadStore, UploadRegistry>();

export function uploadRegistry(store: UploadStore, sweep: { sweepIntervalMs: number; sweepAgeMs: number }): UploadRegistry {
  let r = registries.get(store);
  if (!r) {
    r = new UploadRegistry(store, sweep);
    registries.set(store, r);
  }
  return r;
}

/**
 * The counters of uploads that go to no store: read by the function itself (accepted():
 * store="function" on /metrics) or dropped (discard(): store="discard"); each made on first use.
 */
let functionUploads: UploadTally | undefined;
let discardedUploads: UploadTally | undefined;
const functionTally = (): UploadTally => (functionUploads ??= new UploadTally('function'));
const discardTally = (): UploadTally => (discardedUploads ??= new UploadTally('discard'));

/**
 * The refusal of an upload past maxUploadsPerClient: ERROR 0 with the text a download past
 * maxSessionsPerClient gets (RFC 1350 has no code for "busy"; 0 is "see error message"), and
 * outcome `busy` (session/outcome.ts), like that download.
 */
const tooManyUploads = (): TftpError => withOutcome(wireError(WIRE_TEXT.tooManyFromClient), 'busy');

/** A writer that keeps nothing and reports the bytes it dropped once: discard(), accepted() without reading the body. */
function countedDiscard(end: UploadEnd): ByteWriter {
  let bytes = 0;
  return {
    write: async (chunk) => {
      bytes += chunk.byteLength;
    },
    commit: async () => end('committed', bytes),
    abort: async () => end('aborted', bytes),
  };
}

/** The function handler's openWrite: invokes the function for a WRQ and opens where its answer says the bytes go. */
export function functionWriteOpener(opts: FunctionWriteOptions, call: FunctionCaller): (request: TftpRequest, tags: SessionTags) => Promise<ByteWriter> {
  /** This function's uploads in flight per client address (maxUploadsPerClient), whatever their store. */
  const slots = new UploadSlots();

  return async function openWrite(request: TftpRequest, tags: SessionTags): Promise<ByteWriter> {
    // The version that will answer decides whether uploads are on, and their limits.
    const pinned = call.pinFor(request, tags);
    const chosen = opts.uploadsFor ? opts.uploadsFor(pinned.version) : opts.uploads;
    const uploads = chosen?.enabled ? chosen : undefined;
    if (!uploads && !opts.sink) {
      pinned.release();
      throw wireError(WIRE_TEXT.writesDisabled);
    }
    const tsize = declaredTsize(request);
    if (uploads && tsize !== undefined && tsize > uploads.maxBytes) {
      pinned.release();
      throw wireError(WIRE_TEXT.uploadTooLarge);
    }
    // With uploads on, the function may read the body itself (request.body, accepted()).
    const { result } = await call.invoke(request, tags, uploads !== undefined, pinned);
    if (result.kind === 'body') return openBody(result.upload, uploads!, request, tags, pinned);
    pinned.release();
    switch (result.kind) {
      case 'error':
        throw refusal(result);
      case 'file':
        if (!opts.sink) throw functionFailed('bad-response', 'file(path) answers a write request only when the gateway has a writeRoot; use s3Put()');
        return opts.sink.openWrite({ raw: result.path, normalized: result.path });
      case 'discard':
      case 'accepted': {
        // discard(), or accepted() answered without reading a byte: the upload is received and
        // dropped, counted as store="discard" or store="function".
        if (!uploads) break;
        const tally = result.kind === 'discard' ? discardTally() : functionTally();
        const end = tally.acquire(slots, request.peer.address, uploads.maxPerClient);
        if (!end) throw tooManyUploads();
        tags.source = tally.kind;
        return countedDiscard(end);
      }
      case 'put': {
        if (!uploads) break;
        const store = opts.objects?.store;
        if (!acceptsUploads(store)) throw functionFailed('bad-response', 's3Put() needs an object store, and none is configured');
        return openUpload(store.uploadStore(), uploads, request, tags, result.ref, result.contentType);
      }
      case 'stream':
        void result.reader.close();
        break;
    }
    const allowed = uploads ? 's3Put(), discard(), accepted()' : 'file(path)';
    throw functionFailed('bad-response', `a write request must be answered with ${allowed} or an error, got a ${result.kind} response`);
  };

  /** The function is reading the upload: the session's bytes go to it (body-writer.ts). */
  function openBody(upload: BodyUpload, uploads: FunctionUploadOptions, request: TftpRequest, tags: SessionTags, pinned: PinnedVersion): ByteWriter {
    const end = functionTally().acquire(slots, request.peer.address, uploads.maxPerClient);
    if (!end) {
      upload.abort('failed');
      pinned.release();
      throw tooManyUploads();
    }
    tags.source = 'function';
    return new BodyWriter(upload, {
      maxBytes: uploads.maxBytes,
      onEnd: (outcome, bytes) => {
        end(outcome, bytes);
        pinned.release();
      },
    });
  }

  async function openUpload(
    store: UploadStore,
    uploads: FunctionUploadOptions,
    request: TftpRequest,
    tags: SessionTags,
    ref: { bucket: string; key: string },
    contentType: string | undefined,
  ): Promise<ByteWriter> {
    const registry = uploadRegistry(store, uploads);
    const end = registry.acquire(slots, request.peer.address, uploads.maxPerClient);
    if (!end) throw tooManyUploads();
    tags.source = store.kind;
    tags.objectKey = `${ref.bucket}/${ref.key}`;
    try {
      const writer = await UploadWriter.open(store, { bucket: ref.bucket, key: ref.key }, {
        contentType,
        overwrite: uploads.overwrite,
        maxBytes: uploads.maxBytes,
        partBytes: uploads.partBytes,
        maxPartsInFlight: uploads.partsInFlight,
        onEnd: end,
        onAbortFailed: (r, uploadId) => registry.abortFailed(r, uploadId),
      });
      registry.wroteTo(ref.bucket, ref.key);
      return writer;
    } catch (e) {
      end('aborted', 0);
      throw e;
    }
  }
}
