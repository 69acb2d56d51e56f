/**
 * The outcome a session records when its source fails, decided from the error alone, so the
 * pure sessions know no runtime's error codes. The TftpError itself (code and wire text) comes
 * from errors/to-tftp-error.ts.
 */
import type { TftpError } from '../protocol/error-codes.js';
import type { Outcome } from './types.js';

/** A failure of user code (TFTP_FUNCTION_FAILED) is `function-error`; any other source failure `upstream-error`. */
export function outcomeFor(error: Pick<TftpError, 'code'>): Outcome {
  return error.code === 'TFTP_FUNCTION_FAILED' ? 'function-error' : 'upstream-error';
}
