/**
 * `tftpfn invoke`'s one run, wherever it happens (the sandbox: sandbox-invoke-main.ts; a worker
 * thread with --isolation thread: invoke-thread-main.ts): import the bundle, find its handler
 * as the gateway does (run-handler.ts exportedHandle), run it once through the SDK harness
 * (which runs it with run-handler.ts like the gateway) and answer with plain data.
 *
 * A write's body is a file the CLI names (`--body`; stdin is copied to a temporary file
 * first): it is read here in chunks of the gateway's body message size (BODY_MESSAGE_BYTES,
 * runtime/body-channel.ts), and fed through the harness as the gateway's write session feeds
 * the function (sdk/invoke-upload.ts feedBody).
 */
import { createReadStream } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { invoke, type InvokeRequest } from '../../../sdk/invoke.js';
import { exportedHandle, isRefusedAnswer } from './run-handler.js';
import { BODY_MESSAGE_BYTES } from './body-channel.js';

/** What the CLI sends. */
export interface InvokeBoot {
  readonly t: 'boot';
  readonly bundlePath: string;
  readonly request: InvokeRequest;
  readonly env: { vars: Record<string, string>; secrets: Record<string, string> };
  readonly root: string;
  readonly bucketsDir: string;
  /** For a write: the file holding the bytes the client uploads (none: an empty upload). */
  readonly bodyPath?: string;
  /** For a write: the route's maxUploadBytes (a larger declared tsize, or more bytes: ERROR 3). */
  readonly maxUploadBytes?: number;
}

/** What comes back: a result (the body as the message's byte field) or a load error. */
export type InvokeReply =
  | { readonly t: 'result'; readonly outcome: InvokeOutcome; readonly body: Uint8Array }
  | { readonly t: 'loadError'; readonly message: string };

export interface InvokeOutcome {
  kind: string;
  tsize: number | undefined;
  size: number;
  errorCode?: number;
  errorMessage?: string;
  thrown?: string;
  /** The handler returned something the gateway refuses (not a Response, or a bad one): why. */
  refused?: string;
  logs: string[];
  /** A write read by the handler: the bytes it was handed. */
  received?: number;
  /** A write answered with s3Put(): where the gateway would store it, and how many bytes. */
  stored?: { bucket: string; key: string; contentType?: string; size: number };
}


const describe = (e: unknown) => (e instanceof Error && e.stack) || String(e);

export async function invokeOnce(boot: InvokeBoot): Promise<InvokeReply> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(boot.bundlePath).href)) as Record<string, unknown>;
  } catch (e) {
    return { t: 'loadError', message: `importing it threw: ${describe(e)}` };
  }
  const handle = exportedHandle(mod);
  if (!handle) return { t: 'loadError', message: 'the module exports no handle function (export const handle = ...)' };
  const request = boot.request.kind === 'write' ? { ...boot.request, body: boot.bodyPath === undefined ? new Uint8Array(0) : createReadStream(boot.bodyPath, { highWaterMark: BODY_MESSAGE_BYTES }) } : boot.request;
  const r = await invoke(handle, request, boot.env, { root: boot.root, bucketsDir: boot.bucketsDir, maxUploadBytes: boot.maxUploadBytes });
  const logs = r.logs.map((l) => {
    let obj = '';
    if (l.obj !== undefined) {
      try {
        obj = ` ${JSON.stringify(l.obj)}`;
      } catch {
        obj = ' [unserialisable object]';
      }
    }
    return `[${l.level}] ${l.msg ?? ''}${obj}`;
  });
  return {
    t: 'result',
    outcome: {
      kind: r.response ? r.response.kind : 'none',
      tsize: r.tsize,
      size: r.size,
      errorCode: r.errorCode,
      errorMessage: r.errorMessage,
      thrown: r.thrown === undefined ? undefined : describe(r.thrown),
      ...(isRefusedAnswer(r.thrown) ? { refused: (r.thrown as Error).message } : {}),
      logs,
      ...(r.received !== undefined ? { received: r.received } : {}),
      ...(r.stored ? { stored: { bucket: r.stored.bucket, key: r.stored.key, ...(r.stored.contentType !== undefined ? { contentType: r.stored.contentType } : {}), size: r.stored.body.length } } : {}),
    },
    body: new Uint8Array(r.body),
  };
}
