/**
 * What is wrong with a value offered as a Response: `responseProblem` (and `isResponse`) for
 * whatever a handler returned, and the field checks the helpers in response.ts throw with, so a
 * helper and the runtime refuse exactly the same values with the same words. Only
 * `responseProblem` and `isResponse` are on the `tftpfn/sdk` index; the field checks are the
 * helpers' own.
 */
import type { Response, TftpErrorCode } from './response-types.js';

/** UTF-8, for byte lengths (an object key's 1024-byte limit) and text(). */
export const encoder = new TextEncoder();

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

/** s3Put()'s ref: an object ref plus an optional contentType. */
export function putProblem(r: { bucket?: unknown; key?: unknown; contentType?: unknown } | null | undefined): string | undefined {
  const problem = objectProblem(r);
  if (problem) return problem;
  const c = (r as { contentType?: unknown }).contentType;
  // A header value: printable ASCII only, so nothing can be smuggled into the request.
  if (c !== undefined && (typeof c !== 'string' || !/^[\x20-\x7e]{1,255}$/.test(c))) return `contentType must be printable ASCII (1-255 characters), got ${describe(c)}`;
  return undefined;
}

/** s3Object()'s ref: a bucket name, a key and an optional versionId, as S3 allows them. */
export function objectProblem(r: { bucket?: unknown; key?: unknown; versionId?: unknown } | null | undefined): string | undefined {
  if (r === null || typeof r !== 'object') return `give { bucket, key }, got ${describe(r)}`;
  // S3's own bucket naming rules (3-63 characters; lower case, digits, dots, hyphens).
  if (typeof r.bucket !== 'string' || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(r.bucket)) return `bucket must be a valid bucket name, got ${describe(r.bucket)}`;
  if (typeof r.key !== 'string' || r.key === '' || encoder.encode(r.key).byteLength > 1024) return `key must be a non-empty string of at most 1024 bytes, got ${describe(r.key)}`;
  if (r.key.split('/').some((s) => s === '..')) return `key must not contain a ".." segment, got ${describe(r.key)}`;
  if (r.versionId !== undefined && (typeof r.versionId !== 'string' || r.versionId === '')) return `versionId must be a non-empty string, got ${describe(r.versionId)}`;
  return undefined;
}

/** file()'s path: relative, '/'-separated, no NUL and no '..' segment. */
export function filePathProblem(path: unknown): string | undefined {
  if (typeof path !== 'string') return `path must be a string, got ${describe(path)}`;
  if (path === '' || path.split('/').every((s) => s === '' || s === '.')) return 'path is empty';
  if (path.startsWith('/')) return 'path must be relative to the function root, not absolute';
  if (/^[a-zA-Z]:/.test(path)) return 'path must not start with a drive letter';
  if (path.includes('\\')) return 'path must use "/" separators, not "\\"';
  if (path.includes('\0')) return 'path must not contain NUL';
  if (path.split('/').includes('..')) return 'path must not contain ".." segments';
  return undefined;
}

/** What stream() takes: an async iterable or a web ReadableStream. */
export function isStreamBody(x: unknown): x is AsyncIterable<Uint8Array> | ReadableStream<Uint8Array> {
  if (x === null || (typeof x !== 'object' && typeof x !== 'function')) return false;
  const o = x as Record<PropertyKey, unknown>;
  return typeof o[Symbol.asyncIterator] === 'function' || typeof o.getReader === 'function';
}

/** A byte count: a non-negative safe integer. */
export function isSize(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

/** A TFTP error code, 0 to 8. */
export function isErrorCode(x: unknown): x is TftpErrorCode {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= 8;
}

/** A value named for an error message, without echoing its contents (a string stays "a string"). */
export function describe(x: unknown): string {
  if (x === null) return 'null';
  if (typeof x === 'string') return `a string`;
  if (typeof x === 'number' || typeof x === 'boolean' || x === undefined) return String(x);
  if (typeof x === 'object') return `${(x as object).constructor?.name ?? 'an object'}`;
  return typeof x;
}
