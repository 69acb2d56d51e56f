import { describe, expect, test } from 'vitest';
import { toTftpError, wireError } from '../../../gateway/src/errors/to-tftp-error.js';
import { WIRE_TEXT } from '../../../gateway/src/errors/wire-texts.js';
import { ErrorCode, TftpError } from '../../../gateway/src/protocol/error-codes.js';
import { functionFailed } from '../../../gateway/src/runtime/function-failure.js';
import { outcomeFor, refusalOutcome, withOutcome } from '../../../gateway/src/session/outcome.js';

const codes = Object.values(ErrorCode);

describe('session outcomes', () => {
  test('outcome: a source failure mid-session is function-error for user code, upstream-error for everything else', () => {
    expect(outcomeFor(functionFailed('threw', 'x'))).toBe('function-error');
    expect(outcomeFor(functionFailed('busy', 'x'))).toBe('function-error');
    for (const code of codes) expect(outcomeFor(new TftpError(code, 'x'))).toBe('upstream-error');
    expect(outcomeFor(toTftpError(new Error('boom')))).toBe('upstream-error');
  });
});

describe('refusalOutcome', () => {
  test('refusalOutcome: a request refused before any session gets the outcome of its ERROR code; user code failing is function-error', () => {
    expect([1, 2, 3, 4, 8, 0, 5, 6].map((c) => refusalOutcome(c))).toEqual(['not-found', 'denied', 'disk-full', 'illegal-operation', 'refused', 'upstream-error', 'upstream-error', 'upstream-error']);
    expect(refusalOutcome(0, { code: 'TFTP_FUNCTION_FAILED' })).toBe('function-error');
    expect(refusalOutcome(1, { code: 'TFTP_FUNCTION_FAILED' })).toBe('function-error');
  });

  test('refusalOutcome: an ERROR 0 refusal named busy (an upload past maxUploadsPerClient) is busy; any other ERROR 0 upstream-error, whatever its text', () => {
    const refused = withOutcome(wireError(WIRE_TEXT.tooManyFromClient), 'busy');
    expect(refused).toMatchObject({ tftpCode: 0, message: 'too many sessions from this client', outcome: 'busy' });
    expect(refusalOutcome(0, refused)).toBe('busy');
    expect(refusalOutcome(0, wireError(WIRE_TEXT.tooManyFromClient))).toBe('upstream-error');
    expect(refusalOutcome(0, wireError(WIRE_TEXT.upstreamUnavailable))).toBe('upstream-error');
    // A function's own failure stays function-error.
    expect(refusalOutcome(0, withOutcome({ code: 'TFTP_FUNCTION_FAILED' }, 'busy'))).toBe('function-error');
  });
});
