/**
 * One worker of a pool, as the pool sees it, whatever hosts it: a worker thread in the
 * gateway's process (isolation 'thread') or a sandboxed child process (isolation 'process').
 * Messages out are ToWorker; messages in are raw (`unknown`) until the pool has checked them.
 */
import type { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { builtModule } from './package-root.js';
import type { ToWorker, WorkerBoot } from './worker-protocol.js';

/** Why a worker ended, as far as the host can tell. */
export interface WorkerExit {
  readonly code: number | null;
  readonly signal: string | null;
  /** It hit its V8 heap limit (heapMb). */
  readonly heapExhausted: boolean;
  /** It hit its memory limit (memoryMb: RLIMIT_DATA). */
  readonly memoryExhausted: boolean;
  /** An uncaught error, when the host reports one (threads do). */
  readonly error?: Error;
}

export interface WorkerEvents {
  message(raw: unknown): void;
  exit(exit: WorkerExit): void;
}

export interface WorkerHandle {
  readonly stdout: Readable;
  readonly stderr: Readable;
  send(msg: ToWorker): void;
  /** Ends it now (a stuck or stopped worker included); exit follows. */
  terminate(): void;
}

export interface ThreadOptions {
  readonly boot: WorkerBoot;
  readonly heapMb: number;
  readonly env: Record<string, string>;
  readonly name: string;
}

export function startThreadWorker(opts: ThreadOptions, events: WorkerEvents): WorkerHandle {
  const worker = new Worker(builtModule('gateway/src/runtime/worker-main'), {
    workerData: opts.boot,
    resourceLimits: { maxOldGenerationSizeMb: opts.heapMb },
    env: opts.env,
    stdout: true,
    stderr: true,
    name: opts.name,
  });
  let error: Error | undefined;
  worker.on('message', (m: unknown) => events.message(m));
  worker.on('error', (e) => {
    error = e;
  });
  worker.on('exit', (code) => {
    const oom = (error as NodeJS.ErrnoException | undefined)?.code === 'ERR_WORKER_OUT_OF_MEMORY';
    events.exit({ code, signal: null, heapExhausted: oom, memoryExhausted: false, ...(error && !oom ? { error } : {}) });
  });
  return {
    stdout: worker.stdout,
    stderr: worker.stderr,
    send(msg) {
      try {
        worker.postMessage(msg);
      } catch {
        /* the worker is exiting; its exit event deals with the calls */
      }
    },
    terminate() {
      void worker.terminate().catch(() => {});
    },
  };
}
