/**
 * The in-process harness: runs a handler the way the gateway will, without UDP or workers,
 * so function authors can unit-test with plain function calls (like hono's app.request()).
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { normalizePath } from '../gateway/src/protocol/path.js';
import { DeclaredSize, runHandler, type EnvBindings, type HandlerRun } from '../gateway/src/runtime/run-handler.js';
import { runWithLocalBody } from '../gateway/src/runtime/body-local.js';
import type { BodyUpload } from '../gateway/src/runtime/body-upload.js';
import { BODY_MESSAGE_BYTES } from '../gateway/src/runtime/body-channel.js';
import type { Endpoint, FunctionEnv, FunctionLogger, FunctionRequest, Handler } from './contract.js';
import { kvBinding } from './kv-binding.js';
import { parseMac } from './mac.js';
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

let counter = 0;

/**
 * Runs a handler once, in-process, as the gateway would: fills in the request (peer
 * 192.0.2.10:1234, local 192.0.2.1:69, octet read, no options), normalises the path and parses
 * the MAC, then calls the handler, checks what it returned and checks stream chunks with the
 * gateway's own code (gateway/src/runtime/run-handler.ts), and collects the body. A throw, a
 * rejection or an invalid return value becomes `errorCode: 0, errorMessage: 'internal error'`,
 * with the cause in `thrown` — the client never sees more.
 *
 * @example
 * ```ts
 * import { invoke, text, type Handler } from 'tftpfn/sdk';
 * import { expect, test } from 'vitest';
 *
 * const handle: Handler = (request) => text(`mac=${request.mac}\n`);
 *
 * test('hello: prints the MAC', async () => {
 *   const result = await invoke(handle, { path: 'pxelinux.cfg/01-aa-bb-cc-dd-ee-ff' });
 *   expect(result.body.toString()).toBe('mac=aa:bb:cc:dd:ee:ff\n');
 * });
 * ```
 */
