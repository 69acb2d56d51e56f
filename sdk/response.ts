/**
 * What a function returns: a plain description of the bytes to send (or the error to send
 * instead), built with the helpers below. The types are in response-types.ts and the checks in
 * response-check.ts; this module re-exports both, so `tftpfn/sdk` and the runtime import one place.
 */
import { describe, encoder, filePathProblem, isErrorCode, isSize, isStreamBody, objectProblem, putProblem } from './response-check.js';
import type { AcceptedResponse, BytesResponse, DiscardResponse, ErrorResponse, FileResponse, ObjectResponse, PutResponse, StreamResponse, TftpErrorCode } from './response-types.js';

export type {
  AcceptedResponse,
  BytesResponse,
  DiscardResponse,
  ErrorResponse,
  FileResponse,
  ObjectResponse,
  PutResponse,
  Response,
  StreamResponse,
  TftpErrorCode,
} from './response-types.js';
export { isResponse, responseProblem } from './response-check.js';

/**
 * Responds with a string, UTF-8 encoded; its size is known, so it becomes tsize.
 *
 * @example
 * ```ts
 * import { text, type Handler } from 'tftpfn/sdk';
 *
 * export const handle: Handler = (request) => text(`hello ${request.peer.address}\n`);
 * ```
 */
export function text(body: string): BytesResponse {
  if (typeof body !== 'string') throw new TypeError(`text() takes a string, got ${describe(body)}`);
  const encoded = encoder.encode(body);
  return { kind: 'bytes', body: encoded, size: encoded.byteLength };
}

/**
 * Responds with bytes; their size becomes tsize. The bytes are copied, so the caller may
 * reuse its buffer and the runtime may transfer the copy to the gateway thread.
 *
 * @example
 * ```ts
 * import { bytes, type Handler } from 'tftpfn/sdk';
 *
 * export const handle: Handler = () => bytes(new Uint8Array([0x7f, 0x45, 0x4c, 0x46]));
 * ```
 */
export function bytes(body: Uint8Array): BytesResponse {
  if (!(body instanceof Uint8Array)) throw new TypeError(`bytes() takes a Uint8Array, got ${describe(body)}`);
  const copy = new Uint8Array(body);
  return { kind: 'bytes', body: copy, size: copy.byteLength };
}

/**
 * Responds with bytes produced while they are sent: an async iterable (an `async function*`,
 * a Node Readable) or a web ReadableStream, yielding Uint8Array chunks. Declare `size` when
 * it is known, so clients that ask for tsize get it; the transfer fails if the stream then
 * yields a different number of bytes.
 *
 * @example
 * ```ts
 * import { stream, type Handler } from 'tftpfn/sdk';
 *
 * async function* lines() {
 *   for (let i = 0; i < 3; i++) yield new TextEncoder().encode(`line ${i}\n`);
 * }
 * export const handle: Handler = () => stream(lines());
 * ```
 */
export function stream(
  body: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>,
  opts: { size?: number } = {},
): StreamResponse {
  if (!isStreamBody(body)) {
    throw new TypeError(`stream() takes an async iterable or a ReadableStream, got ${describe(body)}`);
  }
  const size = opts.size;
  if (size !== undefined && !isSize(size)) {
    throw new TypeError(`stream(): size must be a non-negative integer, got ${describe(size)}`);
  }
  return { kind: 'stream', body, size };
}

/**
 * Responds with a file under the function's configured root. The path is relative; an
 * absolute path, a drive letter, a backslash or a '..' segment throws a TypeError here,
 * at build time, rather than becoming an access violation on the wire.
 *
 * @example
 * ```ts
 * import { file, type Handler } from 'tftpfn/sdk';
 *
 * export const handle: Handler = (request) =>
 *   request.mac ? file(`hosts/${request.mac}/grub.cfg`) : file('grub/default.cfg');
 * ```
 */
export function file(path: string): FileResponse {
  const problem = filePathProblem(path);
  if (problem) throw new TypeError(`file(${JSON.stringify(path)}): ${problem}`);
  return { kind: 'file', path: path.split('/').filter((s) => s !== '' && s !== '.').join('/') };
}

/**
 * Responds with an object from a bucket: S3 (or any S3-compatible store) when the gateway is
 * configured with one, else the local folder standing in for it (`bucketsDir/BUCKET/KEY`).
 * The object's size becomes tsize; concurrent sessions share one upstream read; a missing key
 * is ERROR 1, a denied one ERROR 2, an unreachable bucket ERROR 0 "upstream unavailable".
 *
 * @example
 * ```ts
 * import { s3Object, type Handler } from 'tftpfn/sdk';
 *
 * export const handle: Handler = (request, env) =>
 *   s3Object({ bucket: env.vars.BUCKET ?? 'boot', key: `tftp/${request.path}` });
 * ```
 */
