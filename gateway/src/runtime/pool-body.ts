/**
 * A worker pool's calls whose function reads the upload itself (request.body, accepted():
 * issue 15), kept out of worker-pool.ts: how such a call starts (the worker's first
 * `bodyCredit`), and what the worker's messages mean once it has.
 *
 * A body call is settled (invoke() resolves with `body`) at its first credit, and holds its
 * concurrency slot until the function answers. From then on the worker may send only more
 * credit and one answer: `accepted`, `error` (the client gets that ERROR) or `fail`. Any other
 * answer (s3Put(), discard(), bytes...) is a bad response after reading the body; a stream
 * chunk or end is a protocol violation.
 */
import { ErrorCode, TftpError } from '../protocol/error-codes.js';
import { BodyUpload } from './body-upload.js';
import { functionFailed } from './function-failure.js';
import type { FromWorker, ToWorker } from './worker-protocol.js';

export interface PoolBodyHooks {
  send(msg: ToWorker): void;
  /** The worker broke the protocol: kill it. */
  violation(why: string): void;
  /** The function gave no answer in time: count it and probe its worker. */
  timedOut(error: TftpError): void;
  /** The invocation is over: release its slot. */
  release(): void;
  /** A `fail` from the worker (for the pool's failure count), already redacted. */
  failed(msg: Extract<FromWorker, { t: 'fail' }>): TftpError;
}

/** Starts a call's body at the worker's first credit. */
export function startBody(id: number, timeoutMs: number, hooks: PoolBodyHooks): BodyUpload {
  return new BodyUpload(
    {
      send: (data) => hooks.send({ t: 'bodyChunk', id, data }),
      // A thread's postMessage clones, a sandbox's pipe encodes a frame: both copy at once.
      copiesOnSend: true,
      end: () => hooks.send({ t: 'bodyEnd', id }),
      abort: (reason) => hooks.send({ t: 'bodyAbort', id, reason }),
      timedOut: (e) => {
        hooks.send({ t: 'cancel', id });
        hooks.timedOut(e);
      },
      done: () => hooks.release(),
    },
    timeoutMs,
  );
}

/** A message for a call whose body has started. */
export function bodyMessage(upload: BodyUpload, msg: Exclude<FromWorker, { t: 'ready' | 'loadError' | 'pong' | 'log' | 'kv' }>, hooks: PoolBodyHooks): void {
  switch (msg.t) {
    case 'bodyCredit':
      return upload.onCredit(msg.bytes);
    case 'accepted':
      return upload.onAnswer({ ok: true });
    case 'error':
      return upload.onAnswer({ ok: false, error: new TftpError(msg.code as ErrorCode, msg.message) });
    case 'fail':
      return upload.onAnswer({ ok: false, error: hooks.failed(msg) });
    case 'chunk':
    case 'end':
      return hooks.violation(`a "${msg.t}" for a call that is not a stream`);
    default:
      // A stream the worker opened is stopped there; nothing of it is read.
      if (msg.t === 'stream') hooks.send({ t: 'cancel', id: msg.id });
      return upload.onAnswer({ ok: false, error: functionFailed('bad-response', `a handler that read request.body must answer accepted() or an error, got a ${msg.t} response`) });
  }
}
