/**
 * One named function as the gateway sees it: a RequestHandler that invokes the current
 * version and turns what it returns into a source of bytes.
 *
 *  - bytes   → served from memory (the worker is free again at once)
 *  - file    → the function's root folder, through the same traversal-safe source as folders
 *  - stream  → credit-based chunks from the worker, until the session stops reading
 *  - error   → the ERROR packet the function asked for
 *
 * A write request (WRQ) reaches the function only when its config says `writes: true` (or,
 * as before, when the gateway has a writeRoot: then file(path) answers it). A deployed version
 * pinned for the request may narrow that, or turn writes on where the gateway allows manifest
 * writes (`uploadsFor`, runtime/version-settings.ts); otherwise ERROR 2 "writes are disabled".
 * The function answers with where the bytes go, and the gateway receives them itself:
 *  - put      → s3Put(): streamed into the bucket part by part (objects/upload-writer.ts),
 *               visible only once complete; the final ACK waits for the store
 *  - discard  → accepted and dropped
 *  - accepted → the function read request.body itself (streamed to it with credit:
 *               body-writer.ts, runtime/body-channel.ts); the final ACK waits for its answer
 *  - file     → under the writeRoot (LocalDirSink)
 *  - error    → refused
 * A declared tsize above the function's maxUploadBytes is refused with ERROR 3 before the
 * function runs (RFC 2349 lets the server refuse a size it cannot take).
 *
 * A version is held from invocation until the session is done with it, so a hot reload
 * never pulls a worker out from under a transfer.
 */
import type { FunctionRequest } from '../../../sdk/contract.js';
import { parseMac } from '../../../sdk/mac.js';
import { ErrorCode, TftpError } from '../protocol/error-codes.js';
import type { RequestHandler, SessionTags, TftpRequest } from './request.js';
import type { LocalDirSink, LocalDirSource } from '../sources/local-dir.js';
import { memoryReader } from '../sources/memory.js';
import type { ByteReader, OpenedRead } from '../sources/types.js';
import { functionFailed } from '../runtime/function-failure.js';
import type { ObjectSource } from '../objects/object-source.js';
import type { FunctionResult, Invoker } from '../runtime/invoker.js';
import type { ByteWriter } from '../sources/types.js';
import { wireError } from '../errors/to-tftp-error.js';
import { WIRE_TEXT } from '../errors/wire-texts.js';
import { acceptsUploads, type UploadStore } from '../objects/upload-store.js';
import { UploadRegistry, UploadSlots, UploadTally, type UploadEnd } from '../objects/upload-registry.js';
import { UploadWriter } from '../objects/upload-writer.js';
import type { BodyUpload } from '../runtime/body-upload.js';
import { BodyWriter } from './body-writer.js';
import { withOutcome } from '../session/outcome.js';

/** The version a request runs on, pinned until `release` is called. */
export interface PinnedVersion {
  readonly version: string;
  readonly invoker: Invoker;
  release(): void;
}

