/**
 * The outcome a session records when its source fails, decided from the TftpError alone, so the
 * pure sessions know no runtime's error codes. The TftpError itself (code and wire text) comes
 * from errors/to-tftp-error.ts. (The outcome of a request refused before any session started
 * is still stats/session-record.ts refusalOutcome; it belongs here too.)
 */
import type { TftpError } from '../protocol/error-codes.js';
import type { Outcome } from './types.js';

/**
 * A source failure during a session: a failure of user code (TFTP_FUNCTION_FAILED) is
 * `function-error`, any other `upstream-error`, whatever its ERROR code (the file existed when
 * the session opened it).
 */
export function outcomeFor(error: Pick<TftpError, 'code'>): Outcome {
  return error.code === 'TFTP_FUNCTION_FAILED' ? 'function-error' : 'upstream-error';
}
