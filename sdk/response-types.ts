/**
 * The Response union: what a handler may return, one plain interface per kind, built with the
 * helpers in response.ts and checked by response-check.ts. Every kind except a stream's body
 * survives structured clone, so a response crosses worker_threads as it is; the runtime turns a
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
export type Response = BytesResponse | StreamResponse | FileResponse | ErrorResponse | ObjectResponse | PutResponse | DiscardResponse | AcceptedResponse;
