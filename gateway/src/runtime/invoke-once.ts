/**
 * `tftpfn invoke`'s one run, wherever it happens (the sandbox: sandbox-invoke-main.ts; a worker
 * thread with --isolation thread: invoke-thread-main.ts): import the bundle, find its handler
 * as the gateway does (run-handler.ts exportedHandle), run it once through the SDK harness
 * (which runs it with run-handler.ts like the gateway) and answer with plain data.
 */
import { pathToFileURL } from 'node:url';
import { invoke, type InvokeRequest } from '../../../sdk/invoke.js';
import { exportedHandle } from './run-handler.js';

/** What the CLI sends. */
export interface InvokeBoot {
  readonly t: 'boot';
  readonly bundlePath: string;
  readonly request: InvokeRequest;
  readonly env: { vars: Record<string, string>; secrets: Record<string, string> };
  readonly root: string;
  readonly bucketsDir: string;
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
  logs: string[];
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
  const r = await invoke(handle, boot.request, boot.env, { root: boot.root, bucketsDir: boot.bucketsDir });
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
    outcome: { kind: r.response ? r.response.kind : 'none', tsize: r.tsize, size: r.size, errorCode: r.errorCode, errorMessage: r.errorMessage, thrown: r.thrown === undefined ? undefined : describe(r.thrown), logs },
    body: new Uint8Array(r.body),
  };
}
