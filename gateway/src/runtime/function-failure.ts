/**
 * How a failure of user code reaches the wire and the stats: ERROR 0 with a fixed text (the
 * client learns nothing about the function; errors/to-tftp-error.ts decides which), with the
 * reason kept for logs only.
 */
import type { TftpError } from '../protocol/error-codes.js';
import { FunctionFailure, type FailureKind } from '../errors/function-failure.js';
import { toTftpError } from '../errors/to-tftp-error.js';

export { FunctionFailure, type FailureKind };

/** The wire error for a failed invocation; `cause` carries the details to the session log line. */
export function functionFailed(kind: FailureKind, message: string, stack?: string): TftpError {
  return toTftpError(new FunctionFailure(kind, message, stack));
}
