/**
 * What a function returns: a plain description of the bytes to send (or the error to send
 * instead), built with the helpers below. Every kind except a stream's body survives
 * structured clone, so a response crosses worker_threads as it is; the runtime turns a
 * stream's body into chunks (see `streamChunks`) and sends those.
 */

/**
 * A TFTP error code (RFC 1350 section 5; 8 is RFC 2347 option refusal).
 *
 * @example
 * ```ts
 * const code: TftpErrorCode = 1; // file not found
 * error(code, 'no such machine');
 * ```
 */
export type TftpErrorCode = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8;

/**
 * Bytes known up front; `size` (= `body.byteLength`) becomes tsize. Built by text() and bytes().
 *
 * @example
 * ```ts
 * const r: BytesResponse = text('hi'); // { kind: 'bytes', body: Uint8Array [104, 105], size: 2 }
 * ```
 */
export interface BytesResponse {
  readonly kind: 'bytes';
  readonly body: Uint8Array;
  readonly size: number;
}

/**
 * Bytes produced as they are sent; `size`, when declared, becomes tsize and must be exact.
 * Built by stream().
 *
 * @example
 * ```ts
 * const r: StreamResponse = stream(ReadableStream.from([new Uint8Array(512)]), { size: 512 });
 * ```
 */
export interface StreamResponse {
  readonly kind: 'stream';
  readonly body: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>;
  readonly size: number | undefined;
}

/**
 * A file under the function's configured root; `path` is relative and '/'-separated.
 * Built by file().
 *
 * @example
 * ```ts
 * const r: FileResponse = file('./boot//vmlinuz'); // { kind: 'file', path: 'boot/vmlinuz' }
 * ```
 */
export interface FileResponse {
  readonly kind: 'file';
  readonly path: string;
}

/**
 * An ERROR packet instead of data; `message` goes on the wire as it is. Built by notFound(),
 * denied() and error().
 *
 * @example
 * ```ts
 * const r: ErrorResponse = denied(); // { kind: 'error', code: 2, message: 'access violation' }
 * ```
 */
export interface ErrorResponse {
  readonly kind: 'error';
  readonly code: TftpErrorCode;
  readonly message: string;
}

/**
 * Everything a handler may return. Build one with {@link text}, {@link bytes},
 * {@link stream}, {@link file}, {@link notFound}, {@link denied} or {@link error}.
 *
 * @example
 * ```ts
 * import { text, notFound, type Response } from 'tftpfn/sdk';
 *
 * function pick(found: string | undefined): Response {
 *   return found === undefined ? notFound() : text(found);
 * }
 * ```
 */
/**
 * An object in a bucket (S3, or the local folder standing in for one), streamed to the client
 * as it is read and shared with every other session reading it. Built by s3Object().
 *
 * @example
 * ```ts
 * const r: ObjectResponse = s3Object({ bucket: 'boot', key: 'fedora-40/vmlinuz' });
 * ```
 */
export interface ObjectResponse {
  readonly kind: 'object';
  readonly bucket: string;
  readonly key: string;
  readonly versionId: string | undefined;
}

/**
 * The answer to a write request: the gateway streams the upload into this object itself
 * (a multipart upload, completed on the last block; nothing is left when it fails). Built by
 * s3Put().
 *
 * @example
 * ```ts
 * const r: PutResponse = s3Put({ bucket: 'backups', key: 'sw1/running-config' });
 * ```
 */
export interface PutResponse {
  readonly kind: 'put';
  readonly bucket: string;
  readonly key: string;
  readonly contentType: string | undefined;
}

/**
 * The answer to a write request: accept the bytes and throw them away. Built by discard().
 *
 * @example
 * ```ts
 * const r: DiscardResponse = discard(); // { kind: 'discard' }
 * ```
 */
export interface DiscardResponse {
  readonly kind: 'discard';
}

/**
 * The answer to a write request whose function read the upload itself from `request.body`:
 * the client gets its final ACK only once the handler has resolved with this. Built by
 * accepted().
 *
 * @example
 * ```ts
 * const r: AcceptedResponse = accepted(); // { kind: 'accepted' }
 * ```
 */
export interface AcceptedResponse {
  readonly kind: 'accepted';
}

export type Response = BytesResponse | StreamResponse | FileResponse | ErrorResponse | ObjectResponse | PutResponse | DiscardResponse | AcceptedResponse;

const encoder = new TextEncoder();

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

function putProblem(r: { bucket?: unknown; key?: unknown; contentType?: unknown } | null | undefined): string | undefined {
  const problem = objectProblem(r);
  if (problem) return problem;
  const c = (r as { contentType?: unknown }).contentType;
  // A header value: printable ASCII only, so nothing can be smuggled into the request.
  if (c !== undefined && (typeof c !== 'string' || !/^[\x20-\x7e]{1,255}$/.test(c))) return `contentType must be printable ASCII (1-255 characters), got ${describe(c)}`;
  return undefined;
}

