/**
 * The check a version passes before it is published (`tftpfn deploy`, issue 12): load the
 * bundle in a worker thread and call nothing — the import runs its top-level code, and
 * `handle` must be exported as a function, as the gateway's loader requires — so a version
 * that throws at import, or exports no handler, never becomes current. With `smokePath`, the
 * handler then runs once for that path (the SDK harness, invoke-once.ts) and any error the
 * client would see fails the check.
 *
 * A worker thread (the gateway's isolation "thread") rather than the sandbox: the check is
 * about the code, and a thread can be terminated whatever the module left running (timers,
 * a loop at import), bounded by `timeoutMs`.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { BUNDLE_FILE, MAP_FILE } from './bundle.js';
import type { InvokeBoot, InvokeOutcome } from './invoke-once.js';
import { builtModule } from './package-root.js';

export interface LoadCheckBoot {
  readonly bundlePath: string;
  readonly smoke?: InvokeBoot;
}

export type LoadCheckReply =
  | { readonly t: 'loaded' }
  | { readonly t: 'smoked'; readonly outcome: InvokeOutcome }
  | { readonly t: 'loadError'; readonly message: string };

export type LoadCheckResult =
  | { readonly ok: true; readonly smoke?: InvokeOutcome }
  /** `stage` says which step refused it: the import (or no handle), the smoke run, or the time bound. */
  | { readonly ok: false; readonly stage: 'load' | 'smoke' | 'timeout' | 'crash'; readonly message: string; readonly smoke?: InvokeOutcome };

export interface LoadCheckOptions {
  /** A path to invoke the handler with once after loading (`--smoke`). */
  readonly smokePath?: string;
  readonly vars?: Readonly<Record<string, string>>;
  /** Longest the load (and smoke run) may take; then the worker is terminated and the check fails. */
  readonly timeoutMs: number;
}

/** Why a smoke outcome fails a deploy, or undefined when the client would get data. */
export function smokeProblem(o: InvokeOutcome): string | undefined {
  if (o.refused !== undefined) return `the handler returned something that is not a valid Response (the client would get ERROR 0): ${o.refused}`;
  if (o.thrown !== undefined) return `the handler threw (the client would get ERROR 0):\n${o.thrown}`;
  if (o.kind === 'none') return 'the handler returned something that is not a Response (the client would get ERROR 0)';
  if (o.errorCode !== undefined) return `the client would get ERROR ${o.errorCode} "${o.errorMessage ?? ''}"`;
  return undefined;
}

export async function checkBundleLoads(code: string, map: string | undefined, opts: LoadCheckOptions): Promise<LoadCheckResult> {
  const dir = await mkdtemp(join(tmpdir(), 'tftpfn-check-'));
  try {
    const bundlePath = join(dir, BUNDLE_FILE);
    await writeFile(bundlePath, code);
    if (map !== undefined) await writeFile(join(dir, MAP_FILE), map);
    const smoke: InvokeBoot | undefined =
      opts.smokePath === undefined
        ? undefined
        : { t: 'boot', bundlePath, request: { path: opts.smokePath }, env: { vars: { ...opts.vars }, secrets: {} }, root: resolve('.'), bucketsDir: resolve('buckets') };
    const reply = await runWorker({ bundlePath, ...(smoke ? { smoke } : {}) }, opts.timeoutMs);
    switch (reply.t) {
      case 'loaded':
        return { ok: true };
      case 'loadError':
        return { ok: false, stage: 'load', message: reply.message };
      case 'smoked': {
        const problem = smokeProblem(reply.outcome);
        return problem ? { ok: false, stage: 'smoke', message: problem, smoke: reply.outcome } : { ok: true, smoke: reply.outcome };
      }
      case 'timeout':
        return { ok: false, stage: 'timeout', message: `it did not ${smoke ? 'load and answer' : 'load'} within ${opts.timeoutMs} ms (a loop or a wait at import?)` };
      case 'crash':
        return { ok: false, stage: 'crash', message: reply.message };
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

type WorkerOutcome = LoadCheckReply | { t: 'timeout' } | { t: 'crash'; message: string };

function runWorker(workerData: LoadCheckBoot, timeoutMs: number): Promise<WorkerOutcome> {
  return new Promise((resolvePromise) => {
    const worker = new Worker(builtModule('gateway/src/runtime/load-check-main'), { workerData, stdout: true, stderr: true });
    // What the module prints at import is not the deployer's output; it is dropped.
    worker.stdout.resume();
    worker.stderr.resume();
    let settled = false;
    const settle = (o: WorkerOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // Module-level timers or sockets would keep it alive: it has answered, so it ends now.
      void worker.terminate();
      resolvePromise(o);
    };
    const timer = setTimeout(() => settle({ t: 'timeout' }), timeoutMs);
    worker.once('message', (m: LoadCheckReply) => settle(m));
    worker.once('error', (e) => settle({ t: 'crash', message: `it crashed its worker: ${e.stack ?? String(e)}` }));
    worker.once('exit', (code) => settle({ t: 'crash', message: `its thread exited (code ${code}) before it loaded; does it call process.exit() at import?` }));
  });
}
