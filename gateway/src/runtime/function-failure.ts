/**
 * How a failure of user code reaches the wire and the stats: always ERROR 0 "internal error"
 * (the client learns nothing about the function), with the reason kept for logs only.
 */
import { ErrorCode, TftpError } from '../protocol/error-codes.js';

/** Why an invocation failed, as logged: stable words for dashboards. */
export type FailureKind = 'threw' | 'bad-response' | 'stream-threw' | 'timeout' | 'worker-crashed' | 'size-mismatch' | 'unavailable' | 'busy';

export class FunctionFailure extends Error {
  readonly kind: FailureKind;
  constructor(kind: FailureKind, message: string, stack?: string) {
    super(message);
    this.name = 'FunctionFailure';
    this.kind = kind;
    if (stack) this.stack = stack;
  }
}

/** The wire error for a failed invocation; `cause` carries the details to the session log line. */
export function functionFailed(kind: FailureKind, message: string, stack?: string): TftpError {
  const wire = kind === 'busy' ? 'server busy, try again later' : kind === 'unavailable' ? 'function unavailable' : 'internal error';
  return new TftpError(ErrorCode.NotDefined, wire, { code: 'TFTP_FUNCTION_FAILED', cause: new FunctionFailure(kind, message, stack) });
}
