/**
 * The gateway side of an upload's body channel (theory of operation: body-channel.ts): the
 * session's DATA gathered into messages, each sent when the function's credit covers it. Pure;
 * body-upload.ts wires it to the worker.
 */
import { BODY_MESSAGE_BYTES, BODY_WINDOW_BYTES, UploadAbortedError, type UploadAbortReason } from './body-channel.js';

/** The gateway side's channel to the function. */
export interface SenderControl {
  /**
   * Hands a message to the function. With `copiesOnSend` the bytes are copied before send()
   * returns (postMessage's structured clone, the sandbox pipe's frame), so the sender reuses
   * one gathering buffer per upload instead of allocating one per message.
   */
  send(chunk: Uint8Array): void;
  readonly copiesOnSend?: boolean;
  end(): void;
  abort(reason: UploadAbortReason): void;
}

/**
 * The gateway side: gathers chunks into messages of up to `messageBytes` and sends each as
 * credit allows. write() resolves once the chunk is gathered (or sent); one write at a time
 * (the session driver chains them). flush() sends what is gathered, at the end of the upload.
 * A write resolves without waiting only while the gathered bytes fit one message, so at most
 * one message per upload waits here for credit.
 */
export class BodySender {
  private credit = 0;
  private pending: { chunk: Uint8Array; resolve: () => void; reject: (e: unknown) => void } | undefined;
  private state: 'open' | 'ended' | 'dropping' | 'failed' = 'open';
  private failure: unknown;
  private gathered: Uint8Array | undefined;
  private filled = 0;

  constructor(
    private readonly ctl: SenderControl,
    private readonly windowBytes = BODY_WINDOW_BYTES,
    /** 0: every chunk is its own message. */
    private readonly messageBytes = BODY_MESSAGE_BYTES,
  ) {}

  /** Credit not yet used (for tests and metrics). */
  get available(): number {
    return this.credit;
  }

  /** A message is waiting for credit. */
  get waiting(): boolean {
    return this.pending !== undefined;
  }

  onCredit(bytes: number): void {
    if (!(bytes > 0)) return;
    this.credit = Math.min(this.windowBytes, this.credit + bytes);
    this.flushPending();
  }

  write(chunk: Uint8Array): Promise<void> {
    if (this.state === 'failed') return Promise.reject(this.failure);
    if (this.state === 'dropping' || chunk.byteLength === 0) return Promise.resolve();
    if (this.state === 'ended') return Promise.reject(new Error('BodySender: write after end'));
    if (this.pending) return Promise.reject(new Error('BodySender: one write at a time'));
    if (chunk.byteLength >= this.messageBytes) return this.filled === 0 ? this.sendNow(chunk) : this.flush().then(() => this.sendNow(chunk));
    if (this.filled + chunk.byteLength > this.messageBytes) return this.flush().then(() => this.write(chunk));
    this.gathered ??= new Uint8Array(this.messageBytes);
    this.gathered.set(chunk, this.filled);
    this.filled += chunk.byteLength;
    return this.filled === this.messageBytes ? this.flush() : Promise.resolve();
  }

  /** Sends what is gathered (waiting for credit); resolves at once when nothing is. */
  flush(): Promise<void> {
    if (this.filled === 0 || this.state !== 'open') return this.state === 'failed' ? Promise.reject(this.failure) : Promise.resolve();
    // A whole message goes as it is; a short one is cut to its own buffer (a view would carry
    // the whole ArrayBuffer through structured clone).
    const message = this.filled === this.gathered!.byteLength ? this.gathered! : this.gathered!.slice(0, this.filled);
    if (!this.ctl.copiesOnSend || message !== this.gathered) this.gathered = undefined;
    this.filled = 0;
    return this.sendNow(message);
  }

  /** The last block has arrived and what was gathered is sent. */
  end(): void {
    if (this.state !== 'open') return;
    this.state = 'ended';
    this.ctl.end();
  }

  /** The upload ended early: the function's iterator throws. */
  abort(reason: UploadAbortReason, error: unknown = new UploadAbortedError(reason)): void {
    if (this.state === 'failed') return;
    const tell = this.state === 'open';
    this.fail(error);
    if (tell) this.ctl.abort(reason);
  }

  /** The function answered before the end: the rest of the upload is received and dropped. */
  dropRest(): void {
    if (this.state !== 'open') return;
    this.state = 'dropping';
    this.drop();
    const p = this.pending;
    this.pending = undefined;
    p?.resolve();
  }

  /** No more writes succeed (the function failed, or refused the upload); nothing is sent. */
  fail(error: unknown): void {
    if (this.state === 'failed') return;
    this.state = 'failed';
    this.failure = error;
    this.drop();
    const p = this.pending;
    this.pending = undefined;
    p?.reject(error);
  }

  private drop(): void {
    this.gathered = undefined;
    this.filled = 0;
  }

  private sendNow(chunk: Uint8Array): Promise<void> {
    if (this.state === 'failed') return Promise.reject(this.failure);
    if (this.state === 'dropping') return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.pending = { chunk, resolve, reject };
      this.flushPending();
    });
  }

  private flushPending(): void {
    const p = this.pending;
    if (!p || this.state !== 'open' || this.credit < p.chunk.byteLength) return;
    this.pending = undefined;
    this.credit -= p.chunk.byteLength;
    this.ctl.send(p.chunk);
    p.resolve();
  }
}
