/**
 * A handler reading request.body on this thread: the in-process invoker (in-process.ts) and
 * the author harness (sdk/invoke.ts). The same two halves as a worker's (body-channel.ts:
 * BodyInbox on the function's side, BodyUpload on the gateway's), joined directly instead of
 * by messages, so credit, the answer rules and the abort reasons are the ones the gateway uses.
 *
 * The run starts like any other; it then goes one of two ways:
 *  - the handler answers without reading the body: `{ kind: 'answer', ran }`, as before;
 *  - the handler asks for its first chunk: `{ kind: 'body', upload }` at once, and its answer
 *    (accepted(), an error, a throw) reaches the upload when it comes.
 */
import type { FunctionRequest } from '../../../sdk/contract.js';
import { ErrorCode, TftpError } from '../protocol/error-codes.js';
import { BodyInbox } from './body-inbox.js';
import { BodyUpload, type BodyAnswer } from './body-upload.js';
import { functionFailed } from './function-failure.js';
import type { HandlerRun } from './run-handler.js';

export type LocalBodyStart = { readonly kind: 'answer'; readonly ran: HandlerRun } | { readonly kind: 'body'; readonly upload: BodyUpload };

/** The answer of a handler that was reading the body, in the upload's terms. */
export function bodyAnswer(ran: HandlerRun): BodyAnswer {
  if (!ran.ok) {
    const err = ran.thrown instanceof Error ? ran.thrown : new Error(String(ran.thrown));
    return { ok: false, error: functionFailed(ran.reason, err.message, ran.reason === 'threw' ? err.stack : undefined) };
  }
  const r = ran.result;
  if (r.kind === 'accepted') return { ok: true };
  if (r.kind === 'error') return { ok: false, error: new TftpError(r.code as ErrorCode, r.message) };
  return { ok: false, error: functionFailed('bad-response', `a handler that read request.body must answer accepted() or an error, got a ${r.kind} response`) };
}

/**
 * Runs `run` with request.body fed through a BodyUpload. `done` is told once the invocation is
 * over (answered, failed or timed out), for the caller's in-flight count.
 */
export function runWithLocalBody(
  request: FunctionRequest,
  run: (request: FunctionRequest) => Promise<HandlerRun>,
  opts: { readonly timeoutMs: number; readonly done?: () => void },
): Promise<LocalBodyStart> {
  return new Promise((resolve) => {
    let upload: BodyUpload | undefined;
    // Each hop is a microtask, as a message would be: neither side runs inside the other's call.
    const inbox: BodyInbox = new BodyInbox({
      credit: (bytes) => {
        if (upload) return void queueMicrotask(() => upload!.onCredit(bytes));
        upload = new BodyUpload(
          {
            send: (chunk) => queueMicrotask(() => inbox.onChunk(chunk)),
            end: () => queueMicrotask(() => inbox.onEnd()),
            abort: (reason) => queueMicrotask(() => inbox.onAbort(reason)),
            // A handler on this thread cannot be stopped; its late answer is ignored.
            timedOut: () => {},
            done: () => opts.done?.(),
          },
          opts.timeoutMs,
        );
        upload.onCredit(bytes);
        resolve({ kind: 'body', upload });
      },
    });
    void run({ ...request, body: inbox.body }).then((ran) => {
      inbox.close();
      if (upload) upload.onAnswer(bodyAnswer(ran));
      else resolve({ kind: 'answer', ran });
    });
  });
}
