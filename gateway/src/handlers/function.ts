/**
 * One named function as the gateway sees it: a RequestHandler that invokes the current
 * version and turns what it returns into a source of bytes.
 *
 *  - bytes   → served from memory (the worker is free again at once)
 *  - file    → the function's root folder, through the same traversal-safe source as folders
 *  - stream  → credit-based chunks from the worker, until the session stops reading
 *  - error   → the ERROR packet the function asked for
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
  /** Where s3Object() responses are read from; absent: such responses are a function error. */
  readonly objects?: ObjectSource;
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
  async function invoke(request: TftpRequest, tags: SessionTags): Promise<{ result: FunctionResult; pinned: PinnedVersion }> {
    tags.function = opts.name;
    const pinned = opts.pin(request);
    if (!pinned) throw functionFailed('unavailable', `function "${opts.name}" has no version loaded`);
    tags.version = pinned.version;
    try {
      return { result: await pinned.invoker.invoke(toFunctionRequest(request)), pinned };
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
      }
    },
    // Uploads reach a function only when the gateway accepts uploads at all; the function
    // then decides where the file goes (file(path), under the write root) or refuses it.
    openWrite: opts.sink
      ? async (request, tags) => {
          const sink = opts.sink!;
          const { result, pinned } = await invoke(request, tags);
          pinned.release();
          if (result.kind === 'error') throw refusal(result);
          if (result.kind !== 'file') {
            if (result.kind === 'stream') void result.reader.close();
            throw functionFailed('bad-response', `a write request must be answered with file(path) or an error, got a ${result.kind} response`);
          }
          return sink.openWrite({ raw: result.path, normalized: result.path });
        }
      : undefined,
  };
}
