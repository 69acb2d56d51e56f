import { describe, expect, test } from 'vitest';
import { toTftpError } from '../../../gateway/src/errors/to-tftp-error.js';
import { ErrorCode, TftpError } from '../../../gateway/src/protocol/error-codes.js';
import { functionFailed } from '../../../gateway/src/runtime/function-failure.js';
import { outcomeFor, refusalOutcomeFor } from '../../../gateway/src/session/outcome.js';
import { refusalOutcome } from '../../../gateway/src/stats/session-record.js';

const codes = Object.values(ErrorCode);

describe('session outcomes', () => {
  test('outcome: a source failure mid-session is function-error for user code, upstream-error for everything else', () => {
    expect(outcomeFor(functionFailed('threw', 'x'))).toBe('function-error');
    expect(outcomeFor(functionFailed('busy', 'x'))).toBe('function-error');
    for (const code of codes) expect(outcomeFor(new TftpError(code, 'x'))).toBe('upstream-error');
    expect(outcomeFor(toTftpError(new Error('boom')))).toBe('upstream-error');
  });

  test('outcome: a refusal is named by its ERROR code, as the session record names it', () => {
    expect(codes.map((code) => refusalOutcomeFor(new TftpError(code, 'x')))).toEqual([
      'upstream-error',
      'not-found',
      'denied',
      'disk-full',
      'illegal-operation',
      'upstream-error',
      'upstream-error',
      'upstream-error',
      'refused',
    ]);
    expect(refusalOutcomeFor(functionFailed('unavailable', 'x'))).toBe('function-error');
    // The same answers as stats/session-record.ts refusalOutcome, which can delegate to it.
    for (const code of codes) expect(refusalOutcomeFor(new TftpError(code, 'x'))).toBe(refusalOutcome(code, new TftpError(code, 'x')));
    expect(refusalOutcome(0, functionFailed('threw', 'x'))).toBe(refusalOutcomeFor(functionFailed('threw', 'x')));
  });
});
