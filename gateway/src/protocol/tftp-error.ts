/**
 * TFTP error codes (RFC 1350 section 5, RFC 2347 for code 8) and the one error
 * class that crosses every boundary in the gateway. Import it from protocol/error-codes.ts;
 * this file is separate only so that errors/to-tftp-error.ts can build TftpErrors without an
 * import cycle (error-codes.ts's toWireError delegates to it).
 *
 * A TftpError carries three things kept deliberately apart:
 *  - `tftpCode`: what goes in the ERROR packet,
 *  - `code`: a stable string for logs, stats and matching across worker threads
 *    (errors lose their class over postMessage, so match on `code`),
 *  - `message`: text that is safe to put on the wire (never a path, bucket or stack);
 *    the original failure travels in `cause`, for logs only.
 */
export const ErrorCode = {
  NotDefined: 0,
  FileNotFound: 1,
  AccessViolation: 2,
  DiskFull: 3,
  IllegalOperation: 4,
  UnknownTransferId: 5,
  FileExists: 6,
  NoSuchUser: 7,
  OptionRefused: 8,
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export type TftpErrorCodeName =
  | 'TFTP_NOT_DEFINED'
  | 'TFTP_FILE_NOT_FOUND'
  | 'TFTP_ACCESS_VIOLATION'
  | 'TFTP_DISK_FULL'
  | 'TFTP_ILLEGAL_OPERATION'
  | 'TFTP_UNKNOWN_TRANSFER_ID'
  | 'TFTP_FILE_EXISTS'
  | 'TFTP_NO_SUCH_USER'
  | 'TFTP_OPTION_REFUSED'
  /** A datagram that does not parse; answered with ERROR 4 or dropped. */
  | 'TFTP_MALFORMED_PACKET'
  /** A source or handler failed; ERROR 0 with a generic text. */
  | 'TFTP_UPSTREAM_FAILED'
  /** User function code threw, hung, crashed or returned nonsense; ERROR 0 "internal error". */
  | 'TFTP_FUNCTION_FAILED';

const DEFAULT_NAME: Record<ErrorCode, TftpErrorCodeName> = {
  0: 'TFTP_NOT_DEFINED',
  1: 'TFTP_FILE_NOT_FOUND',
  2: 'TFTP_ACCESS_VIOLATION',
  3: 'TFTP_DISK_FULL',
  4: 'TFTP_ILLEGAL_OPERATION',
  5: 'TFTP_UNKNOWN_TRANSFER_ID',
  6: 'TFTP_FILE_EXISTS',
  7: 'TFTP_NO_SUCH_USER',
  8: 'TFTP_OPTION_REFUSED',
};

export class TftpError extends Error {
  readonly tftpCode: ErrorCode;
  readonly code: TftpErrorCodeName;

  constructor(tftpCode: ErrorCode, message: string, opts: { code?: TftpErrorCodeName; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'TftpError';
    this.tftpCode = tftpCode;
    this.code = opts.code ?? DEFAULT_NAME[tftpCode];
  }

  /** Plain form for postMessage; rebuild with {@link TftpError.fromJSON}. */
  toJSON(): { tftpCode: ErrorCode; code: TftpErrorCodeName; message: string } {
    return { tftpCode: this.tftpCode, code: this.code, message: this.message };
  }

  static fromJSON(v: { tftpCode: number; code?: string; message: string }): TftpError {
    const tftpCode = (v.tftpCode >= 0 && v.tftpCode <= 8 ? v.tftpCode : 0) as ErrorCode;
    return new TftpError(tftpCode, v.message, { code: v.code as TftpErrorCodeName | undefined });
  }
}

export const malformed = (why: string): TftpError =>
  new TftpError(ErrorCode.IllegalOperation, why, { code: 'TFTP_MALFORMED_PACKET' });

