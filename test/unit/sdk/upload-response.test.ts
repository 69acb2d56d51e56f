/**
 * The write-side responses (issue 15): s3Put() and discard() in the SDK, their checks, the
 * worker messages that carry them, and the config that turns uploads on per function.
 */
import { describe, expect, test } from 'vitest';
import { accepted, discard, invoke, isResponse, responseProblem, s3Put, text } from '../../../sdk/index.js';
import { checkFromWorker } from '../../../gateway/src/runtime/message-check.js';
import { parseConfig } from '../../../gateway/src/config/load.js';

describe('s3Put and discard', () => {
  test('s3Put: builds a put response; contentType is optional', () => {
    expect(s3Put({ bucket: 'backups', key: 'a/b.cfg' })).toEqual({ kind: 'put', bucket: 'backups', key: 'a/b.cfg', contentType: undefined });
    expect(s3Put({ bucket: 'backups', key: 'x', contentType: 'text/plain' }).contentType).toBe('text/plain');
    expect(isResponse(s3Put({ bucket: 'backups', key: 'x' }))).toBe(true);
    expect(discard()).toEqual({ kind: 'discard' });
    expect(isResponse(discard())).toBe(true);
  });

  test.each([
    [{ bucket: 'Bad_Bucket', key: 'x' }, /bucket must be a valid bucket name/],
    [{ bucket: 'backups', key: '' }, /key must be a non-empty string/],
    [{ bucket: 'backups', key: 'a/../b' }, /must not contain a "\.\." segment/],
    [{ bucket: 'backups', key: 'x', contentType: 'text/plain\r\nX-Evil: 1' }, /contentType must be printable ASCII/],
  ])('s3Put: refuses %j', (ref, message) => {
    expect(() => s3Put(ref as never)).toThrow(message);
    expect(responseProblem({ kind: 'put', ...ref })).toMatch(message);
  });

  test('invoke: a read answered with s3Put() is an internal error; a write with discard() stores nothing', async () => {
    const asRead = await invoke(() => s3Put({ bucket: 'backups', key: 'x' }), 'x');
    expect(asRead.errorCode).toBe(0);
    const dropped = await invoke(() => discard(), { path: 'x', kind: 'write', body: 'abc' });
    expect(dropped.errorCode).toBeUndefined();
    expect(dropped.stored).toBeUndefined();
  });

  test('invoke: a handler that read request.body cannot then answer s3Put() (as in the gateway): ERROR 0, a bad response', async () => {
    const result = await invoke(
      async (request) => {
        let n = 0;
        for await (const chunk of request.body!) n += chunk.byteLength;
        return n === 3 ? s3Put({ bucket: 'backups', key: 'x' }) : text('?');
      },
      { path: 'x', kind: 'write', body: new Uint8Array([1, 2, 3]) },
    );
    expect(result.stored).toBeUndefined();
    expect(result.errorCode).toBe(0);
    expect(String((result.thrown as Error).message)).toMatch(/must answer accepted\(\) or an error, got a put response/);
  });
});

describe('invoke: write bodies as the gateway hands them over', () => {
  // A body given as one chunk larger than the credit window (256 KiB) once waited forever:
  // the harness now hands it over in the gateway's 64 KiB messages.
  const reader = async (request: { body?: AsyncIterable<Uint8Array> }) => {
    let bytes = 0;
    let largest = 0;
    for await (const c of request.body!) {
      bytes += c.byteLength;
      largest = Math.max(largest, c.byteLength);
    }
    return `${bytes} ${largest}`;
  };

  test.each([1000, 262_145, 1_000_003])('invoke: a %i-byte body in one chunk reaches a reading handler whole, in chunks of at most 64 KiB; also with maxUploadBytes and tsize', async (size) => {
    const body = new Uint8Array(size).fill(7);
    let seen = '';
    const r = await invoke(
      async (request) => {
        seen = await reader(request);
        return accepted();
      },
      { path: 'x', kind: 'write', body, options: { tsize: String(size) } },
      {},
      { maxUploadBytes: size },
    );
    expect(r.received).toBe(size);
    expect(r.errorCode).toBeUndefined();
    expect(r.response?.kind).toBe('accepted');
    expect(seen).toBe(`${size} ${Math.min(size, 65_536)}`);
  });

  test('invoke: a declared tsize above maxUploadBytes is ERROR 3 before the handler runs; an s3Put() body past it is ERROR 3', async () => {
    let ran = false;
    const early = await invoke(() => ((ran = true), accepted()), { path: 'x', kind: 'write', body: 'abcdef', options: { tsize: '6' } }, {}, { maxUploadBytes: 5 });
    expect(early).toMatchObject({ errorCode: 3, errorMessage: 'upload too large', request: { tsize: 6 } });
    expect(ran).toBe(false);
    const put = await invoke(() => s3Put({ bucket: 'backups', key: 'k' }), { path: 'x', kind: 'write', body: 'abcdef' }, {}, { maxUploadBytes: 5 });
    expect(put).toMatchObject({ errorCode: 3, errorMessage: 'upload too large' });
    expect(put.stored).toBeUndefined();
  });
});

describe('put and discard across the worker boundary', () => {
  test('message check: put and discard messages are accepted when well-formed', () => {
    expect(typeof checkFromWorker({ t: 'put', id: 1, bucket: 'backups', key: 'a/b' })).toBe('object');
    expect(typeof checkFromWorker({ t: 'put', id: 1, bucket: 'backups', key: 'a/b', contentType: 'text/plain' })).toBe('object');
    expect(typeof checkFromWorker({ t: 'discard', id: 2 })).toBe('object');
    expect(typeof checkFromWorker({ t: 'put', id: 1, bucket: 'backups' })).toBe('string');
    expect(typeof checkFromWorker({ t: 'put', id: 1, bucket: 'backups', key: 'x', extra: 1 })).toBe('string');
    expect(typeof checkFromWorker({ t: 'discard', id: -1 })).toBe('string');
  });
});

describe('upload config', () => {
  test('config: writes are off by default, with the documented limits', () => {
    const c = parseConfig({ functions: { f: {} } });
    expect(c.functions.f).toMatchObject({ writes: false, maxUploadsPerClient: 4, allowOverwrite: false });
    expect(c.functions.f!.maxUploadBytes).toBeUndefined();
    expect(c).toMatchObject({ uploadPartBytes: 8 * 1024 * 1024, uploadPartsInFlight: 2, uploadSweepIntervalMs: 600_000, uploadSweepAgeMs: 6 * 3600 * 1000 });
  });

  test('config: a part below S3\'s 5 MiB minimum is refused, naming the field', () => {
    expect(() => parseConfig({ uploadPartBytes: 1024 })).toThrow(/field "uploadPartBytes"/);
    expect(() => parseConfig({ functions: { f: { writes: 'yes' } } })).toThrow(/functions\.f\.writes/);
  });
});
