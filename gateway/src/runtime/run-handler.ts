/**
 * The one way user code is run: the worker/sandbox host (function-host.ts), the in-process
 * invoker (in-process.ts), the author harness (sdk/invoke.ts) and, through the harness,
 * `tftpfn invoke` all call {@link runHandler}, so a function behaves the same under each.
 *
 * Theory of operation. Given a loaded handler, a FunctionRequest and the env bindings:
 *  1. build `env` (vars, secrets, log, kv) and call `handle(request, env)`; a throw or a
 *     rejection is a failure of kind 'threw';
 *  2. validate what it returned (sdk responseProblem) and the limits every host enforces (a
 *     bytes() body of at most MESSAGE_LIMITS.bodyBytes); anything else is 'bad-response';
 *  3. hand back the result: bytes, error, file, object, or a stream whose chunks are checked
 *     here (Uint8Array, at most bodyBytes each: sdk streamChunks and the limit) and
 *     snapshotted: each chunk is the bytes its buffer held when it was yielded, in a buffer of
 *     its own. So an author may re-yield or refill one buffer (as `bytes()` lets the caller
 *     reuse its buffer), and the consumer may keep a chunk (a session's window) or transfer it
 *     to another thread without the author's next write reaching it. Before this, a thread
 *     worker transferred the author's buffer, so a re-yielded one arrived detached and empty
 *     (the transfer failed with a size mismatch) while `invoke` passed.
 * The declared size of a stream is checked by whoever consumes it, with {@link DeclaredSize}
 * (the gateway checks a worker's stream itself: the worker runs user code and is not trusted).
 *
 * Failures use the one vocabulary, FailureKind (errors/function-failure.ts); the wire text is
 * decided in errors/to-tftp-error.ts, never here.
 */
import type { FunctionEnv, FunctionLogger, FunctionRequest, Handler, KvBinding } from '../../../sdk/contract.js';
import { responseProblem, type Response, type StreamResponse, type TftpErrorCode } from '../../../sdk/response.js';
import { streamChunks } from '../../../sdk/stream-chunks.js';
import type { FailureKind } from '../errors/function-failure.js';
import { MESSAGE_LIMITS } from './message-check.js';

/** What `env` is built from; each host supplies its own logger and store. */
export interface EnvBindings {
  readonly vars: Readonly<Record<string, string>>;
  readonly secrets: Readonly<Record<string, string>>;
  readonly log: FunctionLogger;
  readonly kv: KvBinding;
}

/** A validated answer, in the terms every host forwards. */
export type HandlerResult =
  | { readonly kind: 'bytes'; readonly body: Uint8Array }
  | { readonly kind: 'error'; readonly code: TftpErrorCode; readonly message: string }
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'object'; readonly bucket: string; readonly key: string; readonly versionId: string | undefined }
  | { readonly kind: 'stream'; readonly size: number | undefined; readonly chunks: AsyncIterator<Uint8Array, void, undefined> }
  | { readonly kind: 'put'; readonly bucket: string; readonly key: string; readonly contentType: string | undefined }
  | { readonly kind: 'discard' }
  /** A write whose function read request.body itself (body-channel.ts). */
  | { readonly kind: 'accepted' };

export type HandlerRun =
  | { readonly ok: true; readonly response: Response; readonly result: HandlerResult }
  /** `thrown` is what user code threw (as is), or the Error saying why its answer was refused. */
  | { readonly ok: false; readonly reason: FailureKind; readonly thrown: unknown };

export interface RunOptions {
  /**
   * False when the consumer copies each chunk before the author's code runs again (the
   * sandbox pipe encodes a chunk into its frame synchronously): the snapshot is then already
   * taken and a second copy is saved. The result is the same either way.
   */
  readonly copyChunks?: boolean;
}

/**
 * The errors runHandler makes when it refuses what a handler returned (a bad Response), as
 * opposed to what user code threw: hosts that only see the error (the deploy check's smoke run,
 * through the SDK harness) tell the two apart with isRefusedAnswer.
 */
const refusedAnswers = new WeakSet<object>();

function refuse(error: Error): Error {
  refusedAnswers.add(error);
  return error;
}

/** Whether `e` is runHandler's refusal of a handler's return value, not something the handler threw. */
export function isRefusedAnswer(e: unknown): boolean {
  return typeof e === 'object' && e !== null && refusedAnswers.has(e);
}

