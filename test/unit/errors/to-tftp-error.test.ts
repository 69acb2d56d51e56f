import { describe, expect, test } from 'vitest';
import { toTftpError } from '../../../gateway/src/errors/to-tftp-error.js';
import { ErrorCode, TftpError, toWireError } from '../../../gateway/src/protocol/error-codes.js';
import { ObjectStoreError } from '../../../gateway/src/objects/object-store.js';
import { OutsideRootError } from '../../../gateway/src/sources/beneath.js';
import { FunctionFailure, functionFailed } from '../../../gateway/src/runtime/function-failure.js';
import { outcomeFor } from '../../../gateway/src/session/outcome.js';

const errno = (code: string) => Object.assign(new Error(`${code}: /srv/secret/path`), { code });

// failure, ERROR code, wire text, stable code, outcome mid-transfer
const CASES: [string, unknown, number, string, string, string][] = [
  ['ENOENT', errno('ENOENT'), 1, 'file not found', 'TFTP_FILE_NOT_FOUND', 'upstream-error'],
  ['ENOTDIR', errno('ENOTDIR'), 1, 'file not found', 'TFTP_FILE_NOT_FOUND', 'upstream-error'],
  ['EACCES', errno('EACCES'), 2, 'access violation', 'TFTP_ACCESS_VIOLATION', 'upstream-error'],
  ['EPERM', errno('EPERM'), 2, 'access violation', 'TFTP_ACCESS_VIOLATION', 'upstream-error'],
  ['ELOOP', errno('ELOOP'), 2, 'access violation', 'TFTP_ACCESS_VIOLATION', 'upstream-error'],
  ['ENOSPC', errno('ENOSPC'), 3, 'disk full', 'TFTP_DISK_FULL', 'upstream-error'],
  ['EDQUOT', errno('EDQUOT'), 3, 'disk full', 'TFTP_DISK_FULL', 'upstream-error'],
  ['EEXIST', errno('EEXIST'), 6, 'file already exists', 'TFTP_FILE_EXISTS', 'upstream-error'],
  ['EIO (unclassified errno)', errno('EIO'), 0, 'internal error', 'TFTP_UPSTREAM_FAILED', 'upstream-error'],
  ['a file outside the root', new OutsideRootError('/etc/passwd'), 2, 'access violation', 'TFTP_ACCESS_VIOLATION', 'upstream-error'],
  ['object not found', new ObjectStoreError('not-found', 'bucket/key'), 1, 'file not found', 'TFTP_FILE_NOT_FOUND', 'upstream-error'],
  ['object denied', new ObjectStoreError('denied', 'bucket/key'), 2, 'access violation', 'TFTP_ACCESS_VIOLATION', 'upstream-error'],
  ['object store unavailable', new ObjectStoreError('unavailable', 'bucket/key'), 0, 'upstream unavailable', 'TFTP_UPSTREAM_FAILED', 'upstream-error'],
  ['object changed', new ObjectStoreError('changed', 'bucket/key'), 0, 'upstream unavailable', 'TFTP_UPSTREAM_FAILED', 'upstream-error'],
  ['a function threw', new FunctionFailure('threw', 'TypeError: x'), 0, 'internal error', 'TFTP_FUNCTION_FAILED', 'function-error'],
  ['a function timed out', new FunctionFailure('timeout', 'took 5000 ms'), 0, 'internal error', 'TFTP_FUNCTION_FAILED', 'function-error'],
  ['a function is busy', new FunctionFailure('busy', 'queue full'), 0, 'server busy, try again later', 'TFTP_FUNCTION_FAILED', 'function-error'],
  ['a function is not loaded', new FunctionFailure('unavailable', 'no version'), 0, 'function unavailable', 'TFTP_FUNCTION_FAILED', 'function-error'],
  ['a plain Error', new Error('connect ECONNREFUSED password=hunter2'), 0, 'internal error', 'TFTP_UPSTREAM_FAILED', 'upstream-error'],
  ['a thrown string', 'boom', 0, 'internal error', 'TFTP_UPSTREAM_FAILED', 'upstream-error'],
  ['undefined', undefined, 0, 'internal error', 'TFTP_UPSTREAM_FAILED', 'upstream-error'],
  ['an errno named like an Object method', errno('constructor'), 0, 'internal error', 'TFTP_UPSTREAM_FAILED', 'upstream-error'],
];

describe('toTftpError', () => {
  test.each(CASES)('toTftpError: %s becomes ERROR %i', (_name, failure, code, text, stable, outcome) => {
    const e = toTftpError(failure);
    expect([e.tftpCode, e.message, e.code]).toEqual([code, text, stable]);
    expect(e.cause).toBe(failure);
    expect(outcomeFor(e)).toBe(outcome);
    // Before a session starts the gateway sends toWireError's answer: the same mapping.
    expect(toWireError(failure)).toEqual({ code, message: text });
  });

  test('toTftpError: a TftpError passes through unchanged', () => {
    const e = new TftpError(ErrorCode.FileNotFound, 'no config for this MAC');
    expect(toTftpError(e)).toBe(e);
    expect(toWireError(e)).toEqual({ code: 1, message: 'no config for this MAC' });
  });

  test('toTftpError: a function failure rebuilt across a thread (no class, same name and kind) maps the same', () => {
    const plain = { name: 'FunctionFailure', kind: 'threw', message: 'x' };
    expect(toTftpError(plain).toJSON()).toEqual({ tftpCode: 0, code: 'TFTP_FUNCTION_FAILED', message: 'internal error' });
  });

  test('functionFailed: keeps the details in cause only', () => {
    const e = functionFailed('threw', 'secret detail');
    expect([e.tftpCode, e.message, e.code]).toEqual([0, 'internal error', 'TFTP_FUNCTION_FAILED']);
    expect(e.cause).toBeInstanceOf(FunctionFailure);
    expect((e.cause as FunctionFailure).kind).toBe('threw');
  });
});
