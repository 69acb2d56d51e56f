/**
 * The ByteWriter of an upload that a function reads itself (request.body, accepted(): issue
 * 15): what the write session receives goes to the function through its BodyUpload
 * (runtime/body-upload.ts), and the final ACK waits for the function's answer.
 *
 *  - write(): resolves once the chunk is sent to the function (credit allowing: the session's
 *    ACK backpressure then holds the client while the function is slower); past the route's
 *    maxUploadBytes the function's iterator throws ('too-large') and the client gets ERROR 3
 *    "upload too large".
 *  - commit(): the end of the body; resolves when the function answers accepted(), rejects
 *    with the error it answered or its failure (errors/to-tftp-error.ts maps it to the ERROR).
 *  - interrupt(outcome): the session ended otherwise (the client aborted or vanished, the
 *    progress rule, shutdown); called by accept/open-session.ts as soon as the outcome is
 *    known, since a write waiting for credit from a stalled function would hold abort() back.
 *    The function's iterator throws an UploadAbortedError carrying the reason.
 */
import type { Outcome } from '../session/types.js';
import type { ByteWriter } from '../sources/types.js';
import type { BodyUpload } from '../runtime/body-upload.js';
import type { UploadAbortReason } from '../runtime/body-channel.js';
import { wireError } from '../errors/to-tftp-error.js';
import { WIRE_TEXT } from '../errors/wire-texts.js';

/** A writer that can be told the session's outcome before its pending writes settle. */
export interface InterruptibleWriter extends ByteWriter {
  interrupt(outcome: Outcome): void;
}

export function isInterruptible(w: ByteWriter | undefined): w is InterruptibleWriter {
  return w !== undefined && typeof (w as Partial<InterruptibleWriter>).interrupt === 'function';
}

/** What the function is told when the session ended with `outcome`. */
export function abortReason(outcome: Outcome): UploadAbortReason {
  switch (outcome) {
    case 'client-abort':
    case 'superseded':
      return 'client-abort';
    case 'timeout':
      return 'timeout';
    case 'too-slow':
      return 'too-slow';
    case 'disk-full':
      return 'too-large';
    case 'shutdown':
      return 'shutdown';
    default:
      return 'failed';
  }
}

export interface BodyWriterOptions {
  readonly maxBytes: number;
  /** Called once: 'committed' after accepted(), else 'aborted', with the bytes handed over. */
  readonly onEnd: (outcome: 'committed' | 'aborted', bytes: number) => void;
}

export class BodyWriter implements InterruptibleWriter {
  private bytes = 0;
  private ended = false;

  constructor(private readonly upload: BodyUpload, private readonly opts: BodyWriterOptions) {}

  async write(chunk: Uint8Array): Promise<void> {
    if (this.bytes + chunk.byteLength > this.opts.maxBytes) {
      this.upload.abort('too-large');
      this.end('aborted');
      throw wireError(WIRE_TEXT.uploadTooLarge);
    }
    this.bytes += chunk.byteLength;
    await this.upload.write(chunk);
  }

  async commit(): Promise<void> {
    try {
      await this.upload.finish();
    } catch (e) {
      this.end('aborted');
      throw e;
    }
    this.end('committed');
  }

  interrupt(outcome: Outcome): void {
    if (this.ended) return;
    this.upload.abort(abortReason(outcome));
    this.end('aborted');
  }

  async abort(): Promise<void> {
    if (this.ended) return;
    this.upload.abort('failed');
    this.end('aborted');
  }

  private end(outcome: 'committed' | 'aborted'): void {
    if (this.ended) return;
    this.ended = true;
    this.opts.onEnd(outcome, this.bytes);
  }
}
