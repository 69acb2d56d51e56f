/**
 * Every fixed text the gateway puts in an ERROR packet, with its code, in one table.
 *
 * RFC 1350 section 5: an ERROR carries a code and a human-readable message. The texts are
 * fixed strings on purpose: never a path, bucket, key or exception text on the wire
 * (docs/FIELD-NOTES: "never echo internals"). The details of a failure travel in
 * `TftpError.cause`, to the logs and the session record only. A test pins the bytes of
 * each entry (test/unit/errors/wire-texts.test.ts); a new text goes here and there.
 *
 * Texts built from the request (a malformed packet's reason, "invalid value for option X")
 * are not in this table: they name only what the client itself sent.
 */
import { ErrorCode } from '../protocol/tftp-error.js';

export interface WireText {
  readonly code: ErrorCode;
  readonly text: string;
}

export const WIRE_TEXT = {
  // ERROR 0: RFC 1350 "not defined, see error message".
  internalError: { code: ErrorCode.NotDefined, text: 'internal error' },
  upstreamUnavailable: { code: ErrorCode.NotDefined, text: 'upstream unavailable' },
  fileChanged: { code: ErrorCode.NotDefined, text: 'file changed during transfer' },
  uploadEnded: { code: ErrorCode.NotDefined, text: 'upload already ended' },
  busy: { code: ErrorCode.NotDefined, text: 'server busy, try again later' },
  functionUnavailable: { code: ErrorCode.NotDefined, text: 'function unavailable' },
  shuttingDown: { code: ErrorCode.NotDefined, text: 'server shutting down' },
  tooManyFromClient: { code: ErrorCode.NotDefined, text: 'too many sessions from this client' },
  tooManyFromNetwork: { code: ErrorCode.NotDefined, text: 'too many sessions from this network' },
  transferTooSlow: { code: ErrorCode.NotDefined, text: 'transfer too slow' },
  transferTooLong: { code: ErrorCode.NotDefined, text: 'transfer took too long' },
  fileNotFound: { code: ErrorCode.FileNotFound, text: 'file not found' },
  accessViolation: { code: ErrorCode.AccessViolation, text: 'access violation' },
  writesDisabled: { code: ErrorCode.AccessViolation, text: 'writes are disabled' },
  diskFull: { code: ErrorCode.DiskFull, text: 'disk full' },
  uploadTooLarge: { code: ErrorCode.DiskFull, text: 'upload too large' },
  fileTooLarge: { code: ErrorCode.DiskFull, text: 'file too large' },
  blockTooLarge: { code: ErrorCode.IllegalOperation, text: 'block larger than blksize' },
  unknownTransferId: { code: ErrorCode.UnknownTransferId, text: 'unknown transfer id' },
  fileExists: { code: ErrorCode.FileExists, text: 'file already exists' },
} as const satisfies Record<string, WireText>;

export type WireTextName = keyof typeof WIRE_TEXT;

/**
 * The one text for a failure nobody classified (an exception from a source, a handler or the
 * gateway itself): the same before the session starts and after its first block.
 */
export const FALLBACK: WireText = WIRE_TEXT.internalError;