/** Runs `handle` once: env in, a validated result (or a failure) out. Never rejects. */
export async function runHandler(handle: Handler, request: FunctionRequest, bindings: EnvBindings, opts: RunOptions = {}): Promise<HandlerRun> {
  const env: FunctionEnv = { vars: bindings.vars, secrets: bindings.secrets, log: bindings.log, kv: bindings.kv };
  let answer: unknown;
  try {
    answer = await handle(request, env);
  } catch (e) {
    return { ok: false, reason: 'threw', thrown: e };
  }
  const problem = responseProblem(answer);
  if (problem) return { ok: false, reason: 'bad-response', thrown: refuse(new TypeError(problem)) };
  const response = answer as Response;
  switch (response.kind) {
    case 'bytes':
      if (response.body.byteLength > MESSAGE_LIMITS.bodyBytes) {
        return { ok: false, reason: 'bad-response', thrown: refuse(new RangeError(`a bytes() body is at most ${MESSAGE_LIMITS.bodyBytes} bytes (got ${response.body.byteLength}); return stream() for larger content`)) };
      }
      return { ok: true, response, result: { kind: 'bytes', body: response.body } };
    case 'error':
      return { ok: true, response, result: { kind: 'error', code: response.code, message: response.message } };
    case 'file':
      return { ok: true, response, result: { kind: 'file', path: response.path } };
    case 'object':
      return { ok: true, response, result: { kind: 'object', bucket: response.bucket, key: response.key, versionId: response.versionId } };
    case 'put':
      return { ok: true, response, result: { kind: 'put', bucket: response.bucket, key: response.key, contentType: response.contentType } };
    case 'discard':
      return { ok: true, response, result: { kind: 'discard' } };
    case 'accepted':
      if (request.kind !== 'write') return { ok: false, reason: 'bad-response', thrown: refuse(new TypeError('accepted() answers a write request only')) };
      return { ok: true, response, result: { kind: 'accepted' } };
    case 'stream':
      return { ok: true, response, result: { kind: 'stream', size: response.size, chunks: checkedChunks(response.body, opts.copyChunks ?? true)[Symbol.asyncIterator]() } };
  }
}

/**
 * A stream body's chunks as every host sees them: checked by sdk streamChunks (Uint8Array
 * only, empty ones skipped), at most MESSAGE_LIMITS.bodyBytes each, and (with `copy`) each in
 * a buffer of its own holding the bytes it had when yielded. A bad chunk throws (a failure of
 * kind 'stream-threw', like a throw from the author's generator).
 */
async function* checkedChunks(body: StreamResponse['body'], copy: boolean): AsyncGenerator<Uint8Array, void, undefined> {
  for await (const chunk of streamChunks(body)) {
    if (chunk.byteLength > MESSAGE_LIMITS.bodyBytes) throw new RangeError(`a stream chunk is at most ${MESSAGE_LIMITS.bodyBytes} bytes, got ${chunk.byteLength}`);
    // slice() copies just this view's bytes (not the whole ArrayBuffer behind a subarray).
    yield copy ? chunk.slice() : chunk;
  }
}

/**
 * The declared size of a stream against what it produced: a client that asked for tsize was
 * promised exactly `size` bytes (RFC 2349), so more or fewer fails the transfer.
 */
export class DeclaredSize {
  private received = 0;

  constructor(readonly size: number | undefined) {}

  /** Counts a chunk; the problem when it takes the stream past its declared size. */
  add(bytes: number): string | undefined {
    this.received += bytes;
    return this.size !== undefined && this.received > this.size ? `stream declared size ${this.size} but produced more bytes` : undefined;
  }

  /** At the end of the stream: the problem when it produced other than its declared size. */
  end(): string | undefined {
    return this.size !== undefined && this.received !== this.size ? `stream declared size ${this.size} but produced ${this.received} bytes` : undefined;
  }
}

/** The handler a bundle exports: `handle`, a default function, or `default.handle`. */
export function exportedHandle(mod: Record<string, unknown>): Handler | undefined {
  if (typeof mod.handle === 'function') return mod.handle as Handler;
  const d = mod.default as Record<string, unknown> | ((...a: unknown[]) => unknown) | undefined;
  if (typeof d === 'function') return d as Handler;
  if (d && typeof d.handle === 'function') return d.handle as Handler;
  return undefined;
}