export async function invoke(
  handler: Handler,
  request: InvokeRequest | string,
  env: Partial<FunctionEnv> = {},
  opts: InvokeOptions = {},
): Promise<InvokeResult> {
  const given = typeof request === 'string' ? { path: request } : request;
  const logs: LogEntry[] = [];
  const result = (fields: Partial<InvokeResult>): InvokeResult => ({
    response: undefined, request: undefined, body: Buffer.alloc(0), size: 0, tsize: undefined, logs, ...fields,
  });

  let path;
  try {
    path = normalizePath(given.path);
  } catch (e) {
    // The gateway refuses such paths before any function runs.
    const code = (e as { tftpCode?: number }).tftpCode ?? 0;
    return result({ errorCode: code as TftpErrorCode, errorMessage: (e as Error).message, thrown: e });
  }
  const full: FunctionRequest = {
    id: given.id ?? `invoke-${++counter}`,
    kind: given.kind ?? 'read',
    path: path.normalized,
    rawPath: path.raw,
    mode: given.mode ?? 'octet',
    options: { ...given.options },
    peer: endpoint(given.peer, { address: '192.0.2.10', port: 1234 }),
    local: endpoint(given.local, { address: '192.0.2.1', port: 69 }),
    mac: 'mac' in given ? given.mac : parseMac(path.normalized),
    ...writeFields(given),
  };
  const bindings: EnvBindings = {
    vars: env.vars ?? {},
    secrets: env.secrets ?? {},
    log: env.log ?? recordingLogger(logs),
    kv: env.kv ?? memoryKv(),
  };
  const internal = (thrown: unknown, fields: Partial<InvokeResult> = {}): InvokeResult =>
    result({ request: full, ...fields, errorCode: 0, errorMessage: 'internal error', thrown });

  let ran: HandlerRun;
  if (full.kind === 'write' && full.tsize !== undefined && opts.maxUploadBytes !== undefined && full.tsize > opts.maxUploadBytes) {
    // RFC 2349: the server may refuse a declared size it cannot take; the gateway does so before the function runs.
    return result({ request: full, errorCode: 3, errorMessage: 'upload too large' });
  }
  if (full.kind === 'write') {
    // As the gateway does: the handler may read the body (credit-paced, through the gateway's
    // own BodyInbox/BodyUpload) or answer without reading it (runtime/body-local.ts).
    const { body: source, ...withoutBody } = full;
    const started = await runWithLocalBody(withoutBody, (r) => runHandler(handler, r, bindings), { timeoutMs: opts.timeoutMs ?? MAX_TIMER_MS });
    if (started.kind === 'body') return feedBody(started.upload, source, opts.maxUploadBytes, full, result);
    ran = started.ran;
  } else ran = await runHandler(handler, full, bindings);
  if (!ran.ok) return internal(ran.thrown);
  const r = ran.result;
  const base = { request: full, response: ran.response };

  switch (r.kind) {
    case 'error':
      return result({ ...base, errorCode: r.code, errorMessage: r.message });
    case 'put':
    case 'discard':
    case 'accepted': {
      if (full.kind !== 'write') return internal(new Error(`a read request cannot be answered with ${r.kind === 'put' ? 's3Put()' : `${r.kind}()`}`), base);
      // The gateway would receive the bytes now; what the handler already read is gone, as on the wire.
      // Only an s3Put() keeps them (and stops past maxUploadBytes, as the gateway's upload writer does).
      const chunks: Uint8Array[] = [];
      let bytes = 0;
      if (full.body) {
        for await (const chunk of full.body) {
          if (r.kind !== 'put') continue;
          bytes += chunk.byteLength;
          if (opts.maxUploadBytes !== undefined && bytes > opts.maxUploadBytes) return result({ ...base, errorCode: 3, errorMessage: 'upload too large' });
          chunks.push(chunk);
        }
      }
      if (r.kind !== 'put') return result(base);
      return result({ ...base, stored: { bucket: r.bucket, key: r.key, contentType: r.contentType, body: Buffer.concat(chunks) } });
    }
    case 'bytes': {
      const body = Buffer.from(r.body);
      return result({ ...base, body, size: body.length, tsize: body.length });
    }
    case 'object':
    case 'file': {
      try {
        const body = await readFile(r.kind === 'file' ? join(resolve(opts.root ?? '.'), r.path) : join(resolve(opts.bucketsDir ?? 'buckets'), r.bucket, r.key));
        return result({ ...base, body, size: body.length, tsize: body.length });
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') {
          return result({ ...base, errorCode: 1, errorMessage: 'file not found', thrown: e });
        }
        if (code === 'EACCES' || code === 'EPERM') {
          return result({ ...base, errorCode: 2, errorMessage: 'access violation', thrown: e });
        }
        return internal(e, base);
      }
    }
    case 'stream': {
      // As the gateway reads it: checked, snapshotted chunks, and the declared size checked
      // as they come (a stream past its size stops at the chunk that passes it).
      const chunks: Uint8Array[] = [];
      const declared = new DeclaredSize(r.size);
      const partial = (thrown: unknown) => {
        // The client has had the bytes so far, then gets ERROR 0.
        const body = Buffer.concat(chunks);
        return internal(thrown, { ...base, body, size: body.length, tsize: r.size });
      };
      for (;;) {
        let next;
        try {
          next = await r.chunks.next();
        } catch (e) {
          return partial(e);
        }
        if (next.done) break;
        const tooLong = declared.add(next.value.byteLength);
        if (tooLong) {
          void r.chunks.return?.().catch(() => {});
          return partial(new Error(tooLong));
        }
        chunks.push(next.value);
      }
      const wrongSize = declared.end();
      if (wrongSize) return partial(new Error(wrongSize));
      const body = Buffer.concat(chunks);
      return result({ ...base, body, size: body.length, tsize: r.size });
    }
  }
}

