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
 * Both halves are pure: no timers, no I/O; the hosts wire their callbacks to messages. The
 * function side is body-inbox.ts (BodyInbox), the gateway side body-sender.ts (BodySender);
 * this file holds what both speak: the window, the message size and the reasons for an abort.
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

/**
 * DATA blocks are gathered into messages of up to this many bytes before they go to the
 * function: one message per 1468-byte block cost a frame, a JSON envelope and a few promises
 * each, which on a loaded 2-core machine halved the upload rate and doubled the gateway's
 * garbage (20 × 100 MiB, docs/UPLOADS.md). A whole 64 KiB message still fits the window
 * twice over, so the credit rule cannot stall on it.
 */
export const BODY_MESSAGE_BYTES = 64 * 1024;
