/**
 * The outcome a session or a refused request records, decided from its TftpError alone, so the
 * pure sessions know no runtime's error codes. The TftpError itself (code and wire text) comes
 * from errors/to-tftp-error.ts.
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

/** A request refused with this error before any session started: the ERROR code says why. */
export function refusalOutcomeFor(error: Pick<TftpError, 'code' | 'tftpCode'>): Outcome {
  if (error.code === 'TFTP_FUNCTION_FAILED') return 'function-error';
  switch (error.tftpCode) {
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
