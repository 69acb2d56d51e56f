/**
 * The harness's public types: what a test gives {@link invoke} (request, knobs) and what it gets
 * back (the result, the log lines). Re-exported by invoke.ts and `tftpfn/sdk`.
 */
import type { Endpoint, FunctionRequest } from './contract.js';
import type { Response, TftpErrorCode } from './response.js';

/**
 * The request fields a test gives {@link invoke}; everything else gets a default.
 *
 * @example
 * ```ts
 * await invoke(handle, { path: '/pxelinux.cfg/default', peer: { address: '10.0.0.7' }, options: { tsize: '0' } });
 * ```
 */
export interface InvokeRequest {
  /** The raw path, as a client would send it; it is normalised as the gateway does. */
  path: string;
  kind?: 'read' | 'write';
  mode?: 'octet' | 'netascii';
  options?: Record<string, string>;
  peer?: Partial<Endpoint>;
  local?: Partial<Endpoint>;
  id?: string;
  /** Overrides the MAC parsed from the path. */
  mac?: string;
  /**
   * For a write (`kind: 'write'`): the bytes the client uploads, handed to the handler as
   * `request.body` at the pace it reads them (as the gateway does); with accepted() the result
   * says how many it was handed (`received`); with s3Put() or discard() they are consumed as
   * the gateway would and an s3Put's bytes are returned in `stored`.
   */
  body?: Uint8Array | string | AsyncIterable<Uint8Array>;
}

/**
 * Knobs for {@link invoke} that are not part of the request or the env.
 *
 * @example
 * ```ts
 * await invoke(() => file('boot/grub.cfg'), 'grub.cfg', {}, { root: 'test/fixtures/tftproot' });
 * ```
 */
export interface InvokeOptions {
  /** Where file() responses are read from; defaults to the current directory. */
  root?: string;
  /** Where s3Object() responses are read from, as the gateway's local stand-in does: DIR/BUCKET/KEY. Default ./buckets. */
  bucketsDir?: string;
  /**
   * For a write: the route's maxUploadBytes. As the gateway does, a declared tsize above it is
   * ERROR 3 before the handler runs; past it a handler reading request.body sees it throw
   * ('too-large'), an s3Put() upload is aborted, and the result is ERROR 3 "upload too large".
   */
  maxUploadBytes?: number;
  /** For a write read by the handler: how long it may take to answer once the body has ended (default: no limit). */
  timeoutMs?: number;
}

/**
 * One line the handler logged through `env.log`, as {@link invoke} records it.
 *
 * @example
 * ```ts
 * const { logs } = await invoke((r, env) => (env.log.info({ mac: r.mac }, 'hit'), text('')), 'x');
 * // logs: [{ level: 'info', obj: { mac: undefined }, msg: 'hit' }]
 * ```
 */
export interface LogEntry {
  level: 'debug' | 'info' | 'warn' | 'error';
  obj: object | undefined;
  msg: string | undefined;
}

/**
 * What {@link invoke} observed: the response, the bytes a client would receive, or the error.
 *
 * @example
 * ```ts
 * const result = await invoke(() => notFound(), 'x');
 * // result.errorCode 1, result.errorMessage 'file not found', result.size 0
 * ```
 */
export interface InvokeResult {
  /** What the handler returned; undefined when it threw, or the request never reached it. */
  response: Response | undefined;
  /** The request the handler was given (after defaults and normalising). */
  request: FunctionRequest | undefined;
  /** The bytes a client would receive: the body of a bytes, stream or file response. */
  body: Buffer;
  /** body.length */
  size: number;
  /** The size announced as tsize: declared by bytes and file always, by stream when given. */
  tsize: number | undefined;
  /** Set when the client would get an ERROR packet instead of (the rest of) the data. */
  errorCode?: TftpErrorCode;
  errorMessage?: string;
  /** What user code threw, or the reason its return value or stream was rejected. */
  thrown?: unknown;
  /** Lines logged through env.log (when the test did not pass its own logger). */
  logs: LogEntry[];
  /** For a write whose handler read request.body: the bytes handed to it before it answered (or the upload ended). */
  received?: number;
  /** For a write answered with s3Put(): where the gateway would store the upload, and its bytes. */
  stored?: { bucket: string; key: string; contentType: string | undefined; body: Buffer };
}
