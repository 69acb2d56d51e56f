/**
 * TFTP error codes (RFC 1350 section 5, RFC 2347 for code 8), the one error class that
 * crosses every boundary in the gateway (protocol/tftp-error.ts), and its wire form.
 *
 * A TftpError carries three things kept deliberately apart:
 *  - `tftpCode`: what goes in the ERROR packet,
 *  - `code`: a stable string for logs, stats and matching across worker threads
 *    (errors lose their class over postMessage, so match on `code`),
 *  - `message`: text that is safe to put on the wire (never a path, bucket or stack);
 *    the original failure travels in `cause`, for logs only.
 */
import { toTftpError } from '../errors/to-tftp-error.js';
import type { ErrorCode } from './tftp-error.js';

export { ErrorCode, malformed, TftpError, type TftpErrorCodeName } from './tftp-error.js';

/**
 * What goes on the wire for any failure: the mapping of errors/to-tftp-error.ts, so a failure
 * reads the same before a session starts and after its first block. Unknown errors become
 * ERROR 0 with the one fallback text; details stay in logs.
 */
export function toWireError(e: unknown): { code: ErrorCode; message: string } {
  const error = toTftpError(e);
  return { code: error.tftpCode, message: error.message };
}
