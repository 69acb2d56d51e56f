/**
 * The function side of an upload's body channel (theory of operation: body-channel.ts):
 * request.body, a queue of the gateway's chunks that grants credit as the function takes
 * them, and turns an abort into the iterator's UploadAbortedError. Pure; the hosts
 * (function-host.ts in a worker, body-local.ts in process) wire it to their messages.
 */
import { BODY_WINDOW_BYTES, UploadAbortedError, type UploadAbortReason } from './body-channel.js';

/** The function side's way back: grant the gateway this many more bytes. */
export interface InboxControl {
  credit(bytes: number): void;
}

/** The function side: request.body, fed by the gateway's chunks. */
export class BodyInbox {
  private readonly queue: Uint8Array[] = [];
  private queuedBytes = 0;
  /** Credit granted and not yet used by a chunk. */
  private outstanding = 0;
  private started = false;
  private ended = false;
  private closed = false;
  private failure: Error | undefined;
  private iterated = false;
  private waiter: { resolve: (r: IteratorResult<Uint8Array, undefined>) => void; reject: (e: unknown) => void } | undefined;
  /** request.body: iterable once. */
  readonly body: AsyncIterable<Uint8Array>;

  constructor(private readonly ctl: InboxControl, private readonly windowBytes = BODY_WINDOW_BYTES) {
    this.body = { [Symbol.asyncIterator]: () => this.iterator() };
  }

  /** The function asked for at least one chunk. */
  get reading(): boolean {
    return this.started;
  }

  onChunk(data: Uint8Array): void {
    if (this.closed || this.ended || this.failure) return;
    this.outstanding = Math.max(0, this.outstanding - data.byteLength);
    if (data.byteLength === 0) return;
    this.queue.push(data);
    this.queuedBytes += data.byteLength;
    this.deliver();
  }

  onEnd(): void {
    if (this.closed || this.failure) return;
    this.ended = true;
    this.deliver();
  }

  onAbort(reason: UploadAbortReason): void {
    if (this.closed || this.ended || this.failure) return;
    this.failure = new UploadAbortedError(reason);
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.deliver();
  }

  /** The handler answered: what it did not read is dropped, and no more credit is granted. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue.length = 0;
    this.queuedBytes = 0;
    const w = this.waiter;
    this.waiter = undefined;
    w?.resolve({ done: true, value: undefined });
  }

  private iterator(): AsyncIterator<Uint8Array, undefined> {
    if (this.iterated) throw new TypeError('request.body can be read once');
    this.iterated = true;
    return {
      next: () => this.next(),
      return: async () => {
        this.close();
        return { done: true, value: undefined };
      },
    };
  }

  private next(): Promise<IteratorResult<Uint8Array, undefined>> {
    if (this.waiter) return Promise.reject(new TypeError('request.body: one next() at a time'));
    if (!this.started) {
      this.started = true;
      this.topUp();
    }
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
      this.deliver();
    });
  }

  private deliver(): void {
    const w = this.waiter;
    if (!w) return;
    if (this.failure) {
      this.waiter = undefined;
      return w.reject(this.failure);
    }
    const chunk = this.queue.shift();
    if (chunk !== undefined) {
      this.waiter = undefined;
      this.queuedBytes -= chunk.byteLength;
      this.topUp();
      return w.resolve({ done: false, value: chunk });
    }
    if (this.ended || this.closed) {
      this.waiter = undefined;
      w.resolve({ done: true, value: undefined });
    }
  }

  /** Keeps queued + promised bytes near the window; asks only below half of it. */
  private topUp(): void {
    if (this.ended || this.closed || this.failure || !this.started) return;
    const have = this.outstanding + this.queuedBytes;
    if (have > this.windowBytes / 2) return;
    const grant = this.windowBytes - have;
    this.outstanding += grant;
    this.ctl.credit(grant);
  }
}
