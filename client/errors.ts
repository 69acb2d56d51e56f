/**
 * Client-side failures. A server's ERROR packet becomes a TftpError carrying its code and text,
 * so callers match on `tftpCode`/`code` exactly as the gateway does; failures that never came
 * over the wire (timeouts, aborts) get their own stable `code` strings.
 */
import { ErrorCode, TftpError } from '../gateway/src/protocol/error-codes.js';

/** The server sent ERROR code/message (RFC 1350 section 5). */
export function remoteError(code: number, message: string): TftpError {
  const known = (code >= 0 && code <= 8 ? code : ErrorCode.NotDefined) as ErrorCode;
  const err = new TftpError(known, message || `server sent ERROR ${code}`);
  // Keep the raw value too: a server may send a code outside RFC 1350's table.
  (err as TftpError & { remoteCode: number }).remoteCode = code;
  return err;
}

export class TransferTimeoutError extends Error {
  readonly code = 'TFTP_CLIENT_TIMEOUT';
  constructor(attempts: number, timeoutMs: number) {
    super(`no answer after ${attempts} attempts ${timeoutMs} ms apart`);
    this.name = 'TransferTimeoutError';
  }
}

export class TransferAbortedError extends Error {
  readonly code = 'TFTP_CLIENT_ABORTED';
  constructor(reason?: unknown) {
    super('transfer aborted', reason === undefined ? undefined : { cause: reason });
    this.name = 'TransferAbortedError';
  }
}
