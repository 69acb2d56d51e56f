/**
 * How a session ended (`Outcome`, as recorded in logs, metrics, the Redis record and `tftpfn
 * tail`; session/types.ts re-exports it), and the outcome a session records when its source
 * fails, decided from the TftpError alone, so the pure sessions know no runtime's error codes.
 * The TftpError itself (code and wire text) comes from errors/to-tftp-error.ts; a request
 * refused before any session started gets its outcome from `refusalOutcome`, below. A new
 * outcome is added here and listed in
 * docs/STATS.md; stats take any value of this type.
 */
import type { TftpError } from '../protocol/error-codes.js';

/** How a session ended, as recorded in logs and stats. */
export type Outcome =
  | 'ok'
  | 'not-found'
  | 'denied'
  | 'client-abort'
  | 'option-probe'
  | 'timeout'
  | 'upstream-error'
  /** A bug in the gateway while handling the session (a throw from our own code): ERROR 0 "internal error". */
  | 'internal-error'
  /** The user's function threw, hung, crashed its worker or returned an invalid response. */
  | 'function-error'
  | 'disk-full'
  | 'illegal-operation'
  | 'refused'
  | 'shutdown'
  /** The peer sent a new, different request from the same address and port. */
  | 'superseded'
  /** The peer made too little progress, or the session passed its maximum duration. */
  | 'too-slow'
  /** Refused at admission: no room (sessions, per-client or per-prefix limits, buffer budget). */
  | 'busy'
  /** Refused at admission: the client or its prefix sent requests faster than its rate. */
  | 'rate-limited'
  /** Dropped at admission: the client's address is not allowed (allow/deny lists). */
  | 'client-denied';

/**
 * A source failure during a session: a failure of user code (TFTP_FUNCTION_FAILED) is
 * `function-error`, any other `upstream-error`, whatever its ERROR code (the file existed when
 * the session opened it).
 */
/**
 * Names the outcome a refusal records where its ERROR code alone cannot: RFC 1350's code 0 is
 * "not defined, see error message", so an ERROR 0 that means "no room for you now" (an upload
 * past the function's maxUploadsPerClient, handlers/function.ts) says `busy` here, as the
 * admission refusals of downloads do (admission/refusals.ts).
 */
export function withOutcome<E extends object>(error: E, outcome: Outcome): E & { readonly outcome: Outcome } {
  return Object.assign(error, { outcome });
}

export function outcomeFor(error: Pick<TftpError, 'code'>): Outcome {
  return error.code === 'TFTP_FUNCTION_FAILED' ? 'function-error' : 'upstream-error';
}

/**
 * A request refused before any session existed, by the ERROR code on the wire: the handler said
 * not found (1), denied (2) and so on; a failure of user code is `function-error` whatever its
 * code; a refusal that names its outcome (`withOutcome`, above) records that one.
 */
export function refusalOutcome(code: number, error?: unknown): Outcome {
  if ((error as { code?: unknown } | undefined)?.code === 'TFTP_FUNCTION_FAILED') return 'function-error';
  const named = (error as { outcome?: unknown } | undefined)?.outcome;
  if (named === 'busy') return named;
  switch (code) {
    case 1:
      return 'not-found';
    case 2:
      return 'denied';
    case 3:
      return 'disk-full';
    case 4:
      return 'illegal-operation';
    case 8:
      return 'refused';
    default:
      return 'upstream-error';
  }
}
