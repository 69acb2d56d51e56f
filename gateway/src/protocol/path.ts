/**
 * Request paths: what the client asked for (raw) and a canonical relative form (normalised)
 * that handlers match on and the folder source resolves under its root.
 *
 * Normalising never decodes anything: "%2e%2e" stays a literal name. Inputs that could only be
 * an attempt to escape a root, or that no sane firmware sends, are refused with ERROR 2.
 */
import { ErrorCode, TftpError } from './error-codes.js';

export interface RequestPath {
  /** Exactly the filename from the RRQ/WRQ. */
  readonly raw: string;
  /** Relative, '/'-separated, no '.', '..' or empty segments; '' only when `invalid` is set. */
  readonly normalized: string;
  /**
   * Why the raw name has no normalised form. Only a handler that rewrites raw names first
   * (RequestHandler.rewritesRawPath: remap rules) ever sees such a path; it must refuse with
   * this error unless a rewrite yields a valid name.
   */
  readonly invalid?: unknown;
}

const denied = (why: string): TftpError =>
  new TftpError(ErrorCode.AccessViolation, 'access violation', { cause: new Error(why) });

// Percent-encoded '.', '/', '\' and NUL: harmless to us (we never decode) but a sure sign of a
// traversal probe aimed at servers that do, so refused outright.
const ENCODED_TRICK = /%(2e|2f|5c|00)/i;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

export function normalizePath(raw: string): RequestPath {
  if (CONTROL.test(raw)) throw denied('control character in path');
  if (raw.includes('\\')) throw denied('backslash in path');
  if (ENCODED_TRICK.test(raw)) throw denied('percent-encoded separator in path');
  if (raw.includes('\uFFFD')) throw denied('path is not valid UTF-8');
  if (/^[a-zA-Z]:/.test(raw)) throw denied('drive letter in path');
  // One or more leading slashes mean "from the root", as with tftp-hpa --secure: firmware
  // commonly asks for "/pxelinux.0". The path is never taken relative to the server's "/".
  const segments: string[] = [];
  for (const seg of raw.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') throw denied('".." in path');
    segments.push(seg);
  }
  if (segments.length === 0) throw denied('empty path');
  return { raw, normalized: segments.join('/') };
}
