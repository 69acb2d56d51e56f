/**
 * One named function as the gateway sees it: a RequestHandler that invokes the current
 * version and turns what it returns into a source of bytes.
 *
 *  - bytes   → served from memory (the worker is free again at once)
 *  - file    → the function's root folder, through the same traversal-safe source as folders
 *  - stream  → credit-based chunks from the worker, until the session stops reading
 *  - error   → the ERROR packet the function asked for
 *
 * A write request (WRQ) is answered by function-write.ts (uploads: s3Put(), discard(),
 * accepted(), file(path) under a writeRoot); pinning and invoking the version, and the
 * request the function sees, are function-call.ts.
 *
 * A version is held from invocation until the session is done with it, so a hot reload
 * never pulls a worker out from under a transfer.
 */
import type { RequestHandler, TftpRequest } from './request.js';
import type { LocalDirSource } from '../sources/local-dir.js';
import { memoryReader } from '../sources/memory.js';
import type { ByteReader, OpenedRead } from '../sources/types.js';
import { functionFailed } from '../runtime/function-failure.js';
import { functionCaller, refusal, type PinnedVersion } from './function-call.js';
import { functionWriteOpener, type FunctionWriteOptions } from './function-write.js';

export type { PinnedVersion } from './function-call.js';
export type { FunctionUploadOptions } from './function-write.js';

export interface FunctionHandlerOptions extends FunctionWriteOptions {
  readonly name: string;
  /**
   * Pins the version serving this new request; undefined while none is loaded. The request is
   * handed over so that, while a canary splits a function's clients, the runtime picks the side
   * by the client's identity (the MAC in the path, else the peer IP: runtime/canary-pick.ts).
   */
  pin(request: TftpRequest): PinnedVersion | undefined;
  /** Where file() responses are read from. */
  readonly files: LocalDirSource;
  readonly readAheadBytes: number;
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

export function functionHandler(opts: FunctionHandlerOptions): RequestHandler {
  const call = functionCaller(opts.name, (request) => opts.pin(request));
  const openWrite = functionWriteOpener(opts, call);

  return {
    async openRead(request, tags): Promise<OpenedRead> {
      const { result, pinned } = await call.invoke(request, tags);
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
}
