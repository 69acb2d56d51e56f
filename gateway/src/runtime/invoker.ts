/**
 * What runs a function's invocations, as the gateway sees it: a worker pool (worker-pool.ts)
 * or user code on the gateway's own thread (in-process.ts). Both run user code through
 * run-handler.ts and fail with the one vocabulary, FailureKind (errors/function-failure.ts),
 * carried as a FunctionFailure in the `cause` of the TftpError they reject with.
 */
import type { FunctionRequest } from '../../../sdk/contract.js';
import type { ByteReader } from '../sources/types.js';
import type { ObjectRef } from '../objects/object-store.js';
import type { KvOp } from './worker-protocol.js';
import type { BodyUpload } from './body-upload.js';

/** Runs invocations: a worker pool, or user code in-process (createGateway with a handle). */
export interface Invoker {
  /**
   * `opts.body`: a write whose function may read the upload itself (request.body). Such a call
   * resolves with `body` as soon as the function starts reading, before it answers.
   */
  invoke(request: FunctionRequest, opts?: InvokeOpts): Promise<FunctionResult>;
  /** Invocations dispatched and not finished (a stream counts until it ends). */
  readonly inflight: number;
  close(): Promise<void>;
}

/** What an invocation produced, in gateway terms. */
export type FunctionResult =
  | { readonly kind: 'bytes'; readonly body: Uint8Array }
  | { readonly kind: 'error'; readonly code: number; readonly message: string }
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'object'; readonly ref: ObjectRef }
  | { readonly kind: 'stream'; readonly reader: ByteReader }
  /** A write request's answer: the gateway stores the upload there itself (s3Put), or drops it (discard). */
  | { readonly kind: 'put'; readonly ref: ObjectRef; readonly contentType: string | undefined }
  | { readonly kind: 'discard' }
  /** A write the function consumed without reading the body, or after reading it, before any of it was sent. */
  | { readonly kind: 'accepted' }
  /** The function is reading the upload (request.body): feed it, then await its answer (body-upload.ts). */
  | { readonly kind: 'body'; readonly upload: BodyUpload };

export interface InvokeOpts {
  /** Give the function request.body (a write with uploads enabled). */
  readonly body?: boolean;
}

/** The gateway-side store behind a function's env.kv and cached(); never rejects. */
export type FunctionKv = (op: KvOp, key: string, value: Uint8Array | undefined, ttl: number | undefined) => Promise<Uint8Array | undefined>;

/** Told how long each invocation took to answer, and how it ended ('ok' or a FailureKind). */
export type InvocationObserver = (fn: string, seconds: number, outcome: string) => void;
