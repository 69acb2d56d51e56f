/**
 * The gateway side of a streamed function response: a ByteReader fed by chunk messages from
 * a worker, paid for with credit. Credit is topped up only as the session consumes, so at
 * most `highWaterBytes` (plus one chunk the author sized) is ever buffered here, however
 * large the body and however slow the client.
 */
import type { TftpError } from '../protocol/error-codes.js';
import type { ByteReader } from '../sources/types.js';
import { functionFailed } from './function-failure.js';
import { DeclaredSize } from './run-handler.js';

export interface StreamControl {
  /** Grants the worker this many more bytes. */
  credit(bytes: number): void;
  /** The session stopped reading before the end: tell the worker to stop the generator. */
  cancel(): void;
  /** No chunk came within the limit: the worker may be stuck. */
  timedOut(error: TftpError): void;
  /** The stream is over (end, failure or close); called once. */
  done(): void;
}

export class WorkerStreamReader implements ByteReader {
  private readonly queue: Uint8Array[] = [];
  private queuedBytes = 0;
  /** Credit granted and not yet used by a chunk. */
  private outstanding = 0;
  /** The same check in-process and invoke apply: the worker runs user code and is not trusted. */
  private readonly declared: DeclaredSize;
  private ended = false;
  private failure: TftpError | undefined;
  private finished = false;
  private waiter: { resolve: (c: Uint8Array | null) => void; reject: (e: unknown) => void; timer: NodeJS.Timeout } | undefined;

  constructor(
    readonly size: number | undefined,
    private readonly ctl: StreamControl,
    private readonly highWaterBytes: number,
    private readonly timeoutMs: number,
  ) {
    this.declared = new DeclaredSize(size);
    this.topUp();
  }

  /** True when a chunk now would exceed the credit granted: an honest worker never sends one. */
  get unpaid(): boolean {
    return !this.finished && this.outstanding <= 0;
  }

  onChunk(data: Uint8Array): void {
    if (this.finished) return;
    this.outstanding = Math.max(0, this.outstanding - data.byteLength);
    const tooLong = this.declared.add(data.byteLength);
    if (tooLong) return this.onFail(functionFailed('size-mismatch', tooLong));
    this.queue.push(data);
    this.queuedBytes += data.byteLength;
    this.deliver();
  }

  onEnd(): void {
    if (this.finished) return;
    const wrongSize = this.declared.end();
    if (wrongSize) return this.onFail(functionFailed('size-mismatch', wrongSize));
    this.ended = true;
    this.deliver();
  }

  onFail(error: TftpError): void {
    if (this.finished || this.failure) return;
    this.failure = error;
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.deliver();
    this.finish();
  }

  async read(): Promise<Uint8Array | null> {
    if (this.waiter) throw new Error('WorkerStreamReader: one read at a time');
    if (this.failure) throw this.failure;
    const chunk = this.take();
    if (chunk !== undefined) return chunk;
    if (this.ended) {
      this.finish();
      return null;
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const e = functionFailed('timeout', `the stream produced no bytes for ${this.timeoutMs} ms`);
        this.ctl.timedOut(e);
        this.onFail(e);
      }, this.timeoutMs);
      this.waiter = { resolve, reject, timer };
    });
  }

  async close(): Promise<void> {
    if (this.finished) return;
    if (!this.ended && !this.failure) this.ctl.cancel();
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.finish();
  }

  private take(): Uint8Array | undefined {
    const chunk = this.queue.shift();
    if (chunk === undefined) return undefined;
    this.queuedBytes -= chunk.byteLength;
    this.topUp();
    return chunk;
  }

  /** Keeps buffered + promised bytes near the high-water mark; asks only below half of it. */
  private topUp(): void {
    if (this.ended || this.failure) return;
    const have = this.outstanding + this.queuedBytes;
    if (have > this.highWaterBytes / 2) return;
    const grant = this.highWaterBytes - have;
    this.outstanding += grant;
    this.ctl.credit(grant);
  }

  private deliver(): void {
    const w = this.waiter;
    if (!w) return;
    if (this.failure) {
      this.waiter = undefined;
      clearTimeout(w.timer);
      w.reject(this.failure);
      return;
    }
    const chunk = this.take();
    if (chunk !== undefined) {
      this.waiter = undefined;
      clearTimeout(w.timer);
      w.resolve(chunk);
    } else if (this.ended) {
      this.waiter = undefined;
      clearTimeout(w.timer);
      this.finish();
      w.resolve(null);
    }
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.ctl.done();
  }
}
