import { describe, expect, it } from 'vitest';
import { classifyS3Error } from '../../../gateway/src/objects/s3-store.js';
import { ObjectStoreError } from '../../../gateway/src/objects/object-store.js';

/** An error shaped like the AWS SDK v3's service exceptions. */
function sdkError(name: string, status: number | undefined, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(`${name} message`), { name, $fault: 'client', $metadata: { httpStatusCode: status, attempts: 1 }, ...extra });
}

/** A Node network error (no $metadata: the request never got a reply). */
function netError(code: string): Error {
  return Object.assign(new Error(`connect ${code} 127.0.0.1:9`), { code, errno: -1, syscall: 'connect' });
}

describe('classifyS3Error', () => {
  it.each([
    ['NoSuchKey', 404, 'not-found'],
    ['NotFound', 404, 'not-found'], // HEAD: no body, the SDK names it from the status
    ['NoSuchBucket', 404, 'not-found'],
    ['NoSuchVersion', 404, 'not-found'],
    ['NoSuchVersion', 400, 'not-found'], // S3 answers a malformed version id with 400
    ['Unknown', 404, 'not-found'],
    ['AccessDenied', 403, 'denied'],
    ['InvalidAccessKeyId', 403, 'denied'],
    ['SignatureDoesNotMatch', 403, 'denied'],
    ['Unknown', 403, 'denied'], // HEAD with bad credentials: status only
    ['PreconditionFailed', 412, 'changed'],
    ['Unknown', 412, 'changed'], // HEAD/GET with If-Match and no parsed body
    ['SlowDown', 503, 'unavailable'],
    ['ServiceUnavailable', 503, 'unavailable'],
    ['InternalError', 500, 'unavailable'],
    ['TooManyRequests', 429, 'unavailable'],
    ['InvalidRange', 416, 'unavailable'],
  ] as const)('an SDK %s error with HTTP %s is %s', (name, status, kind) => {
    const e = classifyS3Error(sdkError(name, status), 'S3 GetObject s3://b/k');
    expect(e).toBeInstanceOf(ObjectStoreError);
    expect(e.kind).toBe(kind);
    expect(e.message).toContain('s3://b/k');
    expect(e.message).toContain(name);
  });

  it.each(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN'])('a network error %s is unavailable', (code) => {
    const e = classifyS3Error(netError(code));
    expect(e.kind).toBe('unavailable');
    expect(e.message).toContain(code);
  });

  it('timeouts and aborts are unavailable', () => {
    expect(classifyS3Error(Object.assign(new Error('timed out'), { name: 'TimeoutError', code: 'ETIMEDOUT' })).kind).toBe('unavailable');
    expect(classifyS3Error(Object.assign(new Error('aborted'), { name: 'AbortError' })).kind).toBe('unavailable');
    expect(classifyS3Error(new DOMException('signal timed out', 'TimeoutError')).kind).toBe('unavailable');
  });

  it('anything else, even a non-error, is unavailable', () => {
    expect(classifyS3Error(undefined).kind).toBe('unavailable');
    expect(classifyS3Error('boom').kind).toBe('unavailable');
    expect(classifyS3Error(new TypeError('x')).kind).toBe('unavailable');
  });

  it('passes an ObjectStoreError through unchanged', () => {
    const orig = new ObjectStoreError('changed', 'already classified');
    expect(classifyS3Error(orig)).toBe(orig);
  });

  it('never copies credentials or the signed string from the SDK error into the result', () => {
    const leaky = sdkError('SignatureDoesNotMatch', 403, {
      AWSAccessKeyId: 'AKIASECRETKEYID',
      StringToSign: 'AWS4-HMAC-SHA256\n20260101T000000Z\nsecret-scope',
      message: 'The request signature we calculated does not match (AKIASECRETKEYID)',
    });
    const e = classifyS3Error(leaky, 'S3 HeadObject s3://b/k');
    expect(e.kind).toBe('denied');
    const text = `${e.message} ${JSON.stringify(e)} ${String(e.cause ?? '')} ${JSON.stringify(e.cause ?? null)}`;
    expect(text).not.toContain('AKIASECRETKEYID');
    expect(text).not.toContain('secret-scope');
  });
});
