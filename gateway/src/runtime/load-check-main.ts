/**
 * The entry of `tftpfn deploy`'s check (load-check.ts), in a worker thread: import the bundle
 * and find its handler exactly as the gateway does (run-handler.ts exportedHandle), calling
 * nothing; with a smoke path, then run it once through invoke-once.ts (the SDK harness, which
 * the gateway's hosts share). One boot in workerData, one reply message out.
 */
import { pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';
import { invokeOnce } from './invoke-once.js';
import type { LoadCheckBoot, LoadCheckReply } from './load-check.js';
import { exportedHandle } from './run-handler.js';

/** The error and the author's frames; the loader's and this file's own frames say nothing to them. */
const describe = (e: unknown) =>
  ((e instanceof Error && e.stack) || String(e))
    .split('\n')
    .filter((l) => !/\(?node:internal\/|load-check-main\.js/.test(l))
    .join('\n');

async function check(boot: LoadCheckBoot): Promise<LoadCheckReply> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(boot.bundlePath).href)) as Record<string, unknown>;
  } catch (e) {
    return { t: 'loadError', message: `importing it threw: ${describe(e)}` };
  }
  if (!exportedHandle(mod)) return { t: 'loadError', message: 'the module exports no handle function (export const handle = ...)' };
  if (boot.smoke === undefined) return { t: 'loaded' };
  // The module is cached: invokeOnce's import returns the one loaded above, not a second run of it.
  const reply = await invokeOnce(boot.smoke);
  if (reply.t === 'loadError') return reply;
  return { t: 'smoked', outcome: reply.outcome };
}

// Stack traces name the author's source lines, not the bundle's.
process.setSourceMapsEnabled(true);
parentPort!.postMessage(await check(workerData as LoadCheckBoot));
