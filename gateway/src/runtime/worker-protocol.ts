/**
 * The messages between the gateway thread and a function's worker thread. Plain objects
 * only (structured clone); byte payloads travel as transferred ArrayBuffers, never copied.
 *
 * One invocation is: `invoke` → a head (`bytes`, `error`, `file`, `stream` or `fail`), and for
 * a stream, `chunk`s paid for by `credit` until `end` (or `fail`). The worker never sends more
 * chunk bytes than it was granted, so a slow client cannot make the gateway buffer a body.
 * An upload read by the function (invoke with `body`) runs the other way: `bodyCredit` from the
 * worker pays for `bodyChunk`s until `bodyEnd` (or `bodyAbort`), then the answer (`accepted`,
 * `error` or `fail`).
 */
import type { FunctionRequest } from '../../../sdk/contract.js';
import type { TftpErrorCode } from '../../../sdk/response.js';
import type { FailureKind } from '../errors/function-failure.js';
import type { UploadAbortReason } from './body-channel.js';

/**
 * What a worker is started with: workerData for a thread, the first message on the pipe for a
 * sandboxed process. Secrets travel here and nowhere else (never in argv or the environment).
 */
export interface WorkerBoot {
  readonly name: string;
  readonly version: string;
  readonly bundlePath: string;
  readonly vars: Readonly<Record<string, string>>;
  readonly secrets: Readonly<Record<string, string>>;
  /** Mirrors the gateway's per-invocation log limits, so dropped lines are not even sent. */
  readonly log: { readonly linesPerInvocation: number; readonly bytesPerInvocation: number; readonly linesPerSecond: number };
  /** Send console output as log lines through the same limits (sandboxed processes; threads pipe stdout). */
  readonly captureConsole?: boolean;
}

/** The first message to a sandboxed process (sandbox-main.ts). */
export interface SandboxBoot {
  readonly t: 'boot';
  readonly boot: WorkerBoot;
}

export type ToWorker =
  /** `body`: a write whose function may read the upload itself (request.body; body-channel.ts). */
  | { readonly t: 'invoke'; readonly id: number; readonly request: FunctionRequest; readonly body?: boolean }
  | { readonly t: 'bodyChunk'; readonly id: number; readonly data: Uint8Array }
  | { readonly t: 'bodyEnd'; readonly id: number }
  | { readonly t: 'bodyAbort'; readonly id: number; readonly reason: UploadAbortReason }
  | { readonly t: 'credit'; readonly id: number; readonly bytes: number }
  | { readonly t: 'cancel'; readonly id: number }
  | { readonly t: 'ping'; readonly seq: number }
  | { readonly t: 'kvResult'; readonly rpc: number; readonly value: Uint8Array | undefined };

/** A key-value call from user code: env.kv (get/set/del) or cached() (cacheGet/cacheSet). */
export type KvOp = 'get' | 'set' | 'del' | 'cacheGet' | 'cacheSet';

/**
 * The failures a worker may report in a `fail` message: those of user code (run-handler.ts).
 * The rest of the one vocabulary (timeout, worker-crashed, size-mismatch, unavailable, busy)
 * is the gateway's to decide, so a worker claiming one of them is a protocol violation.
 */
export const WORKER_FAILURES: readonly FailureKind[] = ['threw', 'bad-response', 'stream-threw'];

export type FromWorker =
  | { readonly t: 'ready' }
  | { readonly t: 'loadError'; readonly message: string }
  | { readonly t: 'bytes'; readonly id: number; readonly body: Uint8Array }
  | { readonly t: 'error'; readonly id: number; readonly code: TftpErrorCode; readonly message: string }
  | { readonly t: 'file'; readonly id: number; readonly path: string }
  | { readonly t: 'object'; readonly id: number; readonly bucket: string; readonly key: string; readonly versionId: string | undefined }
  | { readonly t: 'put'; readonly id: number; readonly bucket: string; readonly key: string; readonly contentType: string | undefined }
  | { readonly t: 'discard'; readonly id: number }
  /** The function consumed the upload itself (accepted()). */
  | { readonly t: 'accepted'; readonly id: number }
  /** The function reads request.body: the gateway may send this many more body bytes (the first one starts the body). */
  | { readonly t: 'bodyCredit'; readonly id: number; readonly bytes: number }
  | { readonly t: 'kv'; readonly rpc: number; readonly op: KvOp; readonly key: string; readonly value?: Uint8Array; readonly ttl?: number }
  | { readonly t: 'stream'; readonly id: number; readonly size: number | undefined }
  | { readonly t: 'chunk'; readonly id: number; readonly data: Uint8Array }
  | { readonly t: 'end'; readonly id: number }
  | { readonly t: 'fail'; readonly id: number; readonly reason: FailureKind; readonly message: string; readonly stack?: string }
  | {
      readonly t: 'log';
      readonly id: number | undefined;
      readonly level: 'debug' | 'info' | 'warn' | 'error';
      readonly obj: unknown;
      readonly msg: string | undefined;
      /** Set on a drop report: this many lines of the invocation were not sent. */
      readonly dropped?: number;
    }
  | { readonly t: 'pong'; readonly seq: number };
