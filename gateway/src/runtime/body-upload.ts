/**
 * The gateway side of one invocation whose function reads the upload itself (request.body,
 * accepted(): issue 15), whatever runs it (a worker pool, or in-process). Starts when the
 * function first asks for a chunk, and ends with the function's answer:
 *
 *   reading ──end of upload──▶ finishing ──accepted()──▶ done (the final ACK may go)
 *      │  └─answer before the end: accepted() → the rest is dropped; error/throw → writes fail
 *      └─abort (client, session, limit) → the function's iterator throws; its answer is awaited
 *        (up to timeoutMs) only so that the call is released when the function is done
 *
 * The invocation time limit does not run while the body streams (a 100 MiB upload takes as
 * long as the client takes; the session's progress rule ends a stalled one); it runs again
 * from the end of the upload (or its abort) until the function answers.
 */
import type { TftpError } from '../protocol/error-codes.js';
import { functionFailed } from './function-failure.js';
import { BODY_MESSAGE_BYTES, BODY_WINDOW_BYTES, type UploadAbortReason } from './body-channel.js';
import { BodySender, type SenderControl } from './body-sender.js';

/** The function's answer once it was reading: accepted(), or the error the client gets. */
export type BodyAnswer = { readonly ok: true } | { readonly ok: false; readonly error: TftpError };

export interface BodyUploadControl extends SenderControl {
  /** The function gave no answer within the limit: stop it (cancel, probe its worker). */
  timedOut(error: TftpError): void;
  /** The invocation is over (answered, failed or timed out); called once. */
  done(): void;
}

export class BodyUpload {
  private readonly sender: BodySender;
  private answer: BodyAnswer | undefined;
  private finishing: { resolve: () => void; reject: (e: unknown) => void } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private over = false;

  constructor(private readonly ctl: BodyUploadControl, private readonly timeoutMs: number, windowBytes = BODY_WINDOW_BYTES, messageBytes = BODY_MESSAGE_BYTES) {
    this.sender = new BodySender(ctl, windowBytes, messageBytes);
  }

  /** True once the function has answered (or failed). */
  get answered(): boolean {
    return this.answer !== undefined;
  }

  onCredit(bytes: number): void {
    this.sender.onCredit(bytes);
  }

  /** Resolves once the chunk is gathered or sent to the function (credit allowing); rejects once it failed or refused. */
  write(chunk: Uint8Array): Promise<void> {
    return this.sender.write(chunk);
  }

  /** The last block has arrived: resolves when the function answers accepted(), rejects with the error the client gets. */
  async finish(): Promise<void> {
    if (this.answer) return this.settled(this.answer);
    // What is gathered goes first (waiting for credit: the function is still reading).
    await this.sender.flush();
    if (this.answer) return this.settled(this.answer);
    this.sender.end();
    return new Promise((resolve, reject) => {
      this.finishing = { resolve, reject };
      this.arm();
    });
  }

  /** The upload ended early: the function's iterator throws an UploadAbortedError(reason). */
  abort(reason: UploadAbortReason): void {
    if (this.answer || this.over) return;
    this.sender.abort(reason);
    this.arm();
  }

  /** The function answered (accepted(), an error response, a throw, a bad response). */
  onAnswer(answer: BodyAnswer): void {
    if (this.answer) return;
    this.answer = answer;
    if (answer.ok) this.sender.dropRest();
    else this.sender.fail(answer.error);
    const f = this.finishing;
    this.finishing = undefined;
    if (f) void this.settled(answer).then(f.resolve, f.reject);
    this.end();
  }

  /** The worker died or the version was retired. */
  onFail(error: TftpError): void {
    this.onAnswer({ ok: false, error });
  }

  private settled(answer: BodyAnswer): Promise<void> {
    return answer.ok ? Promise.resolve() : Promise.reject(answer.error);
  }

  private arm(): void {
    if (this.timer || this.over) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const e = functionFailed('timeout', `handle() did not answer within ${this.timeoutMs} ms of the end of the upload`);
      this.ctl.timedOut(e);
      this.onAnswer({ ok: false, error: e });
    }, this.timeoutMs);
  }

  private end(): void {
    if (this.over) return;
    this.over = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.ctl.done();
  }
}