export interface FunctionHandlerOptions {
  readonly name: string;
  /**
   * Pins the version serving this new request; undefined while none is loaded. The request is
   * handed over so that, while a canary splits a function's clients, the runtime picks the side
   * by the client's identity (the MAC in the path, else the peer IP: runtime/canary-pick.ts).
   */
  pin(request: TftpRequest): PinnedVersion | undefined;
  /** Where file() responses are read from. */
  readonly files: LocalDirSource;
  /** Where a write request goes when the function answers it with file(path); absent: writes are refused. */
  readonly sink?: LocalDirSink;
  readonly readAheadBytes: number;
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

/** The declared upload size (RFC 2349 tsize in a WRQ), when it is exact: octet mode only. */
function declaredTsize(request: TftpRequest): number | undefined {
  const t = request.options.tsize;
  if (request.kind !== 'write' || request.mode !== 'octet' || t === undefined || !/^[0-9]{1,15}$/.test(t)) return undefined;
  return Number(t);
}

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

export function toFunctionRequest(request: TftpRequest): FunctionRequest {
  return {
    id: request.id,
    kind: request.kind,
    path: request.path.normalized,
    rawPath: request.path.raw,
    mode: request.mode,
    options: { ...request.options },
    peer: { ...request.peer },
    local: { ...request.local },
    mac: parseMac(request.path.normalized),
    ...(declaredTsize(request) !== undefined ? { tsize: declaredTsize(request) } : {}),
  };
}

/** Releases the pinned version once, when the reader is closed. */
function holding(reader: ByteReader, release: () => void): ByteReader {
  let released = false;
  return {
    size: reader.size,
    read: (hint) => reader.read(hint),
    async close() {
      try {
        await reader.close();
      } finally {
        if (!released) {
          released = true;
          release();
        }
      }
    },
  };
}

function refusal(result: Extract<FunctionResult, { kind: 'error' }>): TftpError {
  return new TftpError(result.code as ErrorCode, result.message);
}

export function functionHandler(opts: FunctionHandlerOptions): RequestHandler {
  /** This function's uploads in flight per client address (maxUploadsPerClient), whatever their store. */
  const slots = new UploadSlots();

  /** Pins the version that serves this request, and names it in the record. */
  function pinFor(request: TftpRequest, tags: SessionTags): PinnedVersion {
    tags.function = opts.name;
    const pinned = opts.pin(request);
    if (!pinned) throw functionFailed('unavailable', `function "${opts.name}" has no version loaded`);
    tags.version = pinned.version;
    return pinned;
  }

  async function invoke(request: TftpRequest, tags: SessionTags, withBody = false, pinned = pinFor(request, tags)): Promise<{ result: FunctionResult; pinned: PinnedVersion }> {
    try {
      return { result: await pinned.invoker.invoke(toFunctionRequest(request), withBody ? { body: true } : undefined), pinned };
    } catch (e) {
      pinned.release();
      throw e;
    }
  }

  return {
    async openRead(request, tags): Promise<OpenedRead> {
      const { result, pinned } = await invoke(request, tags);
      switch (result.kind) {
        case 'error':
          pinned.release();
          throw refusal(result);
        case 'bytes':
          // The body is already on this thread: nothing to pin.
          pinned.release();
          return { reader: memoryReader(result.body, opts.readAheadBytes), source: 'generated' };
        case 'file': {
          pinned.release();
          const reader = await opts.files.openRead({ raw: result.path, normalized: result.path });
          return { reader, source: 'folder' };
        }
        case 'stream':
          return { reader: holding(result.reader, () => pinned.release()), source: 'generated' };
        case 'object': {
          pinned.release();
          if (!opts.objects) throw functionFailed('bad-response', 's3Object() needs an object store, and none is configured');
          const opened = await opts.objects.openRead(result.ref);
          tags.cacheHit = opened.cacheHit;
          return { reader: opened.reader, source: opened.source };
        }
        case 'put':
        case 'discard':
        case 'accepted':
        case 'body':
          pinned.release();
          throw functionFailed('bad-response', `a read request cannot be answered with ${result.kind === 'put' ? 's3Put()' : `${result.kind}()`}`);
      }
    },
    // Uploads reach a function only when it opted in (writes: true) or the gateway has a write
    // root; the function then decides where the file goes, or refuses it.
    openWrite: opts.sink || opts.uploads?.enabled || opts.uploadsFor ? (request, tags) => openWrite(request, tags) : undefined,
  };

  async function openWrite(request: TftpRequest, tags: SessionTags): Promise<ByteWriter> {
    // The version that will answer decides whether uploads are on, and their limits.
    const pinned = pinFor(request, tags);
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
    const { result } = await invoke(request, tags, uploads !== undefined, pinned);
    if (result.kind === 'body') return openBody(result.upload, uploads!, request, tags, pinned);
    pinned.release();
    switch (result.kind) {
      case 'error':
        throw refusal(result);
      case 'file':
        if (!opts.sink) throw functionFailed('bad-response', 'file(path) answers a write request only when the gateway has a writeRoot; use s3Put()');
        return opts.sink.openWrite({ raw: result.path, normalized: result.path });
      case 'discard': {
        if (!uploads) break;
        const end = discardTally().acquire(slots, request.peer.address, uploads.maxPerClient);
        if (!end) throw tooManyUploads();
        tags.source = 'discard';
        return countedDiscard(end);
      }
      case 'accepted': {
        // Answered without reading a byte: the upload is received and dropped.
        if (!uploads) break;
        const end = functionTally().acquire(slots, request.peer.address, uploads.maxPerClient);
        if (!end) throw tooManyUploads();
        tags.source = 'function';
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
  }

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
