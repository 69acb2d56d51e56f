import { describe, expect, it } from 'vitest';
import {
  bytes,
  denied,
  error,
  file,
  isResponse,
  notFound,
  stream,
  text,
  type TftpErrorCode,
} from '../../../sdk/response.js';

async function* chunks(): AsyncGenerator<Uint8Array> {
  yield new Uint8Array([1]);
}

describe('response helpers', () => {
  it('text: encodes UTF-8 and declares the byte size, not the string length', () => {
    const r = text('héllo\n');
    expect(r.kind).toBe('bytes');
    expect(Buffer.from(r.body).toString('utf8')).toBe('héllo\n');
    expect(r.size).toBe(7);
  });

  it('text: an empty string is a valid empty file', () => {
    expect(text('')).toMatchObject({ kind: 'bytes', size: 0 });
  });

  it('text: throws a TypeError on a non-string', () => {
    expect(() => text(42 as unknown as string)).toThrow(TypeError);
  });

  it('bytes: copies the input, so changing it afterwards changes nothing', () => {
    const input = new Uint8Array([1, 2, 3]);
    const r = bytes(input);
    input[0] = 9;
    expect([...r.body]).toEqual([1, 2, 3]);
    expect(r.size).toBe(3);
  });

  it('bytes: accepts a Buffer view into a larger pool and keeps only its bytes', () => {
    const r = bytes(Buffer.from('abc'));
    expect(r.body.byteLength).toBe(3);
    expect(r.body.buffer.byteLength).toBe(3);
    expect(r.size).toBe(3);
  });

  it('bytes: throws a TypeError on a string or a plain array', () => {
    expect(() => bytes('abc' as unknown as Uint8Array)).toThrow(TypeError);
    expect(() => bytes([1, 2] as unknown as Uint8Array)).toThrow(TypeError);
  });

  it('stream: takes an async iterable with or without a size', () => {
    expect(stream(chunks())).toMatchObject({ kind: 'stream', size: undefined });
    expect(stream(chunks(), { size: 1 })).toMatchObject({ kind: 'stream', size: 1 });
  });

  it('stream: takes a ReadableStream', () => {
    const body = new ReadableStream<Uint8Array>();
    expect(stream(body).body).toBe(body);
  });

  it('stream: throws a TypeError on a non-stream or a bad size', () => {
    expect(() => stream('abc' as unknown as AsyncIterable<Uint8Array>)).toThrow(TypeError);
    expect(() => stream([new Uint8Array(1)] as unknown as AsyncIterable<Uint8Array>)).toThrow(TypeError);
    expect(() => stream(chunks(), { size: -1 })).toThrow(TypeError);
    expect(() => stream(chunks(), { size: 1.5 })).toThrow(TypeError);
    expect(() => stream(chunks(), { size: NaN })).toThrow(TypeError);
  });

  it('file: keeps a relative path, dropping "." and empty segments', () => {
    expect(file('boot/grub.cfg')).toEqual({ kind: 'file', path: 'boot/grub.cfg' });
    expect(file('./boot//grub.cfg')).toEqual({ kind: 'file', path: 'boot/grub.cfg' });
  });

  it.each(['/etc/passwd', '../secret', 'a/../../b', 'a/..', 'C:/x', 'c:x', 'a\\b', '', '.', './/', 'a\0b'])(
    'file: refuses %j with a TypeError at build time',
    (path) => {
      expect(() => file(path)).toThrow(TypeError);
    },
  );

  it('file: allows names that merely contain dots', () => {
    expect(file('a..b/.hidden/x...').path).toBe('a..b/.hidden/x...');
  });

  it('notFound: is ERROR 1 with a default or given message', () => {
    expect(notFound()).toEqual({ kind: 'error', code: 1, message: 'file not found' });
    expect(notFound('no config for this machine')).toEqual({ kind: 'error', code: 1, message: 'no config for this machine' });
  });

  it('denied: is ERROR 2 with a default or given message', () => {
    expect(denied()).toEqual({ kind: 'error', code: 2, message: 'access violation' });
    expect(denied('lab only')).toEqual({ kind: 'error', code: 2, message: 'lab only' });
  });

  it('error: takes every code from 0 to 8', () => {
    for (let code = 0; code <= 8; code++) {
      expect(error(code as TftpErrorCode, 'x')).toEqual({ kind: 'error', code, message: 'x' });
    }
  });

  it.each([-1, 9, 1.5, NaN, '1'])('error: refuses code %j with a TypeError', (code) => {
    expect(() => error(code as TftpErrorCode, 'x')).toThrow(TypeError);
  });

  it('error: refuses a message with a NUL, which would cut the ERROR packet short', () => {
    expect(() => error(0, 'a\0b')).toThrow(TypeError);
    expect(() => error(0, undefined as unknown as string)).toThrow(TypeError);
  });
});

describe('structured clone (what crosses worker_threads)', () => {
  it.each([
    ['text', text('héllo')],
    ['bytes', bytes(new Uint8Array([0, 255, 7]))],
    ['file', file('boot/x')],
    ['notFound', notFound()],
    ['denied', denied('no')],
    ['error', error(3, 'full')],
  ])('structured clone: a %s response survives and is still a valid response', (_what, r) => {
    const copy = structuredClone(r);
    expect(copy).toEqual(r);
    expect(isResponse(copy)).toBe(true);
  });

  it('structured clone: a bytes body can be transferred, since bytes() owns its copy', () => {
    const r = bytes(Buffer.from('abc'));
    const copy = structuredClone(r, { transfer: [r.body.buffer] });
    expect(Buffer.from(copy.body).toString()).toBe('abc');
    expect(isResponse(copy)).toBe(true);
  });

  it('structured clone: a stream body does not clone; the runtime sends its chunks instead', () => {
    expect(() => structuredClone(stream(chunks()))).toThrow();
  });
});
