/**
 * The one boundary where a failure becomes a TFTP error: whatever a source, a handler, user
 * code or the gateway itself throws, before the session starts or after its first block, goes
 * through {@link toTftpError} and reaches the wire as a fixed text from errors/wire-texts.ts.
 *
 * Classification (docs/ARCHITECTURE.md "Errors"):
 *  - a TftpError is already classified: kept as it is;
 *  - a function failure (runtime): ERROR 0, "server busy…" / "function unavailable" /
 *    "internal error" by kind, stable code TFTP_FUNCTION_FAILED (outcome function-error);
 *  - an object store error: not-found → 1, denied → 2, anything else → 0 "upstream unavailable";
 *  - a file outside the root (sources/beneath.ts) → 2;
 *  - a file system errno: ENOENT/ENOTDIR → 1, EACCES/EPERM/ELOOP → 2, ENOSPC/EDQUOT → 3,
 *    EEXIST → 6;
 *  - anything else → ERROR 0 with the one fallback text ("internal error").
 * The original failure is always kept in `cause`, for logs and the session record only.
 *
 * Errors are matched on `name`, `kind` and `code`, not `instanceof`: errors rebuilt across a
 * worker or sandbox boundary lose their class (STYLE.md; undici's UND_ERR_* codes), and this
 * file stays free of the modules that throw them.
 */
import { TftpError, type TftpErrorCodeName } from '../protocol/tftp-error.js';
import type { ObjectErrorKind } from '../objects/object-store.js';
import type { FailureKind } from './function-failure.js';
import { FALLBACK, WIRE_TEXT, type WireText } from './wire-texts.js';

/** A TftpError with a text from the table; `code` defaults to the RFC code's name. */
export function wireError(wire: WireText, opts: { code?: TftpErrorCodeName; cause?: unknown } = {}): TftpError {
  return new TftpError(wire.code, wire.text, opts);
}

const FS_ERRNO = new Map<string, WireText>([
  ['ENOENT', WIRE_TEXT.fileNotFound],
  ['ENOTDIR', WIRE_TEXT.fileNotFound],
  ['EACCES', WIRE_TEXT.accessViolation],
  ['EPERM', WIRE_TEXT.accessViolation],
  ['ELOOP', WIRE_TEXT.accessViolation],
  ['ENOSPC', WIRE_TEXT.diskFull],
  ['EDQUOT', WIRE_TEXT.diskFull],
  ['EEXIST', WIRE_TEXT.fileExists],
]);

/** The wire text of a failed invocation: the client learns nothing about the function. */
export function functionFailureText(kind: FailureKind): WireText {
  if (kind === 'busy') return WIRE_TEXT.busy;
  if (kind === 'unavailable') return WIRE_TEXT.functionUnavailable;
  return WIRE_TEXT.internalError;
}

function objectStoreText(kind: ObjectErrorKind): WireText {
  if (kind === 'not-found') return WIRE_TEXT.fileNotFound;
  if (kind === 'denied') return WIRE_TEXT.accessViolation;
  return WIRE_TEXT.upstreamUnavailable;
}

export function toTftpError(e: unknown): TftpError {
  if (e instanceof TftpError) return e;
  const err = e as { name?: unknown; kind?: unknown; code?: unknown } | null | undefined;
  const name = typeof err?.name === 'string' ? err.name : undefined;
  if (name === 'FunctionFailure' && typeof err?.kind === 'string') {
    return wireError(functionFailureText(err.kind as FailureKind), { code: 'TFTP_FUNCTION_FAILED', cause: e });
  }
  if (name === 'ObjectStoreError' && typeof err?.kind === 'string') {
    const wire = objectStoreText(err.kind as ObjectErrorKind);
    return wireError(wire, { code: wire.code === 0 ? 'TFTP_UPSTREAM_FAILED' : undefined, cause: e });
  }
  if (name === 'OutsideRootError') return wireError(WIRE_TEXT.accessViolation, { cause: e });
  const errno = typeof err?.code === 'string' ? FS_ERRNO.get(err.code) : undefined;
  if (errno) return wireError(errno, { cause: e });
  return wireError(FALLBACK, { code: 'TFTP_UPSTREAM_FAILED', cause: e });
}