export function s3Object(ref: { bucket: string; key: string; versionId?: string }): ObjectResponse {
  const problem = objectProblem(ref);
  if (problem) throw new TypeError(`s3Object(): ${problem}`);
  return { kind: 'object', bucket: ref.bucket, key: ref.key, versionId: ref.versionId };
}

/**
 * Answers a write request (WRQ) by storing the upload at `bucket`/`key`: the gateway streams
 * the bytes there itself, part by part, and the object appears only once the last block has
 * arrived (the final ACK waits for the store). Only for functions with `writes: true` in their
 * config. A key that exists is refused with ERROR 6 unless the function's `allowOverwrite` is set.
 *
 * @example
 * ```ts
 * import { denied, s3Put, type Handler } from 'tftpfn/sdk';
 *
 * export const handle: Handler = (request) =>
 *   request.kind === 'write' ? s3Put({ bucket: 'dumps', key: `${request.peer.address}/${request.path}` }) : denied();
 * ```
 */
export function s3Put(ref: { bucket: string; key: string; contentType?: string }): PutResponse {
  const problem = putProblem(ref);
  if (problem) throw new TypeError(`s3Put(): ${problem}`);
  return { kind: 'put', bucket: ref.bucket, key: ref.key, contentType: ref.contentType };
}

/**
 * Answers a write request by accepting the bytes and storing nothing (a sink for probes and
 * tests). The client sees a normal, successful upload.
 *
 * @example
 * ```ts
 * import { discard, type Handler } from 'tftpfn/sdk';
 *
 * export const handle: Handler = () => discard();
 * ```
 */
export function discard(): DiscardResponse {
  return { kind: 'discard' };
}

/**
 * Answers a write request whose body the handler consumed itself (`request.body`, an async
 * iterable of the upload's bytes, netascii already translated back). The client's final ACK
 * waits for this answer; a throw or an error response instead (even after reading part of
 * the body) ends the upload with that ERROR. Returned before the body ends, the rest of the
 * upload is received and dropped. If the upload ends early (the client aborts or vanishes, or
 * it passes maxUploadBytes), request.body's iterator throws an error with
 * `code: 'TFTP_UPLOAD_ABORTED'` and a `reason`.
 *
 * @example
 * ```ts
 * import { accepted, denied, type Handler } from 'tftpfn/sdk';
 * import { createHash } from 'node:crypto';
 *
 * export const handle: Handler = async (request, env) => {
 *   if (request.kind !== 'write' || !request.body) return denied();
 *   const hash = createHash('sha256');
 *   for await (const chunk of request.body) hash.update(chunk);
 *   await env.kv.set(`sha256:${request.path}`, hash.digest('hex'));
 *   return accepted();
 * };
 * ```
 */
export function accepted(): AcceptedResponse {
  return { kind: 'accepted' };
}

/**
 * Responds with TFTP ERROR 1, "file not found".
 *
 * @example
 * ```ts
 * import { notFound, text, type Handler } from 'tftpfn/sdk';
 *
 * const configs: Record<string, string> = { 'aa:bb:cc:dd:ee:ff': 'set timeout=5\n' };
 * export const handle: Handler = (request) => {
 *   const config = request.mac && configs[request.mac];
 *   return config ? text(config) : notFound();
 * };
 * ```
 */
export function notFound(message = 'file not found'): ErrorResponse {
  return error(1, message);
}

/**
 * Responds with TFTP ERROR 2, "access violation".
 *
 * @example
 * ```ts
 * import { denied, text, type Handler } from 'tftpfn/sdk';
 *
 * export const handle: Handler = (request) =>
 *   request.peer.address.startsWith('10.') ? text('welcome\n') : denied('not on the lab network');
 * ```
 */
export function denied(message = 'access violation'): ErrorResponse {
  return error(2, message);
}

/**
 * Responds with any TFTP error code, 0 to 8, and a message that goes on the wire as it is:
 * keep paths, hosts and secrets out of it.
 *
 * @example
 * ```ts
 * import { error, type Handler } from 'tftpfn/sdk';
 *
 * // RFC 1350 code 3: the disk is full
 * export const handle: Handler = () => error(3, 'quota exceeded');
 * ```
 */
export function error(code: TftpErrorCode, message: string): ErrorResponse {
  if (!isErrorCode(code)) throw new TypeError(`error(): code must be an integer from 0 to 8, got ${describe(code)}`);
  if (typeof message !== 'string') throw new TypeError(`error(): message must be a string, got ${describe(message)}`);
  // The ERROR packet's message is NUL-terminated (RFC 1350): a NUL inside would cut it short.
  if (message.includes('\0')) throw new TypeError('error(): message must not contain NUL');
  return { kind: 'error', code, message };
}
