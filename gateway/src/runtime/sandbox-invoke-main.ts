/**
 * The entry of `tftpfn invoke`'s sandbox: the same sandbox as the gateway's function processes
 * (sandbox-spawn.ts: permission model, empty environment, network namespace where available,
 * lockdown.ts, the data limit), running the SDK's `invoke` harness once, so a function that
 * reads files, opens sockets or spawns programs fails under `invoke` as it fails behind the
 * gateway. One boot message in, one result message out, on fd 3 (frame-codec.ts,
 * message-codec.ts). Bundled with the harness into the sandbox folder.
 */
import { Socket } from 'node:net';
import { pathToFileURL } from 'node:url';
import { invoke, type InvokeRequest } from '../../../sdk/invoke.js';
import type { Handler } from '../../../sdk/contract.js';
import { FrameDecoder } from './frame-codec.js';
import { lockdown } from './lockdown.js';
import { decodeMessage, encodeMessageFrame } from './message-codec.js';
import { MESSAGE_LIMITS } from './message-check.js';

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

const channel = new Socket({ fd: 3, readable: true, writable: true });
const outputs = [process.stdout, process.stderr];
channel.on('error', () => process.exit(0));
const decoder = new FrameDecoder(MESSAGE_LIMITS.frameBytes);
let started = false;

function reply(msg: InvokeReply): void {
  channel.write(encodeMessageFrame(msg));
}

const describe = (e: unknown) => (e instanceof Error && e.stack) || String(e);

async function run(boot: InvokeBoot): Promise<void> {
  lockdown([channel, ...outputs]);
  process.setSourceMapsEnabled(true);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(boot.bundlePath).href)) as Record<string, unknown>;
  } catch (e) {
    return reply({ t: 'loadError', message: `importing it threw: ${describe(e)}` });
  }
  const d = mod.default as Record<string, unknown> | ((...a: unknown[]) => unknown) | undefined;
  const handle = (typeof mod.handle === 'function' ? mod.handle : typeof d === 'function' ? d : d && typeof d.handle === 'function' ? d.handle : undefined) as Handler | undefined;
  if (!handle) return reply({ t: 'loadError', message: 'the module exports no handle function (export const handle = ...)' });
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
  reply({
    t: 'result',
    outcome: { kind: r.response ? r.response.kind : 'none', tsize: r.tsize, size: r.size, errorCode: r.errorCode, errorMessage: r.errorMessage, thrown: r.thrown === undefined ? undefined : describe(r.thrown), logs },
    body: new Uint8Array(r.body),
  });
}

channel.on('data', (chunk: Buffer) => {
  decoder.push(chunk);
  const frame = decoder.next();
  if (!frame || started) return;
  started = true;
  void run(decodeMessage(frame) as InvokeBoot);
});