/** setTimeout's largest delay: the harness sets no time limit unless asked to. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Feeds a write's bytes to a handler that is reading request.body, as the gateway's write
 * session does (handlers/body-writer.ts): chunk by chunk as credit allows, past
 * `maxUploadBytes` an abort ('too-large') and ERROR 3, then the end and the handler's answer.
 */
async function feedBody(
  upload: BodyUpload,
  source: AsyncIterable<Uint8Array> | undefined,
  maxUploadBytes: number | undefined,
  full: FunctionRequest,
  result: (fields: Partial<InvokeResult>) => InvokeResult,
): Promise<InvokeResult> {
  let received = 0;
  try {
    for await (const given of source ?? []) {
      // The gateway hands the body over in messages of at most BODY_MESSAGE_BYTES (DATA blocks
      // are smaller still); one larger chunk would wait for more credit than the window holds.
      for (let at = 0; at < given.byteLength; at += BODY_MESSAGE_BYTES) {
        const chunk = given.subarray(at, at + BODY_MESSAGE_BYTES);
        if (maxUploadBytes !== undefined && received + chunk.byteLength > maxUploadBytes) {
          upload.abort('too-large');
          return result({ request: full, received, errorCode: 3, errorMessage: 'upload too large' });
        }
        received += chunk.byteLength;
        await upload.write(chunk);
      }
    }
    await upload.finish();
  } catch (e) {
    // The handler answered an error (its code and text go on the wire) or failed (ERROR 0;
    // `thrown` is the failure: the kind, and the message and stack of what it threw).
    const failed = (e as { cause?: { kind?: string } }).cause?.kind !== undefined;
    const code = (e as { tftpCode?: number }).tftpCode ?? 0;
    return result({ request: full, received, errorCode: (failed ? 0 : code) as TftpErrorCode, errorMessage: failed ? 'internal error' : (e as Error).message, thrown: failed ? (e as { cause?: unknown }).cause : undefined, ...(failed ? {} : { response: { kind: 'error', code: code as TftpErrorCode, message: (e as Error).message } }) });
  }
  return result({ request: full, received, response: { kind: 'accepted' } });
}

/** A write's body (once iterable) and declared tsize (octet mode only, as the gateway does). */
function writeFields(given: InvokeRequest): { tsize?: number; body?: AsyncIterable<Uint8Array> } {
  if (given.kind !== 'write') return {};
  const declared = given.options?.tsize;
  const tsize = declared !== undefined && /^[0-9]{1,15}$/.test(declared) && (given.mode ?? 'octet') === 'octet' ? Number(declared) : undefined;
  const b = given.body;
  let body: AsyncIterable<Uint8Array> | undefined;
  if (typeof b === 'string') body = onceIterable(new TextEncoder().encode(b));
  else if (b instanceof Uint8Array) body = onceIterable(b);
  else body = b;
  return { ...(tsize !== undefined ? { tsize } : {}), ...(body ? { body } : {}) };
}

async function* onceIterable(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  if (bytes.byteLength > 0) yield bytes;
}

function endpoint(given: Partial<Endpoint> | undefined, fallback: { address: string; port: number }): Endpoint {
  const address = given?.address ?? fallback.address;
  return {
    address,
    port: given?.port ?? fallback.port,
    family: given?.family ?? (address.includes(':') ? 'IPv6' : 'IPv4'),
  };
}

function recordingLogger(logs: LogEntry[]): FunctionLogger {
  const at = (level: LogEntry['level']) =>
    ((objOrMsg: object | string, msg?: string) => {
      if (typeof objOrMsg === 'string') logs.push({ level, obj: undefined, msg: objOrMsg });
      else logs.push({ level, obj: objOrMsg, msg });
    }) as FunctionLogger['info'];
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** A fresh in-memory env.kv for one invocation; pass `env.kv` to share one between calls. */
function memoryKv() {
  const map = new Map<string, Uint8Array>();
  return kvBinding({
    get: async (k) => map.get(k),
    set: async (k, v) => void map.set(k, v),
    del: async (k) => void map.delete(k),
  });
}
