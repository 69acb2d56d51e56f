/**
 * S3 and network failures mapped to the kinds the gateway acts on (object-store.ts), in words
 * safe for logs: shared by the read store (s3-store.ts) and the upload store (upload-s3.ts).
 */
import { ObjectStoreError, type ObjectErrorKind } from './object-store.js';

/** S3 error names (the SDK's `name`, from the body's <Code> or, for bodiless HEAD replies, the status). */
const NOT_FOUND = new Set(['NoSuchKey', 'NotFound', 'NoSuchBucket', 'NoSuchVersion']);
const DENIED = new Set(['AccessDenied', 'Forbidden', 'InvalidAccessKeyId', 'SignatureDoesNotMatch']);
const CHANGED = new Set(['PreconditionFailed']);

export interface SdkErrorShape {
  name?: string;
  Code?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

/** What went wrong, in words safe for logs: error name/code and HTTP status only. */
function describe(e: unknown): string {
  const err = (e ?? {}) as SdkErrorShape;
  const name = err.Code ?? err.name ?? 'Error';
  const status = err.$metadata?.httpStatusCode;
  const errno = err.code && err.code !== name ? ` ${err.code}` : '';
  return `${name}${errno}${status ? ` (HTTP ${status})` : ''}`;
}

/**
 * Maps an SDK or network error to the kind the gateway acts on. Anything not known to be
 * final (timeouts, resets, refused connections, throttling, 5xx, aborts) is 'unavailable',
 * so the gateway retries it rather than telling a booting machine the file does not exist.
 */
export function classifyS3Error(e: unknown, what = 'S3 request'): ObjectStoreError {
  if (e instanceof ObjectStoreError) return e;
  const err = (e ?? {}) as SdkErrorShape;
  const names = [err.Code, err.name, err.code].filter((n): n is string => typeof n === 'string');
  const status = err.$metadata?.httpStatusCode;
  let kind: ObjectErrorKind = 'unavailable';
  if (names.some((n) => NOT_FOUND.has(n)) || status === 404) kind = 'not-found';
  else if (names.some((n) => DENIED.has(n)) || status === 403) kind = 'denied';
  else if (names.some((n) => CHANGED.has(n)) || status === 412) kind = 'changed';
  return new ObjectStoreError(kind, `${what}: ${describe(e)}`);
}

