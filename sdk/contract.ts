/**
 * The contract between the gateway and a function: what a handler is given and what it returns.
 */
import type { Response } from './response.js';

/**
 * One end of the UDP conversation.
 *
 * @example
 * ```ts
 * import type { Endpoint } from 'tftpfn/sdk';
 *
 * const isV6 = (e: Endpoint) => e.family === 'IPv6';
 * ```
 */
export interface Endpoint {
  readonly address: string;
  readonly port: number;
  readonly family: 'IPv4' | 'IPv6';
}

/**
 * One TFTP request as a function sees it.
 *
 * @example
 * ```ts
 * import { text, type FunctionRequest } from 'tftpfn/sdk';
 *
 * function describe(request: FunctionRequest) {
 *   // path 'pxelinux.cfg/01-aa-bb-cc-dd-ee-ff', rawPath '/pxelinux.cfg/01-aa-bb-cc-dd-ee-ff'
 *   return text(`${request.kind} ${request.path} from ${request.peer.address} mac=${request.mac ?? '-'}\n`);
 * }
 * ```
 */
export interface FunctionRequest {
  /** Unique per request; the same id tags the log lines and the stats record. */
  readonly id: string;
  /** 'read' for an RRQ, 'write' for a WRQ. */
  readonly kind: 'read' | 'write';
  /** Normalised: relative, '/'-separated, no '.', '..' or empty segments (never ''). */
  readonly path: string;
  /** Exactly the filename the client sent. */
  readonly rawPath: string;
  readonly mode: 'octet' | 'netascii';
  /** The options the client asked for (names lower-cased, values as sent): blksize, tsize... */
  readonly options: Readonly<Record<string, string>>;
  readonly peer: Endpoint;
  /** The local address and port the request arrived on. */
  readonly local: Endpoint;
  /** The MAC address the path carries (see parseMac), lower-case 'aa:bb:cc:dd:ee:ff'. */
  readonly mac: string | undefined;
  /**
   * For a write: the size the client declared with the tsize option (RFC 2349), when it sent
   * one (octet mode only: netascii changes the length). Undefined for reads.
   */
  readonly tsize?: number;
  /**
   * For a write: the incoming bytes, an async iterable of chunks (readable once; netascii
   * already translated back). Read it and answer accepted() to consume the upload yourself;
   * or answer s3Put() / discard() without reading it and the gateway receives the bytes
   * itself. The gateway sends chunks only as fast as the function reads them. When the upload
   * ends early, the iterator throws an error with `code: 'TFTP_UPLOAD_ABORTED'` and `reason`
   * ('client-abort', 'timeout', 'too-slow', 'too-large', 'shutdown'). See docs/UPLOADS.md.
   */
  readonly body?: AsyncIterable<Uint8Array>;
}

/**
 * One pino-style log method: `log.info('msg')` or `log.info({ field }, 'msg')`.
 *
 * @example
 * ```ts
 * import type { LogFn } from 'tftpfn/sdk';
 *
 * const say: LogFn = (objOrMsg: object | string, msg?: string) => console.log(objOrMsg, msg);
 * ```
 */
export interface LogFn {
  (msg: string): void;
  (obj: object, msg?: string): void;
}

/**
 * The logger a function gets: pino-compatible, already tagged with the request id.
 *
 * @example
 * ```ts
 * import type { FunctionLogger } from 'tftpfn/sdk';
 *
 * function audit(log: FunctionLogger, mac: string) {
 *   log.info({ mac }, 'config served');
 * }
 * ```
 */
export interface FunctionLogger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
}

/**
 * What a function is configured with. Variables and secrets are kept apart: the runtime
 * never logs `secrets`, and neither should the function.
 *
 * @example
 * ```ts
 * import { text, type Handler } from 'tftpfn/sdk';
 *
 * export const handle: Handler = (request, env) => {
 *   env.log.info({ file: request.path }, 'rendering');
 *   return text(`server=${env.vars.NEXT_SERVER}\ntoken=${env.secrets.BOOT_TOKEN}\n`);
 * };
 * ```
 */
export interface FunctionEnv {
  readonly vars: Readonly<Record<string, string>>;
  readonly secrets: Readonly<Record<string, string>>;
  readonly log: FunctionLogger;
  /** The shared key-value store (Redis across the fleet; in memory in the embedded default). */
  readonly kv: KvBinding;
}

/**
 * The key-value store a function reads inventories from (MAC → machine profile, ...): Redis
 * when the gateway has one, shared by every gateway and function; an in-memory map otherwise.
 * Keys live in their own namespace (`kv:`), apart from the gateway's caches. When the store is
 * unreachable, reads resolve undefined and writes are dropped: they never throw for that.
 *
 * @example
 * ```ts
 * import { notFound, text, type Handler } from 'tftpfn/sdk';
 *
 * export const handle: Handler = async (request, env) => {
 *   const profile = await env.kv.getJson<{ kernel: string }>(`machine:${request.mac}`);
 *   return profile ? text(`kernel ${profile.kernel}\n`) : notFound();
 * };
 * ```
 */
export interface KvBinding {
  /** The value as UTF-8 text, or undefined when absent. */
  get(key: string): Promise<string | undefined>;
  getBytes(key: string): Promise<Uint8Array | undefined>;
  /** The value parsed as JSON; undefined when absent (a value that is not JSON throws). */
  getJson<T = unknown>(key: string): Promise<T | undefined>;
  /** Text and bytes are stored as they are, anything else as JSON. `ttl` in seconds. */
  set(key: string, value: string | Uint8Array | object | number | boolean, opts?: { ttl?: number }): Promise<void>;
  delete(key: string): Promise<void>;
}

/**
 * A function: what a module exports as `handle`. Return a {@link Response}; to refuse, return
 * notFound(), denied() or error(). A throw or a rejection becomes ERROR 0 "internal error" on
 * the wire, with the details in the logs only.
 *
 * @example
 * ```ts
 * import { text, type Handler } from 'tftpfn/sdk';
 *
 * export const handle: Handler = async (request) => text(`you asked for ${request.path}\n`);
 * ```
 */
export type Handler = (request: FunctionRequest, env: FunctionEnv) => Promise<Response> | Response;
