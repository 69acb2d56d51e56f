/**
 * An upload's body on its way into a function that reads it itself (`request.body`, answered
 * with accepted(): issue 15). Two halves joined by a channel that carries chunks one way and
 * credit the other, like a stream response's (stream-reader.ts) but reversed:
 *
 *   gateway: BodySender ──chunk, end, abort──▶ function: BodyInbox (request.body)
 *                       ◀──────── credit ─────────
 *
 *  - The function side grants credit only as the function consumes: the first grant when it
 *    first asks for a chunk (a function that never reads is never sent a byte), then top-ups
 *    whenever what it holds plus what it was promised falls below half the window. So at most
 *    `windowBytes` of one upload is ever queued in a worker, and the gateway's sender waits
 *    (its write() does not resolve) when the credit is used up; the write session then holds
 *    its ACK (UPLOAD_UNWRITTEN_BYTES, accept/session-plan.ts) and the client waits.
 *  - The gateway side sends a chunk only when its whole length is covered by credit. Credit
 *    from a worker is untrusted: it is capped at `windowBytes`, so a worker granting more than
 *    it consumed cannot make the gateway queue more than a window on its channel.
 *  - An abort (the client went away, sent ERROR, the session timed out, the upload passed its
 *    limit, the gateway shut down) reaches the function as an {@link UploadAbortedError} from
 *    request.body's iterator, carrying the reason.
 * Both halves are pure: no timers, no I/O; the hosts wire their callbacks to messages.
 */

/** Bytes of one upload a function may have queued or promised at once. */
export const BODY_WINDOW_BYTES = 256 * 1024;

/** Why an upload ended before its last block, as the function sees it. */
export type UploadAbortReason = 'client-abort' | 'timeout' | 'too-slow' | 'too-large' | 'shutdown' | 'failed';

const REASONS: ReadonlySet<string> = new Set<UploadAbortReason>(['client-abort', 'timeout', 'too-slow', 'too-large', 'shutdown', 'failed']);

export function isUploadAbortReason(x: unknown): x is UploadAbortReason {
  return typeof x === 'string' && REASONS.has(x);
}

const REASON_TEXT: Record<UploadAbortReason, string> = {
  'client-abort': 'the client aborted the upload (it sent an ERROR or went away)',
  timeout: 'the client stopped sending (its retries ran out)',
  'too-slow': 'the upload made too little progress or took too long',
  'too-large': 'the upload passed its size limit (maxUploadBytes)',
  shutdown: 'the gateway is shutting down',
  failed: 'the upload failed',
};

/**
 * What request.body's iterator throws when the upload ends early. Match on `code`
 * ('TFTP_UPLOAD_ABORTED') and `reason`, not on the class: errors lose their class between
 * threads.
 *
 * @example
 * ```ts
 * try {
 *   for await (const chunk of request.body!) hash.update(chunk);
 * } catch (e) {
 *   if ((e as { code?: string }).code === 'TFTP_UPLOAD_ABORTED') env.log.warn({ reason: (e as UploadAbortedError).reason }, 'upload aborted');
 *   throw e;
 * }
 * ```
 */
export class UploadAbortedError extends Error {
  readonly code = 'TFTP_UPLOAD_ABORTED';
  constructor(readonly reason: UploadAbortReason) {
    super(REASON_TEXT[reason]);
    this.name = 'UploadAbortedError';
  }
}

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
 * DATA blocks are gathered into messages of up to this many bytes before they go to the
 * function: one message per 1468-byte block cost a frame, a JSON envelope and a few promises
 * each, which on a loaded 2-core machine halved the upload rate and doubled the gateway's
 * garbage (20 × 100 MiB, docs/UPLOADS.md). A whole 64 KiB message still fits the window
 * twice over, so the credit rule cannot stall on it.
 */
export const BODY_MESSAGE_BYTES = 64 * 1024;

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
