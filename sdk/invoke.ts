/**
 * The in-process harness: runs a handler the way the gateway will, without UDP or workers,
 * so function authors can unit-test with plain function calls (like hono's app.request()).
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { normalizePath } from '../gateway/src/protocol/path.js';
import { DeclaredSize, runHandler, type HandlerRun } from '../gateway/src/runtime/run-handler.js';
import { runWithLocalBody } from '../gateway/src/runtime/body-local.js';
import type { FunctionEnv, Handler } from './contract.js';
import type { InvokeOptions, InvokeRequest, InvokeResult, LogEntry } from './invoke-types.js';
import { harnessBindings, harnessRequest } from './invoke-request.js';
import { feedBody, takeUpload } from './invoke-upload.js';
import type { TftpErrorCode } from './response.js';

export type { InvokeOptions, InvokeRequest, InvokeResult, LogEntry } from './invoke-types.js';

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
  const full = harnessRequest(given, path);
  const bindings = harnessBindings(env, logs);
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
      return result({ ...base, ...(await takeUpload(r, full.body, opts.maxUploadBytes)) });
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

/**
 * setTimeout's largest delay (2 ** 31 - 1): the harness sets no time limit unless asked to.
 * A literal, so a function's bundle that never calls invoke() drops it (esbuild keeps `2 ** 31 - 1`).
 */
const MAX_TIMER_MS = 2_147_483_647;