function objectProblem(r: { bucket?: unknown; key?: unknown; versionId?: unknown } | null | undefined): string | undefined {
  if (r === null || typeof r !== 'object') return `give { bucket, key }, got ${describe(r)}`;
  // S3's own bucket naming rules (3-63 characters; lower case, digits, dots, hyphens).
  if (typeof r.bucket !== 'string' || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(r.bucket)) return `bucket must be a valid bucket name, got ${describe(r.bucket)}`;
  if (typeof r.key !== 'string' || r.key === '' || encoder.encode(r.key).byteLength > 1024) return `key must be a non-empty string of at most 1024 bytes, got ${describe(r.key)}`;
  if (r.key.split('/').some((s) => s === '..')) return `key must not contain a ".." segment, got ${describe(r.key)}`;
  if (r.versionId !== undefined && (typeof r.versionId !== 'string' || r.versionId === '')) return `versionId must be a non-empty string, got ${describe(r.versionId)}`;
  return undefined;
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

/**
 * Says what is wrong with a value a handler returned, or undefined when it is a valid
 * {@link Response}. The runtime puts this reason in its log line when user code returns
 * something else (a string, a Buffer, undefined, a hand-built object with a bad field).
 *
 * @example
 * ```ts
 * import { responseProblem, text } from 'tftpfn/sdk';
 *
 * responseProblem(text('ok'));  // undefined
 * responseProblem('ok');        // 'a handler must return a Response built with the sdk helpers ...'
 * ```
 */
export function responseProblem(x: unknown): string | undefined {
  const hint = 'a handler must return a Response built with the sdk helpers (text, bytes, stream, file, s3Object, s3Put, discard, accepted, notFound, denied, error)';
  if (x === null || typeof x !== 'object') return `${hint}, got ${describe(x)}`;
  const r = x as Record<string, unknown>;
  switch (r.kind) {
    case 'bytes':
      if (!(r.body instanceof Uint8Array)) return `bytes response: body must be a Uint8Array, got ${describe(r.body)}`;
      if (r.size !== r.body.byteLength) return `bytes response: size ${describe(r.size)} does not match body length ${r.body.byteLength}`;
      return undefined;
    case 'stream':
      if (!isStreamBody(r.body)) return `stream response: body must be an async iterable or a ReadableStream, got ${describe(r.body)}`;
      if (r.size !== undefined && !isSize(r.size)) return `stream response: size must be a non-negative integer or undefined, got ${describe(r.size)}`;
      return undefined;
    case 'file': {
      if (typeof r.path !== 'string') return `file response: path must be a string, got ${describe(r.path)}`;
      const problem = filePathProblem(r.path);
      return problem ? `file response: ${problem}` : undefined;
    }
    case 'object': {
      const problem = objectProblem(r);
      return problem ? `object response: ${problem}` : undefined;
    }
    case 'put': {
      const problem = putProblem(r);
      return problem ? `put response: ${problem}` : undefined;
    }
    case 'discard':
    case 'accepted':
      return undefined;
    case 'error':
      if (!isErrorCode(r.code)) return `error response: code must be an integer from 0 to 8, got ${describe(r.code)}`;
      if (typeof r.message !== 'string' || r.message.includes('\0')) return `error response: message must be a string without NUL`;
      return undefined;
    default:
      return `${hint}, got an object with kind ${describe(r.kind)}`;
  }
}

/**
 * True when a value is a valid {@link Response}; see {@link responseProblem} for the reason
 * when it is not.
 *
 * @example
 * ```ts
 * import { isResponse, notFound } from 'tftpfn/sdk';
 *
 * isResponse(notFound());        // true
 * isResponse({ kind: 'bytes' }); // false
 * ```
 */
export function isResponse(x: unknown): x is Response {
  return responseProblem(x) === undefined;
}

function filePathProblem(path: unknown): string | undefined {
  if (typeof path !== 'string') return `path must be a string, got ${describe(path)}`;
  if (path === '' || path.split('/').every((s) => s === '' || s === '.')) return 'path is empty';
  if (path.startsWith('/')) return 'path must be relative to the function root, not absolute';
  if (/^[a-zA-Z]:/.test(path)) return 'path must not start with a drive letter';
  if (path.includes('\\')) return 'path must use "/" separators, not "\\"';
  if (path.includes('\0')) return 'path must not contain NUL';
  if (path.split('/').includes('..')) return 'path must not contain ".." segments';
  return undefined;
}

function isStreamBody(x: unknown): x is AsyncIterable<Uint8Array> | ReadableStream<Uint8Array> {
  if (x === null || (typeof x !== 'object' && typeof x !== 'function')) return false;
  const o = x as Record<PropertyKey, unknown>;
  return typeof o[Symbol.asyncIterator] === 'function' || typeof o.getReader === 'function';
}

function isSize(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

function isErrorCode(x: unknown): x is TftpErrorCode {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= 8;
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (typeof x === 'string') return `a string`;
  if (typeof x === 'number' || typeof x === 'boolean' || x === undefined) return String(x);
  if (typeof x === 'object') return `${(x as object).constructor?.name ?? 'an object'}`;
  return typeof x;
}
